"""Sharing over any store with a backend: ids, snapshots, the index of shares, revocation.

Layout in the store (under the contents root, next to the checkpoints):

- ``.bookstore/shares/<share-id>/<name>``: the snapshot a signed link points at;
- ``.bookstore/shares/index/<path>/<share-id>.json``: one record per share of ``path``.

Public copies live where the backend publishes them (``<share-id>/<name>`` in a
public container, bucket or prefix). Share ids are 96 random bits: a public URL
cannot be guessed from another one, and the public place is never listable.
"""

from __future__ import annotations

import importlib
import json
import posixpath
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from traitlets import Any as AnyTrait
from traitlets import Integer, Unicode
from traitlets.config import LoggingConfigurable

from .. import errors
from ..stores.base import Store, each, list_all
from ..stores.keys import MAX_KEY_BYTES
from .base import (
    KINDS,
    InvalidShare,
    Share,
    ShareBackend,
    SharingNotSupported,
    format_duration,
    parse_duration,
    viewer_url,
)

SHARES_ROOT = ".bookstore/shares/"
INDEX_ROOT = f"{SHARES_ROOT}index/"
RECORD_TYPE = "application/json"

# Store classes (any class in the store's MRO) -> the backend that shares from them.
# Imported on first use: nothing here loads a storage client.
_BACKENDS: dict[str, tuple[str, str]] = {
    "SwiftStore": ("bookstore.sharing.swift", "SwiftSharing"),
    "S3Store": ("bookstore.sharing.s3", "S3Sharing"),
}


def index_prefix(path: str) -> str:
    return f"{INDEX_ROOT}{path.strip('/')}/"


def storage_of(store: Store) -> Store:
    """The store that talks to storage, through wrappers that keep it as ``inner``
    (``CachedListings``): backends need its class, container and connections."""
    for _ in range(8):  # wrappers of wrappers, but never a loop
        inner = getattr(store, "inner", None)
        if inner is None:
            break
        store = inner
    return store


def backend_for(store: Store, *, parent: Any = None, **options: Any) -> ShareBackend:
    """The sharing backend for ``store``'s kind; SharingNotSupported if there is none."""
    storage = storage_of(store)
    for cls in type(storage).__mro__:
        if cls.__name__ in _BACKENDS:
            module, name = _BACKENDS[cls.__name__]
            backend_cls = getattr(importlib.import_module(module), name)
            return backend_cls(store=storage, parent=parent, **options)
    raise SharingNotSupported(
        f"links need a swift:// or s3:// store; {store.description} cannot make them"
    )


