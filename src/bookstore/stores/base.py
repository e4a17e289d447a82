"""The Store protocol: the only interface between Bookstore and object storage.

Keys are plain strings relative to the store's root (its container/bucket and
prefix); ``/`` is only meaningful as a listing delimiter. A key ending in ``/``
is a legal (folder-marker) object on every store. Every method is async and
never blocks the event loop; every failure is one of ``bookstore.errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import anyio

from ..errors import one_error

#: User metadata is small by contract: Swift on ext4 keeps ~3.5 KB of xattrs per object.
MAX_METADATA_BYTES = 1024
MAX_METADATA_NAME = 128
MAX_METADATA_VALUE = 256


@dataclass(frozen=True)
class ObjectMeta:
    key: str
    size: int
    last_modified: datetime  # timezone-aware, UTC
    etag: str | None = None  # unquoted; changes with every write
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # lower-case keys
    #: The store vouches that ``etag`` is the MD5 hex digest of the object's bytes. False
    #: where it is not (a Swift SLO/DLO, an S3 multipart upload, LocalStore's fallback)
    #: or the store cannot tell (an empty listing entry may be a Swift DLO's manifest):
    #: whoever needs the MD5 then reads the bytes.
    etag_is_md5: bool = False

    @property
    def md5(self) -> str | None:
        """The MD5 hex digest of the bytes, if known without reading them (see etag_is_md5)."""
        return self.etag.lower() if self.etag_is_md5 and self.etag else None


@dataclass(frozen=True)
class ListPage:
    objects: list[ObjectMeta]
    prefixes: list[str]  # "sub-folders": common prefixes, each ending with the delimiter


@dataclass(frozen=True)
class IfMatch:
    """Put mode: overwrite only if the stored object's ETag is still ``etag``."""

    etag: str


PutMode = Literal["create", "overwrite"] | IfMatch
Body = bytes | AsyncIterable[bytes]


@runtime_checkable
class Store(Protocol):
    """What Bookstore needs from object storage, and nothing more."""

    #: A short human description for logs: kind, location, never a credential.
    description: str

    async def head(self, key: str) -> ObjectMeta:
        """Metadata of ``key``; NotFound if absent."""
        ...

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        """Whole object and its metadata; NotFound if absent."""
        ...

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        """Metadata, then the body in chunks; the object is never held whole in memory."""
        ...

    async def put(
        self,
        key: str,
        data: Body,
        *,
        mode: PutMode = "overwrite",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        md5: str | None = None,
    ) -> ObjectMeta:
        """Write ``key`` atomically (readers see the old or the new object, never a part).

        ``create`` raises AlreadyExists if the key exists; ``IfMatch`` raises
        PreconditionFailed if its ETag differs, NotFound if the key is gone.
        An async iterable body is streamed, never buffered whole. ``md5``: the caller's
        hex MD5 of a bytes body, so a store that checks it need not hash it again.
        """
        ...

    async def delete(self, key: str) -> None:
        """Delete ``key``; deleting an absent key is not an error."""
        ...

    async def delete_many(self, keys: list[str]) -> None:
        """Delete many keys, batched where the store allows; absent keys are ignored."""
        ...

    def list(self, prefix: str = "", *, delimiter: str | None = "/") -> AsyncIterator[ListPage]:
        """Pages of objects (with full metadata) and common prefixes under ``prefix``.

        With a delimiter, keys holding it after ``prefix`` are rolled up into
        ``prefixes``; with ``None`` the listing is recursive. Keys come in
        lexicographic order. An absent prefix yields one empty page.
        """
        ...

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        """Server-side copy (no bytes through Bookstore), metadata included; returns dst's meta."""
        ...

    async def copy_blind(self, src: str, dst: str) -> None:
        """``copy`` without reading the copy's metadata back: for bulk moves and copies,
        which know what they copy. On Swift and S3 that is one request instead of two."""
        ...

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        """Write ``dst`` as the concatenation of ``parts`` (in order), atomically.

        Server-side where the store can; otherwise streamed part by part.
        The parts are left in place for the caller to delete.
        """
        ...

    async def connect(self) -> None:
        """Authenticate and make sure the container/bucket exists (or raise), once at start,
        so a misconfiguration is reported before the first request."""
        ...

    async def close(self) -> None:
        """Release connections and worker threads."""
        ...


