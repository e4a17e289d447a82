"""swift-aio's in-process memcached stand-in keeps memcached's expiry rules."""

from __future__ import annotations

import time

from bookstore.devswift.cache import LocalCache


def test_values_round_trip_as_memcached_returns_them():
    cache = LocalCache()
    cache.set("a", (1, "x"))
    assert cache.get("a") == [1, "x"]  # through JSON, as MemcacheRing: lists, not tuples
    cache.set("raw", b"bytes", serialize=False)
    assert cache.get("raw") == b"bytes"
    assert cache.get("missing") is None


def test_expiry_zero_positive_and_negative():
    cache = LocalCache()
    cache.set("forever", 1, time=0)
    cache.set("short", 1, time=0.05)
    cache.set("kept", 1)
    cache.set("kept", 2, time=-1)  # memcached: negative = already expired, so gone
    cache.set("never", 1, time=-1)
    assert cache.get("kept") is None and cache.get("never") is None
    assert cache.get("short") == 1
    time.sleep(0.06)
    assert cache.get("short") is None
    assert cache.get("forever") == 1


def test_counters_are_unsigned_and_expire():
    cache = LocalCache()
    assert cache.incr("n", 5) == 5
    assert cache.decr("n", 7) == 0
    assert cache.incr("t", 1, time=-1) == 1  # counted, but not kept
    assert cache.get("t") is None