class Sharing(LoggingConfigurable):
    """Create, list and revoke links to files of one store."""

    default_expiry = Unicode(
        "7d", config=True, help="Lifetime of a signed link when none is asked for (30m, 1h, 7d...)."
    )
    max_expiry = Unicode(
        "", config=True, help="Longest lifetime a signed link may be given; empty: no limit."
    )
    viewer_url = Unicode(
        "https://nbviewer.org/",
        config=True,
        help="nbviewer (or a self-hosted one) rendering shared notebooks; empty: no viewer links.",
    )
    concurrency = Integer(16, config=True, help="Share records read or deleted at once.")
    backend = AnyTrait(None, allow_none=True, help="The ShareBackend; chosen from the store.")

    def __init__(self, store: Store, *, root: str = "", **kwargs: Any) -> None:
        """``root``: the contents root inside ``store`` (``""`` for a contents manager's
        own store; ``alice/`` when a CLI opened the whole container)."""
        super().__init__(**kwargs)
        self.store = store
        self.root = root
        if self.backend is None:
            self.backend = backend_for(store, parent=self)

    # --- the three verbs ----------------------------------------------------------------

    async def create(
        self, path: str, kind: str = "signed", expires: str | float | timedelta | None = None
    ) -> Share:
        """Share ``path`` as it is now. A public path already shared is republished at
        the same URL (even after a rename); every signed share is a new link with its
        own snapshot.

        The record is written before anything is published and the file is looked at
        again after: a delete running meanwhile either finds the record and revokes the
        link, or this sees the file gone and takes the link back. No link outlives its file.
        """
        path = path.strip("/")
        key = self._key(path)
        if kind not in KINDS:
            raise InvalidShare(f"unknown kind of share {kind!r}; use one of {KINDS}")
        if kind == "public" and expires not in (None, ""):
            raise InvalidShare(
                f"public links do not expire (they last until unshared), so expires={expires!r} "
                "cannot be honoured: drop it, or make a signed link"
            )
        lifetime = self._lifetime(expires) if kind == "signed" else None
        meta = await self.store.head(key)  # NotFound (a folder too) before anything is written
        now = datetime.now(UTC).replace(microsecond=0)
        name = posixpath.basename(path)
        others: list[Share] = []
        republished = False
        if kind == "public":
            existing = [s for s in await self.list(path) if s.kind == "public"]
            if existing:
                # Its location, not one from today's name: a renamed file's old copy would
                # otherwise stay online with no record, and the link people hold would die.
                share_id, location, others = existing[0].id, existing[0].location, existing[1:]
                republished = True
            else:
                share_id = new_share_id()
                location = f"{share_id}/{name}"
            url = await self.backend.public_link(location)
            share = self._share(share_id, path, "public", url, now, None, meta.size, location)
        else:
            assert lifetime is not None
            share_id = new_share_id()
            expires_at = now + lifetime
            location = f"{SHARES_ROOT}{share_id}/{name}"
            url = await self.backend.sign(self._key(location), expires_at)
            share = self._share(share_id, path, "signed", url, now, expires_at, meta.size, location)
        self._check_record_key(share)
        await self._write_record(share)
        try:
            if kind == "public":
                _, size = await self.backend.publish(key, location)
            else:
                size = await self.backend.snapshot(key, self._key(location), expires=expires_at)
            await self.store.head(key)  # NotFound: deleted while it was copied
            if size != share.size:  # edited since the head above
                share = replace(share, size=size)
                await self._write_record(share)
        except BaseException as exc:
            # A republished link that failed for another reason keeps its record (its copy
            # is the old one or the new): anything else must not stay online unrecorded.
            if not republished or isinstance(exc, errors.NotFound):
                await self._undo(share)
            raise
        await self._all(self._revoke, others)  # duplicates from a race: one public link per file
        if kind == "signed":
            await self._drop_expired(path, now)
        self.log.info("Shared %r (%s, id %s)", path, kind, share.id)
        return share

    async def list(self, path: str) -> list[Share]:
        """``path``'s shares, newest first, expired ones included (they say so)."""
        prefix = self._key(index_prefix(path))
        listing = await list_all(self.store, prefix, delimiter="/")
        keys = [o.key for o in listing.objects if o.key.endswith(".json")]
        records = await self._all(self._read, keys)
        shares = [r for r in records if r is not None]
        return sorted(shares, key=lambda s: (s.created, s.id), reverse=True)

    async def delete(self, path: str, share_id: str | None = None) -> list[Share]:
        """Revoke ``path``'s share ``share_id`` (all of them if None): the snapshot or
        public copy goes, so its link fails from now on. NotFound for an unknown id."""
        shares = await self.list(path)
        if share_id is not None:
            shares = [s for s in shares if s.id == share_id]
            if not shares:
                raise errors.NotFound(f"{path!r} has no share {share_id!r}")
        await self._all(self._revoke, shares)
        for s in shares:
            self.log.info("Unshared %r (%s, id %s)", path, s.kind, s.id)
        return shares

    async def revoke_under(self, path: str) -> list[Share]:
        """Revoke every share of ``path`` and, for a folder, of every file below it:
        deleted files must not stay readable through old links."""
        shares = await self._records_under(path)
        await self._all(self._revoke, shares)
        for s in shares:
            self.log.info("Unshared %r (%s, id %s): the file was deleted", s.path, s.kind, s.id)
        return shares

    async def moved(self, old: str, new: str) -> int:
        """``old`` (a file or folder) is now ``new``: its shares' records follow it, so
        they are listed and revocable there. The links themselves do not change."""
        shares = await self._records_under(old)
        renamed = [replace(s, path=new + s.path[len(old) :]) for s in shares]
        await self._all(self._write_record, renamed)
        await self.store.delete_many([self._record_key(s) for s in shares])
        return len(renamed)

    async def rotate(self) -> int:
        """Revoke every signed link of the whole account/bucket by replacing the signing
        secret; this store's signed snapshots and records go too. Returns how many."""
        await self.backend.rotate()
        listing = await list_all(self.store, self._key(INDEX_ROOT), delimiter=None)
        records = await self._all(
            self._read, [o.key for o in listing.objects if o.key.endswith(".json")]
        )
        signed = [s for s in records if s is not None and s.kind == "signed"]
        await self._all(self._revoke, signed)
        self.log.info("Rotated the link-signing key: %d signed link(s) revoked", len(signed))
        return len(signed)

    async def close(self) -> None:
        await self.backend.close()

    # --- plumbing -------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return self.root + path

    async def _all(self, fn: Any, items: list[Any]) -> list[Any]:
        return await each(fn, items, limit=self.concurrency)

    def _record_key(self, share: Share) -> str:
        return self._key(index_prefix(share.path) + f"{share.id}.json")

    async def _write_record(self, share: Share) -> None:
        await self.store.put(
            self._record_key(share), json.dumps(share.to_json()).encode(), content_type=RECORD_TYPE
        )

    async def _records_under(self, path: str) -> list[Share]:
        """The share records of ``path`` and of everything below it (recursive)."""
        listing = await list_all(self.store, self._key(index_prefix(path)), delimiter=None)
        keys = [o.key for o in listing.objects if o.key.endswith(".json")]
        return [r for r in await self._all(self._read, keys) if r is not None]

    @property
    def longest(self) -> timedelta | None:
        """The longest lifetime a signed link may have here (config, or the storage's)."""
        limits = [parse_duration(self.max_expiry)] if self.max_expiry else []
        if self.backend.max_signed_expiry is not None:
            limits.append(self.backend.max_signed_expiry)
        return min(limits) if limits else None

    def _lifetime(self, expires: str | float | timedelta | None) -> timedelta:
        lifetime = parse_duration(self.default_expiry if expires in (None, "") else expires)
        longest = self.longest
        if longest is not None and lifetime > longest:
            most, asked = format_duration(longest), format_duration(lifetime)
            raise InvalidShare(f"signed links here last at most {most}, not {asked}")
        return lifetime

    def _share(
        self,
        share_id: str,
        path: str,
        kind: Any,
        url: str,
        created: datetime,
        expires: datetime | None,
        size: int,
        location: str,
    ) -> Share:
        viewer = None
        if self.viewer_url and path.lower().endswith(".ipynb"):
            viewer = viewer_url(url, self.viewer_url)
        return Share(share_id, path, kind, url, viewer, created, expires, size, location)

    async def _read(self, key: str) -> Share | None:
        try:
            _, data = await self.store.get(key)
            return Share.from_json(json.loads(data))
        except errors.NotFound:
            return None  # revoked meanwhile
        except (ValueError, KeyError, TypeError) as exc:
            self.log.warning("ignoring unreadable share record %r: %s", key, exc)
            return None

    async def _revoke(self, share: Share) -> None:
        if share.kind == "public":
            await self.backend.unpublish(share.location)
        else:
            await self.store.delete(self._key(share.location))
        await self.store.delete(self._record_key(share))

    async def _undo(self, share: Share) -> None:
        """Take back a share whose making failed: its copy, then its record."""
        with anyio.CancelScope(shield=True):  # a cancelled request must still clean up
            try:
                await self._revoke(share)
            except Exception as exc:
                self.log.error("could not take back share %s of %r: %s", share.id, share.path, exc)

    def _check_record_key(self, share: Share) -> None:
        """Refuse before publishing what could not be recorded (and so never revoked)."""
        prefix = getattr(storage_of(self.store), "prefix", "") or ""
        size = len((prefix + self._record_key(share)).encode())
        if size > MAX_KEY_BYTES:
            raise InvalidShare(
                f"{share.path!r} is too long to share: its share record's key would be "
                f"{size} bytes, over the store's limit of {MAX_KEY_BYTES}"
            )

    async def _drop_expired(self, path: str, now: datetime) -> None:
        """Signed shares past their expiry are dead links: forget them and their snapshots."""
        expired = [s for s in await self.list(path) if s.expired(now)]
        await self._all(self._revoke, expired)


def new_share_id() -> str:
    return secrets.token_hex(12)