async def each(
    fn: Callable[[Any], Awaitable[Any]], items: list[Any], *, limit: int | None = None
) -> list[Any]:
    """``await fn(item)`` for every item concurrently (``limit`` at once, if given);
    the results in order. A failure raises its first error, not an ExceptionGroup:
    callers map one bookstore error to HTTP."""
    results: list[Any] = [None] * len(items)
    gate = anyio.Semaphore(max(1, limit)) if limit else None

    async def one(i: int, item: Any) -> None:
        if gate is None:
            results[i] = await fn(item)
            return
        async with gate:
            results[i] = await fn(item)

    with one_error():
        async with anyio.create_task_group() as tg:
            for i, item in enumerate(items):
                tg.start_soon(one, i, item)
    return results


async def list_all(store: Store, prefix: str = "", *, delimiter: str | None = "/") -> ListPage:
    """Every page of a listing, joined."""
    objects: list[ObjectMeta] = []
    prefixes: list[str] = []
    async for page in store.list(prefix, delimiter=delimiter):
        objects.extend(page.objects)
        prefixes.extend(page.prefixes)
    return ListPage(objects, prefixes)


async def compose_by_streaming(
    store: Store, dst: str, parts: list[str], *, content_type: str | None = None
) -> ObjectMeta:
    """``compose`` for stores without a server-side concatenation: one streamed put."""

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            _, chunks = await store.get_stream(part)
            async for chunk in chunks:
                yield chunk

    # Read the first part up front so a missing part fails before anything is written.
    for part in parts[:1]:
        await store.head(part)
    return await store.put(dst, body(), content_type=content_type)


def check_content_type(content_type: str | None) -> str:
    """The content type to store (a default for none); one HTTP could not carry as
    written (surrounding spaces, control characters) is refused by every store alike."""
    from ..errors import InvalidRequest
    from .keys import DEFAULT_CONTENT_TYPE

    if not content_type:
        return DEFAULT_CONTENT_TYPE
    if content_type != content_type.strip() or not content_type.isprintable():
        raise InvalidRequest(
            f"content type {content_type!r} has spaces around it or control characters"
        )
    return content_type


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Normalise user metadata (lower-case keys) and enforce the limits every store honours.

    Names are ASCII letters, digits and ``-`` (Swift refuses ``_`` in header
    names), at most ``MAX_METADATA_NAME`` bytes; values are printable ASCII of at
    most ``MAX_METADATA_VALUE`` bytes (Swift's per-value cap).
    """
    from ..errors import InvalidRequest

    out = {str(k).lower(): str(v) for k, v in (metadata or {}).items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in out.items())
    if size > MAX_METADATA_BYTES:
        raise InvalidRequest(f"user metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}")
    for k, v in out.items():
        if not k or not k.isascii() or not k.replace("-", "").isalnum():
            raise InvalidRequest(f"metadata name {k!r} must be ASCII letters, digits or -")
        if len(k) > MAX_METADATA_NAME:
            raise InvalidRequest(f"metadata name {k[:20]!r}... is over {MAX_METADATA_NAME} bytes")
        if not v.isascii() or not v.isprintable():
            raise InvalidRequest(f"metadata value of {k!r} must be printable ASCII")
        if v != v.strip():  # HTTP drops them: the value would not read back as written
            raise InvalidRequest(f"metadata value of {k!r} must not begin or end with spaces")
        if len(v) > MAX_METADATA_VALUE:
            raise InvalidRequest(f"metadata value of {k!r} is over {MAX_METADATA_VALUE} bytes")
    return out
