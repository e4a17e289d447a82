"""An in-process stand-in for memcached, for the single-process swift-aio proxy.

Swift's ``cache`` middleware without a memcached server caches nothing: every
request then costs an extra account HEAD and container HEAD (and logs an error).
A dict is a coherent cache here only because exactly one proxy process exists.
Values go through JSON like MemcacheRing's, so callers get fresh copies and the
same types (lists, not tuples) as with a real memcached.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

_MAX_ITEMS = 100_000
_RELATIVE_TTL_LIMIT = 30 * 24 * 3600  # memcached: larger values are absolute times


class LocalCache:
    """The subset of ``swift.common.memcached.MemcacheRing`` that Swift's middlewares use."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, bool, bytes]] = {}

    def _expiry(self, ttl: float) -> float:
        ttl = float(ttl or 0)
        if ttl <= 0:
            return 0.0
        return ttl if ttl > _RELATIVE_TTL_LIMIT else time.time() + ttl

    def _put(self, key: str, is_json: bool, raw: bytes, ttl: float) -> None:
        if float(ttl or 0) < 0:  # memcached: a negative expiry has expired already
            self._items.pop(key, None)
            return
        if len(self._items) >= _MAX_ITEMS:
            now = time.time()
            self._items = {k: v for k, v in self._items.items() if not v[0] or v[0] > now}
            if len(self._items) >= _MAX_ITEMS:
                self._items.clear()
        self._items[key] = (self._expiry(ttl), is_json, raw)

    def _lookup(self, key: str) -> tuple[bool, bytes] | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, is_json, raw = item
        if expires and expires <= time.time():
            del self._items[key]
            return None
        return is_json, raw

    def set(
        self,
        key: str,
        value: Any,
        serialize: bool = True,
        time: float = 0,
        min_compress_len: int = 0,
        raise_on_error: bool = False,
    ) -> None:
        if serialize:
            if isinstance(value, bytes):
                value = value.decode("utf8")
            self._put(key, True, json.dumps(value).encode("ascii"), time)
        else:
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            self._put(key, False, raw, time)

    def get(self, key: str, raise_on_error: bool = False) -> Any:
        found = self._lookup(key)
        if found is None:
            return None
        is_json, raw = found
        return json.loads(raw) if is_json else raw

    def incr(self, key: str, delta: int = 1, time: float = 0) -> int:
        found = self._lookup(key)
        if found is None:
            value = max(int(delta), 0)
        else:
            value = max(int(found[1]) + int(delta), 0)  # memcached counters are unsigned
        self._put(key, False, str(value).encode("ascii"), time)
        return value

    def decr(self, key: str, delta: int = 1, time: float = 0) -> int:
        return self.incr(key, -int(delta), time)

    def delete(self, key: str, server_key: str | None = None) -> None:
        self._items.pop(key, None)

    def set_multi(
        self,
        mapping: dict[str, Any],
        server_key: str,
        serialize: bool = True,
        time: float = 0,
        min_compress_len: int = 0,
    ) -> None:
        for key, value in mapping.items():
            self.set(key, value, serialize=serialize, time=time)

    def get_multi(self, keys: Iterable[str], server_key: str) -> list[Any]:
        return [self.get(key) for key in keys]


def filter_factory(global_conf: dict, **local_conf: str) -> Callable:
    """Paste filter: put one shared LocalCache into ``env['swift.cache']``."""
    cache = LocalCache()

    def make_filter(app: Callable) -> Callable:
        def middleware(env: dict, start_response: Callable) -> Iterable[bytes]:
            env["swift.cache"] = cache
            return app(env, start_response)

        return middleware

    return make_filter
