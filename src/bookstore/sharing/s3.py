"""Sharing on S3: presigned URLs, and a public bucket or prefix with a read-only policy.

- **Signed links** are SigV4 presigned GETs (``obstore.sign_async``) to a snapshot in
  the store. They are signed with the store's credentials and last at most 7 days
  (S3's limit). Revoking them all means rotating those credentials (a new access key):
  there is no bucket-level key to change, so ``rotate()`` says so.
- **Public links** point at a copy under ``public_prefix`` (default
  ``.bookstore/public/``, never listed as contents) of ``public_bucket`` (default: the
  store's own bucket), which Bookstore writes but does not make public:
  S3 providers differ, so the bucket owner attaches a policy allowing anonymous
  ``s3:GetObject`` on that prefix only, and no ``s3:ListBucket`` (see the README, Sharing).
  Swift's s3api implements neither bucket policies nor a public-read ACL without
  listing: there, make the bucket's container readable with Swift
  (``swift post -r '.r:*' BUCKET``) and set ``public_url`` to its Swift URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from traitlets import Unicode, validate
from traitlets.config import LoggingConfigurable

from .base import SharingNotSupported, link_content_type

#: SigV4 presigned URLs live 7 days at most.
MAX_PRESIGNED = timedelta(days=7)
#: Inside ``.bookstore/``, which a contents manager on the bucket's root keeps for itself
#: (never listed, never written through Jupyter): public copies never show among, or take
#: in, notebooks. The contents area of any store prefix is refused (``_check_apart``).
RESERVED = ".bookstore"
PUBLIC_PREFIX = f"{RESERVED}/public/"
#: The default before PUBLIC_PREFIX: copies published then are taken down from there too.
LEGACY_PREFIX = "bookstore-public/"


class S3Sharing(LoggingConfigurable):
    """Links to objects of one ``S3Store``."""

    public_bucket = Unicode(
        "", config=True, help="Bucket holding public copies (default: the store's bucket)."
    )
    public_prefix = Unicode(
        PUBLIC_PREFIX,
        config=True,
        help="Key prefix of public copies in public_bucket; the bucket policy makes exactly "
        "this prefix readable by anyone. In the store's own bucket it must not overlap the "
        "notebooks (the default is a reserved name no store lists or writes).",
    )
    public_url = Unicode(
        "",
        config=True,
        help="URL under which public_bucket's objects are read anonymously (default: "
        "ENDPOINT/BUCKET, or https://BUCKET.s3.REGION.amazonaws.com on AWS).",
    )

    max_signed_expiry: timedelta | None = MAX_PRESIGNED

    @validate("public_prefix")
    def _valid_prefix(self, proposal: Any) -> str:
        prefix = proposal["value"].strip("/")
        return f"{prefix}/" if prefix else ""

    def __init__(self, store: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self._public: dict[str, Any] = {}
        self._check_apart()

    def _check_apart(self) -> None:
        """Refuse public copies inside the notebooks (Jupyter would list them, and anything
        saved there would be world-readable) or notebooks inside the public prefix."""
        if self.bucket != self.store.bucket:
            return
        public, contents = self.public_prefix, self.store.prefix
        if contents.startswith(public) or (
            public.startswith(contents) and public[len(contents) :].split("/")[0] != RESERVED
        ):
            raise SharingNotSupported(
                f"S3Sharing.public_prefix {public!r} overlaps the notebooks under prefix "
                f"{contents!r} of bucket {self.bucket!r}: public copies would show in Jupyter "
                "and files saved there would be readable by anyone. Leave public_prefix at "
                f"its default ({PUBLIC_PREFIX!r}), or set S3Sharing.public_bucket"
            )

    @property
    def bucket(self) -> str:
        return self.public_bucket or self.store.bucket

    # --- signed ------------------------------------------------------------------------

    async def snapshot(self, src: str, dst: str, *, expires: datetime | None) -> int:
        # Through Bookstore, not CopyObject: the copy needs a browser-friendly type.
        _, data = await self.store.get(src)
        await self.store.put(dst, data, content_type=link_content_type(src))
        return len(data)

    async def sign(self, key: str, expires: datetime) -> str:
        import obstore  # the S3 extra is installed: this store runs on it

        lifetime = expires - datetime.now(UTC)
        name = self.store.prefix + key
        # TODO(S3Store): a public `presign(key, lifetime)` would spare the private access.
        client = await self.store._ready()
        with self.store._errors("sign a link to", key):
            return await obstore.sign_async(client, "GET", name, lifetime)

    async def rotate(self) -> None:
        raise SharingNotSupported(
            "S3 presigned links are revoked by rotating the store's access key "
            "(make a new key, configure it, delete the old one); Bookstore cannot do it"
        )

    # --- public ------------------------------------------------------------------------

    async def public_link(self, location: str) -> str:
        return f"{self._public_base()}/{quote(self.public_prefix + location)}"

    async def publish(self, src: str, location: str) -> tuple[str, int]:
        _, data = await self.store.get(src)
        await self._public_store().put(location, data, content_type=link_content_type(src))
        await self._drop_legacy(location)  # republished here: the old URL goes
        return await self.public_link(location), len(data)

    async def unpublish(self, location: str) -> None:
        await self._public_store().delete(location)
        await self._drop_legacy(location)

    async def _drop_legacy(self, location: str) -> None:
        # A share made under the old default prefix keeps its location (a random share
        # id and a name), so its copy there is found without any record of the prefix.
        if self.public_prefix != LEGACY_PREFIX:
            await self._public_store(LEGACY_PREFIX).delete(location)

    def _public_store(self, prefix: str | None = None) -> Any:
        """A store on the public bucket/prefix, with the same endpoint and credentials."""
        prefix = self.public_prefix if prefix is None else prefix
        if prefix not in self._public:
            options = {
                name: getattr(self.store, name)
                for name in self.store.trait_names(config=True)
                if name not in ("bucket", "prefix")
            }
            self._public[prefix] = type(self.store)(
                parent=self.store.parent, **options, bucket=self.bucket, prefix=prefix
            )
        return self._public[prefix]

    def _public_base(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        endpoint = getattr(self.store, "endpoint_url", "")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{quote(self.bucket)}"
        region = getattr(self.store, "region", "us-east-1")
        return f"https://{self.bucket}.s3.{region}.amazonaws.com"

    async def close(self) -> None:
        for store in self._public.values():
            await store.close()
