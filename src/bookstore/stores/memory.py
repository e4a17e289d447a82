"""A dict-backed store: the reference for the Store contract, for fast tests and embedding.

``memory://`` is a fresh private store; ``memory://NAME`` is a process-wide store
shared by every store opened with that name (a Jupyter server and a test can
then see the same objects). It behaves like an object store, on purpose even
where a dict could do more:

* keys must be portable (``check_key``): they have to work on ``file://`` too;
* a put without ``content_type`` stores ``application/octet-stream``, as SwiftStore does;
* listings carry size, ETag, time and content type but no user metadata,
  because neither Swift nor S3 listings carry it (``head`` does);
* listings come in pages of ``page_size`` entries (objects + prefixes), resumed
  after the last entry like a marker, so tests can force many pages.

Every method runs without awaiting while it holds the data, and a lock guards
each mutation, so puts are atomic even when threads share a named store.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from traitlets import Int
from traitlets.config import LoggingConfigurable

from ..errors import AlreadyExists, InvalidRequest, NotFound, PreconditionFailed
from .base import Body, IfMatch, ListPage, ObjectMeta, PutMode, check_content_type, check_metadata
from .keys import (
    DEFAULT_CONTENT_TYPE,
    check_key,
    etag_matches,
    normalize_prefix,
    prefix_can_match,
)


@dataclass(frozen=True)
class _Object:
    data: bytes
    meta: ObjectMeta  # key relative to the space, not to any store's prefix


@dataclass
class _Space:
    """The objects one name (or one private store) holds."""

    objects: dict[str, _Object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_named: dict[str, _Space] = {}
_named_lock = threading.Lock()


class MemoryStore(LoggingConfigurable):
    """Objects in a dict; see the module docstring for the semantics it mirrors."""

    page_size = Int(
        1000, config=True, help="Most entries (objects + prefixes) in one listing page."
    )

    def __init__(self, name: str | None = None, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)  # parent, config and traits such as page_size
        if name:
            with _named_lock:
                self._space = _named.setdefault(name, _Space())
        else:
            self._space = _Space()
        self.name = name or None
        self.prefix = normalize_prefix(prefix)
        where = f"{name}/{self.prefix}" if name else f"/{self.prefix} (private)"
        self.description = f"memory://{where}"

    @classmethod
    def from_url(cls, location: str, prefix: str, **options: Any) -> MemoryStore:
        """``memory://`` -> a private store, ``memory://NAME/prefix`` -> the shared NAME."""
        return cls(location or None, prefix, **options)

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the shared store ``name`` (its data goes once no store holds it)."""
        with _named_lock:
            _named.pop(name, None)

    def __repr__(self) -> str:
        return f"<MemoryStore {self.description}>"

    # -- helpers -------------------------------------------------------------

    def _full(self, key: str) -> str:
        return check_key(self.prefix + check_key(key))

    def _relative(self, meta: ObjectMeta, *, metadata: bool = True) -> ObjectMeta:
        return ObjectMeta(
            key=meta.key[len(self.prefix) :],
            size=meta.size,
            last_modified=meta.last_modified,
            etag=meta.etag,
            content_type=meta.content_type,
            metadata=dict(meta.metadata) if metadata else {},
            etag_is_md5=True,
        )

    def _lookup(self, key: str) -> _Object:
        try:
            return self._space.objects[self._full(key)]
        except KeyError:
            raise NotFound(f"{self.description}: no object {key!r}") from None

    def _check_mode(self, key: str, current: _Object | None, mode: PutMode) -> None:
        if mode == "create":
            if current is not None:
                raise AlreadyExists(f"{self.description}: {key!r} already exists")
        elif isinstance(mode, IfMatch):
            if current is None:
                raise NotFound(f"{self.description}: no object {key!r} to update")
            if not etag_matches(current.meta.etag, mode.etag):
                raise PreconditionFailed(
                    f"{self.description}: {key!r} changed (ETag {current.meta.etag},"
                    f" expected {mode.etag})"
                )
        elif mode != "overwrite":
            raise InvalidRequest(f"unknown put mode {mode!r}")

    def _commit(
        self,
        key: str,
        data: bytes,
        mode: PutMode,
        content_type: str | None,
        metadata: dict[str, str],
        etag: str | None = None,
    ) -> ObjectMeta:
        full = self._full(key)
        meta = ObjectMeta(
            key=full,
            size=len(data),
            last_modified=datetime.now(UTC),
            etag=etag or hashlib.md5(data, usedforsecurity=False).hexdigest(),
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            metadata=metadata,
        )
        with self._space.lock:
            self._check_mode(key, self._space.objects.get(full), mode)
            self._space.objects[full] = _Object(data, meta)
        return self._relative(meta)

    # -- the Store protocol --------------------------------------------------

    async def head(self, key: str) -> ObjectMeta:
        return self._relative(self._lookup(key).meta)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        obj = self._lookup(key)
        return self._relative(obj.meta), obj.data

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        if chunk_size < 1:
            raise InvalidRequest(f"chunk_size must be positive, not {chunk_size}")
        obj = self._lookup(key)  # bytes are immutable: this snapshot cannot tear

        async def chunks() -> AsyncIterator[bytes]:
            view = memoryview(obj.data)
            for start in range(0, len(view), chunk_size):
                yield bytes(view[start : start + chunk_size])

        return self._relative(obj.meta), chunks()

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
        full = self._full(key)
        clean = check_metadata(metadata)
        content_type = check_content_type(content_type)
        if isinstance(data, bytes | bytearray | memoryview):
            return self._commit(key, bytes(data), mode, content_type, clean)
        if not isinstance(data, AsyncIterable):
            raise TypeError(f"put() needs bytes or an async iterable of bytes, not {type(data)}")
        # Fail fast before reading a long body; the check that counts is in _commit.
        self._check_mode(key, self._space.objects.get(full), mode)
        digest = hashlib.md5(usedforsecurity=False)
        parts: list[bytes] = []
        async for chunk in data:
            digest.update(chunk)
            parts.append(bytes(chunk))
        return self._commit(key, b"".join(parts), mode, content_type, clean, digest.hexdigest())

    async def delete(self, key: str) -> None:
        full = self._full(key)
        with self._space.lock:
            self._space.objects.pop(full, None)

    async def delete_many(self, keys: list[str]) -> None:
        fulls = [self._full(key) for key in keys]  # validate all before deleting any
        with self._space.lock:
            for full in fulls:
                self._space.objects.pop(full, None)

    async def list(
        self, prefix: str = "", *, delimiter: str | None = "/"
    ) -> AsyncIterator[ListPage]:
        if delimiter == "":
            raise InvalidRequest("the listing delimiter must be None or a non-empty string")
        if not prefix_can_match(self.prefix + prefix):
            yield ListPage([], [])
            return
        marker = ""  # resume strictly after this name, like a Swift/S3 listing marker
        while True:
            objects, prefixes, marker, more = self._page(self.prefix + prefix, delimiter, marker)
            yield ListPage(objects, prefixes)
            if not more:
                return

    def _page(
        self, prefix: str, delimiter: str | None, marker: str
    ) -> tuple[list[ObjectMeta], list[str], str, bool]:
        """Up to ``page_size`` entries after ``marker``, the new marker, and whether more follow."""
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        with self._space.lock:
            names = sorted(self._space.objects)  # str order is UTF-8 byte order
            i = bisect.bisect_right(names, marker) if marker else bisect.bisect_left(names, prefix)
            while i < len(names) and names[i].startswith(prefix):
                name = names[i]
                cut = name.find(delimiter, len(prefix)) if delimiter else -1
                rolled = delimiter is not None and cut >= 0
                entry = name[: cut + len(delimiter)] if rolled else name
                if entry == marker:  # the rest of a prefix the last page ended with
                    i += 1
                    continue
                if len(objects) + len(prefixes) == self.page_size:
                    return objects, prefixes, marker, True
                if rolled:
                    prefixes.append(entry[len(self.prefix) :])
                else:
                    objects.append(self._relative(self._space.objects[name].meta, metadata=False))
                marker = entry
                i += 1
        return objects, prefixes, marker, False

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        obj = self._lookup(src)
        meta = obj.meta
        return self._commit(
            dst, obj.data, "overwrite", meta.content_type, dict(meta.metadata), meta.etag
        )

    async def copy_blind(self, src: str, dst: str) -> None:
        await self.copy(src, dst)  # the metadata costs nothing here

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        self._full(dst)
        with self._space.lock:  # one consistent snapshot of every part
            data = b"".join(self._lookup(part).data for part in parts)
        return self._commit(dst, data, "overwrite", content_type, {})

    async def connect(self) -> None:
        """Nothing to reach: the data is here."""

    @staticmethod
    def exists(name: str) -> bool:
        """Whether the named store was made in this process (opening one makes it)."""
        with _named_lock:
            return name in _named

    async def close(self) -> None:
        """Nothing to release: the objects stay while any store holds the space."""
