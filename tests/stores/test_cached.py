"""CachedListings: repeated listings are served from memory, writes are seen at once."""

from __future__ import annotations

import asyncio

from bookstore.stores.base import Store, list_all
from bookstore.stores.cached import CachedListings


class CountingLists:
    """Counts the listings that reach the real store under the wrapper."""

    def __init__(self, store: Store) -> None:
        self.store, self.calls = store, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def list(self, prefix="", *, delimiter="/"):
        self.calls += 1
        return self.store.list(prefix, delimiter=delimiter)


async def names(store, prefix=""):
    page = await list_all(store, prefix)
    return sorted([o.key for o in page.objects] + page.prefixes)


async def test_repeated_listing_is_served_from_memory(store):
    counting = CountingLists(store)
    cached = CachedListings(counting, ttl=30)
    await store.put("d/a.txt", b"a")
    assert await names(cached, "d/") == ["d/a.txt"]
    assert await names(cached, "d/") == ["d/a.txt"]
    assert counting.calls == 1


async def test_own_writes_are_seen_at_once(store):
    cached = CachedListings(store, ttl=30)
    assert await names(cached) == []
    await cached.put("x.txt", b"x")
    assert await names(cached) == ["x.txt"]
    await cached.copy("x.txt", "y.txt")
    assert await names(cached) == ["x.txt", "y.txt"]
    await cached.copy_blind("x.txt", "z.txt")
    assert await names(cached) == ["x.txt", "y.txt", "z.txt"]
    await cached.delete("z.txt")
    await cached.delete_many(["x.txt"])
    assert await names(cached) == ["y.txt"]
    await cached.delete("y.txt")
    assert await names(cached) == []


async def test_other_writers_are_seen_after_the_ttl(store):
    cached = CachedListings(store, ttl=0.3)
    assert await names(cached) == []
    await store.put("other.txt", b"o")  # behind the cache's back
    assert await names(cached) == []
    await asyncio.sleep(0.35)
    assert await names(cached) == ["other.txt"]


async def test_a_listing_cut_short_is_not_kept(store):
    counting = CountingLists(store)
    cached = CachedListings(counting, ttl=30)
    await store.put("a", b"")
    async for _ in cached.list(""):
        break
    await names(cached)
    assert counting.calls == 2


async def test_writes_elsewhere_keep_a_folders_listing(store):
    counting = CountingLists(store)
    cached = CachedListings(counting, ttl=30)
    await store.put("big/a.txt", b"a")
    await names(cached, "big/")
    await cached.put(".bookstore/uploads/x/part-1", b"chunk")  # elsewhere
    await cached.put("other/b.txt", b"b")
    assert await names(cached, "big/") == ["big/a.txt"]
    assert counting.calls == 1
    await cached.put("big/c.txt", b"c")  # inside: seen at once
    assert await names(cached, "big/") == ["big/a.txt", "big/c.txt"]
    await cached.delete_many(["big/a.txt"])
    assert await names(cached, "big/") == ["big/c.txt"]
    assert await names(cached) == [".bookstore/", "big/", "other/"]  # the root saw them appear
