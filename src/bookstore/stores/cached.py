"""A Store wrapper that remembers listings for a few seconds.

JupyterLab lists the open folder again and again (after every save, on every
refresh, for each new untitled name). Listings are the one call whose cost
grows with the folder, so this wrapper keeps each complete listing for ``ttl``
seconds. A write through the wrapper forgets every listing its key could
appear in (those whose prefix the key starts with), so this server never shows
its own writes late, while writes elsewhere (staged upload chunks, checkpoints)
leave a big folder's listing alone; writes by others (another server, the CLI)
show after at most ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from .base import Body, ListPage, ObjectMeta, PutMode, Store


class CachedListings:
    """``store`` with its listings cached (see the module docstring)."""

    def __init__(self, store: Store, *, ttl: float = 2.0, max_entries: int = 64) -> None:
        self.inner = store
        self.ttl = ttl
        self.max_entries = max_entries
        self._listings: OrderedDict[tuple[str, str | None], tuple[float, list[ListPage]]] = (
            OrderedDict()
        )
        self._generation = 0  # bumped by every write
        # (generation, key) of recent writes: a listing that one of them touched while it
        # ran is not kept. Bounded: a listing older than the log is not kept either.
        self._writes: deque[tuple[int, str]] = deque(maxlen=4096)

    @property
    def description(self) -> str:
        return self.inner.description

    def __getattr__(self, name: str) -> Any:  # store-specific extras (sharing, settings)
        return getattr(self.inner, name)

    def _forget(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._generation += 1
        self._writes.extend((self._generation, k) for k in keys)
        for cached in [c for c in self._listings if any(k.startswith(c[0]) for k in keys)]:
            del self._listings[cached]

    def _touched_since(self, generation: int, prefix: str) -> bool:
        if generation == self._generation:
            return False
        if not self._writes or self._writes[0][0] > generation + 1:
            return True  # the log no longer reaches back that far
        return any(g > generation and k.startswith(prefix) for g, k in self._writes)

    # -- reads ---------------------------------------------------------------

    async def head(self, key: str) -> ObjectMeta:
        return await self.inner.head(key)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        return await self.inner.get(key)

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        return await self.inner.get_stream(key, chunk_size=chunk_size)

    async def list(
        self, prefix: str = "", *, delimiter: str | None = "/"
    ) -> AsyncIterator[ListPage]:
        entry = self._listings.get((prefix, delimiter))
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            for page in entry[1]:
                yield page
            return
        generation, started, pages = self._generation, time.monotonic(), []
        async for page in self.inner.list(prefix, delimiter=delimiter):
            pages.append(page)
            yield page
        # Kept only when read to the end and no write under the prefix happened meanwhile.
        if self.ttl > 0 and not self._touched_since(generation, prefix):
            self._listings[(prefix, delimiter)] = (started, pages)
            self._listings.move_to_end((prefix, delimiter))
            while len(self._listings) > self.max_entries:
                self._listings.popitem(last=False)

    # -- writes: each forgets the listings its key could appear in -------------

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
        self._forget([key])
        try:
            return await self.inner.put(
                key, data, mode=mode, content_type=content_type, metadata=metadata, md5=md5
            )
        finally:
            self._forget([key])

    async def delete(self, key: str) -> None:
        self._forget([key])
        try:
            await self.inner.delete(key)
        finally:
            self._forget([key])

    async def delete_many(self, keys: list[str]) -> None:
        self._forget(keys)
        try:
            await self.inner.delete_many(keys)
        finally:
            self._forget(keys)

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        self._forget([dst])
        try:
            return await self.inner.copy(src, dst)
        finally:
            self._forget([dst])

    async def copy_blind(self, src: str, dst: str) -> None:
        self._forget([dst])
        try:
            await self.inner.copy_blind(src, dst)
        finally:
            self._forget([dst])

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        self._forget([dst])
        try:
            return await self.inner.compose(dst, parts, content_type=content_type)
        finally:
            self._forget([dst])

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        self._listings.clear()
        await self.inner.close()
