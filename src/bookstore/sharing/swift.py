"""Sharing on OpenStack Swift: TempURL links, a public container, Cloud Files CDN.

- **Signed links** are Swift TempURLs (HMAC-SHA256 of ``GET``, expiry and path)
  signed with the account's ``Temp-URL-Key``. Bookstore creates the key (random,
  256 bits) when the account has none, never logs or shows it, and ``rotate()``
  replaces both keys, which kills every TempURL of the account at once. Snapshots
  carry ``X-Delete-At``, so Swift drops them when their link expires.
- **Public links** point at a copy in a separate container readable by anyone
  (``X-Container-Read: .r:*``) but *not listable* (no ``.rlistings``, no staticweb
  listings): publishing one file exposes exactly that file. Bookstore creates the
  container, and refuses one that allows listing.
- **CDN** (Rackspace Cloud Files): when a CDN management endpoint is known (the
  ``cdn_url`` setting, or a ``cdn_url`` attribute on the store's ``SwiftAuth``, which
  is where a Rackspace auth puts its ``cloudFilesCDN`` endpoint), the public container
  is CDN-enabled instead, links use its CDN SSL URI, and unsharing also purges the
  CDN's copy.

Requests go through ``SwiftStore.call``: the store's pool, retries and error mapping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
from traitlets import Int, Unicode
from traitlets.config import LoggingConfigurable

from .. import errors
from .base import SharingNotSupported, link_content_type

KEY_HEADER = "X-Account-Meta-Temp-URL-Key"
KEY2_HEADER = "X-Account-Meta-Temp-URL-Key-2"
PUBLIC_READ = ".r:*"  # anyone may GET objects; without .rlistings nobody may list
_TRUE = ("true", "yes", "on", "1", "t", "y")


class SwiftSharing(LoggingConfigurable):
    """Links to objects of one ``SwiftStore``."""

    public_container = Unicode(
        "",
        config=True,
        help="Container holding public copies (default: '<container>-public'). Created "
        "readable by anyone and not listable; one that allows listing is refused.",
    )
    public_url = Unicode(
        "",
        config=True,
        help="Base URL of the public container in links, e.g. a custom domain or CDN "
        "(default: the CDN URI, else the storage URL + container).",
    )
    link_url = Unicode(
        "",
        config=True,
        help="Storage URL to put in signed links when Bookstore reaches Swift on an internal "
        "one (default: the storage URL). Its path must be the one Swift sees.",
    )
    cdn_url = Unicode(
        "",
        config=True,
        help="CDN management endpoint (Rackspace: cloudFilesCDN) to publish through a CDN "
        "(default: the store's auth object's `cdn_url`, if it has one).",
    )
    cdn_ttl = Int(900, config=True, help="Seconds the CDN may cache a public copy.")

    #: TempURLs may last as long as one likes.
    max_signed_expiry: timedelta | None = None

    def __init__(self, store: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self._public_ready = False
        self._public_base: str | None = None
        self._lock = anyio.Lock()
        if self.container == self.store.container:
            # Its read ACL would make every notebook readable by anyone.
            raise SharingNotSupported(
                f"SwiftSharing.public_container is the notebooks' own container "
                f"{self.container!r}: set another one (default: '<container>-public')"
            )

    @property
    def container(self) -> str:
        return self.public_container or f"{self.store.container}-public"

    # --- signed ------------------------------------------------------------------------

    async def snapshot(self, src: str, dst: str, *, expires: datetime | None) -> int:
        headers = {"Content-Type": link_content_type(src)}
        if expires is not None:  # Swift deletes it then; the link is dead anyway
            headers["X-Delete-At"] = str(int(expires.timestamp()))
        await self._copy(src, self.store.container, self.store.prefix + dst, headers)
        return (await self.store.head(dst)).size

    async def sign(self, key: str, expires: datetime) -> str:
        secret = await self._temp_url_key()
        base = urlsplit(self.link_url or await self._storage_url())
        path = f"{base.path.rstrip('/')}/{self.store.container}/{self.store.prefix}{key}"
        stamp = int(expires.timestamp())
        signature = hmac.new(
            secret.encode(), f"GET\n{stamp}\n{path}".encode(), hashlib.sha256
        ).hexdigest()
        # `inline`: show it in the browser instead of TempURL's default download.
        query = f"temp_url_sig={signature}&temp_url_expires={stamp}&inline"
        return f"{base.scheme}://{base.netloc}{quote(path)}?{query}"

    async def rotate(self) -> None:
        fresh = _new_secret()
        # An empty value deletes Key-2: no grace period, old links die now.
        await self.store.call(
            lambda c: c.post_account({KEY_HEADER: fresh, KEY2_HEADER: ""}),
            action="rotate the TempURL key of the account of",
        )

    async def _temp_url_key(self) -> str:
        key = await self._read_key()
        if key:
            return key
        await self.store.call(
            lambda c: c.post_account({KEY_HEADER: _new_secret()}),
            action="set a TempURL key on the account of",
        )
        # Read it back: if another server set one at the same moment, theirs won.
        key = await self._read_key()
        if not key:
            raise errors.PermissionDenied(
                f"Swift did not keep the TempURL key set for {self.store.description}"
            )
        return key

    async def _read_key(self) -> str | None:
        headers = await self.store.call(
            lambda c: c.head_account(), action="read the TempURL key of the account of"
        )
        return headers.get(KEY_HEADER.lower()) or headers.get(KEY2_HEADER.lower()) or None

    # --- public ------------------------------------------------------------------------

    async def public_link(self, location: str) -> str:
        return f"{await self._ensure_public()}/{quote(location)}"

    async def publish(self, src: str, location: str) -> tuple[str, int]:
        url = await self.public_link(location)
        headers = {"Content-Type": link_content_type(src)}
        await self._copy(src, self.container, location, headers)
        headers = await self.store.call(
            lambda c: c.head_object(self.container, location), action="check the public copy in"
        )
        return url, int(headers.get("content-length", 0))

    async def unpublish(self, location: str) -> None:
        try:
            await self.store.call(
                lambda c: c.delete_object(self.container, location),
                action="delete the public copy in",
            )
        except errors.NotFound:
            pass
        cdn = self._cdn_endpoint()
        if cdn:  # the CDN's edges would serve it until their TTL: purge them
            try:
                await self.store.call(
                    lambda c: _cdn_request(
                        c, "DELETE", f"{cdn}/{quote(self.container)}/{quote(location)}"
                    ),
                    action="purge the CDN copy of",
                )
            except errors.StoreError as exc:
                self.log.warning("CDN purge of a public copy failed (%s); it expires by TTL", exc)

    async def _ensure_public(self) -> str:
        """Make sure the public container exists and is not listable: its link base."""
        if self._public_ready and self._public_base:
            return self._public_base
        async with self._lock:
            if not self._public_ready:
                cdn = self._cdn_endpoint()
                await self._check_or_create(cdn)
                if self.public_url:
                    base = self.public_url.rstrip("/")
                elif cdn:
                    base = await self._enable_cdn(cdn)
                else:
                    base = f"{(await self._storage_url()).rstrip('/')}/{quote(self.container)}"
                self._public_base, self._public_ready = base, True
        assert self._public_base is not None
        return self._public_base

    async def _check_or_create(self, cdn: str | None) -> None:
        try:
            headers = await self.store.call(
                lambda c: c.head_container(self.container), action="check public container of"
            )
        except errors.NotFound:
            # Behind a CDN the origin stays private: the CDN reads it with its own rights.
            acl = {} if cdn else {"X-Container-Read": PUBLIC_READ}
            await self.store.call(
                lambda c: c.put_container(self.container, headers=acl),
                action="create the public container for",
            )
            self.log.info("Created public container %r (readable, not listable)", self.container)
            return
        read = headers.get("x-container-read", "")
        listings = headers.get("x-container-meta-web-listings", "").lower() in _TRUE
        if ".rlistings" in read or listings:
            raise errors.PermissionDenied(
                f"public container {self.container!r} lets anyone list it, which would expose "
                "every published file: remove .rlistings from its read ACL and its "
                "web-listings, or set SwiftSharing.public_container to another one"
            )
        if ".r:" not in read and not cdn and not self.public_url:
            self.log.warning(
                "public container %r has no .r:* read ACL: its links will need credentials",
                self.container,
            )

    async def _enable_cdn(self, cdn: str) -> str:
        url = f"{cdn.rstrip('/')}/{quote(self.container)}"
        enable = {"X-CDN-Enabled": "True", "X-TTL": str(self.cdn_ttl)}
        await self.store.call(
            lambda c: _cdn_request(c, "PUT", url, enable), action="CDN-enable the container of"
        )
        headers = await self.store.call(
            lambda c: _cdn_request(c, "HEAD", url), action="read the CDN URI of"
        )
        uri = headers.get("x-cdn-ssl-uri") or headers.get("x-cdn-uri")
        if not uri:
            raise errors.Unavailable(f"the CDN at {cdn} gave no URI for {self.container!r}")
        return uri.rstrip("/")

    def _cdn_endpoint(self) -> str | None:
        return self.cdn_url or getattr(self.store.auth, "cdn_url", None) or None

    # --- plumbing ----------------------------------------------------------------------

    async def _storage_url(self) -> str:
        return await self.store.call(lambda c: c.url, action="authenticate for")

    async def _copy(self, src: str, container: str, name: str, headers: dict[str, str]) -> None:
        source = self.store.prefix + src
        await self.store.call(
            lambda c: c.copy_object(
                self.store.container,
                source,
                f"/{container}/{name}",
                headers=headers,
                fresh_metadata=True,  # Bookstore's own metadata stays home
            ),
            action="copy for sharing",
            key=src,
        )

    async def close(self) -> None:
        pass  # the store owns the connections


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _cdn_request(
    conn: Any, method: str, url: str, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """One request to the CDN management API (worker thread), with the store's token."""
    request = urllib.request.Request(
        url, method=method, headers={"X-Auth-Token": conn.token, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=conn.timeout) as response:
            return {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        status = exc.code
        kind = errors.NotFound if status == 404 else errors.Unavailable
        raise kind(f"CDN {method} {urlsplit(url).path}: {status} {exc.reason}") from None
