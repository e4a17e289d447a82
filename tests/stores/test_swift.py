"""SwiftStore beyond the shared contract: auth, retries, pooling, bulk and streaming paths.

Everything runs against the session's real Swift (``swift_aio``), except the retry tests,
which need a server that fails on cue: a tiny ``http.server`` on loopback.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest
from traitlets.config import Config

from bookstore.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StoreError,
    Unauthenticated,
    Unavailable,
)
from bookstore.stores.base import IfMatch, Store, list_all
from bookstore.stores.registry import open_store
from bookstore.stores.retry import RetryPolicy, parse_retry_after
from bookstore.stores.swift import BULK_DELETE_BATCH, TEMP_DIR, SwiftStore, V1Auth
from kinds import new_container
from swift_objects import md5, put_large_objects

MiB = 1 << 20


def unique(name: str = "t") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


def creds(aio) -> dict[str, str]:
    return {"auth_url": aio.auth_url, "user": aio.user, "key": aio.key}


@pytest.fixture
def swift(swift_aio, jp_asyncio_loop) -> Iterator[SwiftStore]:
    store = SwiftStore(container=unique("c"), prefix="alice/", **creds(swift_aio))
    yield store
    jp_asyncio_loop.run_until_complete(store.close())


class CountingAuth(V1Auth):
    """The real v1.0 auth, counting how often it is asked."""

    calls = 0

    def authenticate(self) -> tuple[str, str]:
        self.calls += 1
        return super().authenticate()


async def raw_names(store: SwiftStore, prefix: str = "") -> list[str]:
    """Every object name in the store's container, as Swift lists them."""
    _, entries = await store.call(
        lambda c: c.get_container(store.container, prefix=prefix, full_listing=True)
    )
    return [e["name"] for e in entries]


def pattern(i: int, size: int = MiB) -> bytes:
    return bytes([i % 251]) * size


async def chunks(n: int, size: int = MiB) -> AsyncIterator[bytes]:
    for i in range(n):
        yield pattern(i, size)


# --- construction and auth ------------------------------------------------------------------


async def test_from_url_and_description(swift_aio):
    config = Config({"SwiftStore": {**creds(swift_aio), "container": "ignored", "workers": 3}})
    store = open_store("swift://notebooks/alice", config=config)
    assert isinstance(store, SwiftStore) and isinstance(store, Store)
    assert (store.container, store.prefix, store.workers) == ("notebooks", "alice/", 3)
    try:
        with pytest.raises(NotFound):
            await store.head("nothing-here")
        assert store.description == (
            f"Swift container 'notebooks' (prefix 'alice/') at {swift_aio.storage_url}"
        )
        assert swift_aio.key not in store.description and swift_aio.key not in repr(store)
    finally:
        await store.close()


async def test_env_auth(swift_aio, monkeypatch):
    monkeypatch.setenv("ST_AUTH", swift_aio.auth_url)
    monkeypatch.setenv("ST_USER", swift_aio.user)
    monkeypatch.setenv("ST_KEY", swift_aio.key)
    store = SwiftStore(container=unique())
    try:
        await store.put("k", b"v")
        assert (await store.get("k"))[1] == b"v"
    finally:
        await store.close()


async def test_explicit_config_wins_over_env(swift_aio, monkeypatch):
    monkeypatch.setenv("ST_AUTH", "http://127.0.0.1:9/auth/v1.0")  # nothing listens there
    monkeypatch.setenv("ST_USER", "nobody:nobody")
    monkeypatch.setenv("ST_KEY", "wrong")
    store = SwiftStore(container=unique(), **creds(swift_aio))
    try:
        await store.put("k", b"v")
    finally:
        await store.close()
    # ...field by field: the env's (good) key does not beat a configured (bad) one.
    monkeypatch.setenv("ST_AUTH", swift_aio.auth_url)
    monkeypatch.setenv("ST_USER", swift_aio.user)
    monkeypatch.setenv("ST_KEY", swift_aio.key)
    store = SwiftStore(container=unique(), key="configured-wrong-key")
    try:
        with pytest.raises(Unauthenticated):
            await store.head("k")
    finally:
        await store.close()


async def test_wrong_key_is_unauthenticated_without_the_key(swift_aio):
    secret = "s3cr3t-" + uuid.uuid4().hex
    store = SwiftStore(container=unique(), **{**creds(swift_aio), "key": secret})
    try:
        with pytest.raises(Unauthenticated) as info:
            await store.head("k")
    finally:
        await store.close()
    message = str(info.value)
    assert secret not in message
    assert swift_aio.user in message and swift_aio.auth_url in message


async def test_no_credentials_says_how_to_configure(monkeypatch):
    for name in ("ST_AUTH", "ST_USER", "ST_KEY"):
        monkeypatch.delenv(name, raising=False)
    store = SwiftStore(container=unique())
    try:
        with pytest.raises(Unauthenticated, match="ST_AUTH"):
            await store.head("k")
    finally:
        await store.close()


async def test_reauthenticates_once_on_a_rejected_token(swift_aio):
    auth = CountingAuth(swift_aio.auth_url, swift_aio.user, swift_aio.key)
    store = SwiftStore(container=unique(), auth=auth)
    try:
        await store.put("k", b"v")
        assert auth.calls == 1
        store._token = "AUTH_tk" + "0" * 32  # an expired or revoked token looks like this
        assert (await store.get("k"))[1] == b"v"
        assert auth.calls == 2
        assert (await store.head("k")).size == 1
        assert auth.calls == 2  # the new token is shared by every connection
    finally:
        await store.close()


async def test_second_rejection_is_unauthenticated(swift_aio):
    class BadTokenAuth(CountingAuth):
        def authenticate(self) -> tuple[str, str]:
            url, _ = super().authenticate()
            return url, "AUTH_tk" + "1" * 32

    auth = BadTokenAuth(swift_aio.auth_url, swift_aio.user, swift_aio.key)
    store = SwiftStore(container=unique(), auth=auth)
    try:
        with pytest.raises(Unauthenticated) as info:
            await store.head("k")
    finally:
        await store.close()
    assert auth.calls == 2
    message = str(info.value)
    assert swift_aio.user in message and swift_aio.auth_url in message
    assert swift_aio.key not in message and "AUTH_tk" not in message


@pytest.mark.parametrize("flaw", ["\n", " "], ids=["newline", "leading-space"])
async def test_a_key_requests_cannot_send_is_refused_at_once_without_the_key(swift_aio, flaw):
    """The v1.0 key travels as a header (X-Auth-Key): one read from a file with its
    newline, or with a leading space, is refused by requests before anything is sent.
    That is a mistake to report, not an unreachable Swift to retry."""
    secret = "s3cr3t-" + uuid.uuid4().hex
    key = secret + flaw if flaw == "\n" else flaw + secret
    auth = CountingAuth(swift_aio.auth_url, swift_aio.user, key)
    store = SwiftStore(container=unique(), auth=auth, retries=3, retry_backoff=0.01)
    try:
        with pytest.raises(InvalidRequest, match="the user or key begins with a space") as info:
            await store.head("k")
    finally:
        await store.close()
    assert auth.calls <= 2  # one try each for /info and the container, never retried
    assert secret not in str(info.value)


# --- container ------------------------------------------------------------------------------


async def test_container_created_on_first_use(swift_aio):
    name = unique("auto")
    store = SwiftStore(container=name, **creds(swift_aio))
    try:
        page = await list_all(store)
        assert page.objects == [] and page.prefixes == []
    finally:
        await store.close()
    strict = SwiftStore(container=name, create_container=False, **creds(swift_aio))
    try:
        await strict.put("k", b"v")
    finally:
        await strict.close()


async def test_missing_container_without_create(swift_aio):
    name = unique("absent")
    store = SwiftStore(container=name, create_container=False, **creds(swift_aio))
    try:
        with pytest.raises(NotFound, match=f"container '{name}' does not exist"):
            await store.put("k", b"v")
    finally:
        await store.close()


# --- objects --------------------------------------------------------------------------------


async def test_odd_keys_round_trip(swift):
    for key in ["plain.ipynb", "with space/日本語 ノート.ipynb", "folder/"]:
        meta = await swift.put(key, b"body", metadata={"Sha256": "abc", "x-y": "1"})
        assert meta.metadata == {"sha256": "abc", "x-y": "1"}
        assert await swift.head(key) == meta
        assert (await swift.get(key)) == (meta, b"body")
        listed = (await list_all(swift, key, delimiter=None)).objects
        assert [o.key for o in listed] == [key]
        # Listings have no user metadata; the rest agrees with head and put.
        assert (listed[0].size, listed[0].etag, listed[0].last_modified) == (
            4,
            meta.etag,
            meta.last_modified,
        )
        assert listed[0].last_modified.tzinfo is not None


async def test_put_modes(swift):
    first = await swift.put("n", b"1", mode="create")
    with pytest.raises(AlreadyExists):
        await swift.put("n", b"2", mode="create")
    with pytest.raises(PreconditionFailed):
        await swift.put("n", b"2", mode=IfMatch("0" * 32))
    second = await swift.put("n", b"2", mode=IfMatch(first.etag))
    assert (await swift.get("n"))[1] == b"2" and second.etag != first.etag
    with pytest.raises(NotFound):
        await swift.put("gone", b"x", mode=IfMatch(first.etag))


async def test_metadata_names_swift_would_drop(swift):
    # Swift's WSGI layer drops header names with '_': check_metadata refuses them.
    with pytest.raises(InvalidRequest):
        await swift.put("k", b"", metadata={"snake_case": "1"})
    with pytest.raises(NotFound):
        await swift.head("k")


async def test_delete_is_idempotent_and_copy_keeps_metadata(swift):
    await swift.put("a", b"data", content_type="text/plain", metadata={"m": "1"})
    copied = await swift.copy("a", "b/c")
    assert (copied.size, copied.content_type, dict(copied.metadata)) == (
        4,
        "text/plain",
        {"m": "1"},
    )
    await swift.delete("a")
    await swift.delete("a")
    with pytest.raises(NotFound):
        await swift.copy("a", "z")


# --- retries --------------------------------------------------------------------------------


class FlakySwift:
    """A loopback server speaking just enough Swift: v1 auth, /info, a container, and an
    object whose HEAD answers from a script (then 200)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.hits: list[float] = []
        self.info: list[int] = []  # statuses /info answers, then 200
        self.info_hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/auth/v1.0":
                    url = f"http://127.0.0.1:{outer.port}/v1/AUTH_fake"
                    self.reply(200, {"X-Storage-Url": url, "X-Auth-Token": "AUTH_tkfake"})
                elif self.path == "/info":
                    outer.info_hits += 1
                    status = outer.info.pop(0) if outer.info else 200
                    self.reply(status, {"Content-Type": "application/json"}, b"{}")
                else:
                    self.reply(404, {})

            def do_DELETE(self) -> None:
                self.reply(204, {})

            def do_HEAD(self) -> None:
                if self.path == "/v1/AUTH_fake/c":
                    self.reply(204, {})
                    return
                outer.hits.append(time.monotonic())
                status, headers = outer.script.pop(0) if outer.script else (200, {})
                if status == 200:
                    headers = {"Etag": '"abc"', "Last-Modified": formatdate(usegmt=True)}
                self.reply(status, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def store(self, **options) -> SwiftStore:
        return SwiftStore(
            container="c",
            auth_url=f"http://127.0.0.1:{self.port}/auth/v1.0",
            user="u",
            key="k",
            **options,
        )


@pytest.fixture
def flaky() -> Iterator[FlakySwift]:
    server = FlakySwift()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join()


def test_backoff_is_capped_and_jittered():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    delays = [policy.delay(n) for n in range(1, 12) for _ in range(20)]
    assert all(0 < d <= 4.0 for d in delays)
    assert min(policy.delay(1) for _ in range(50)) >= 0.25  # at least half the backoff
    assert len({round(policy.delay(6), 6) for _ in range(20)}) > 1  # jittered
    assert policy.delay(1, retry_after=100.0) == policy.max_retry_after
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(formatdate(time.time() + 60, usegmt=True)) == pytest.approx(60, abs=2)
    assert parse_retry_after("soon") is None


async def test_retries_503_then_succeeds(flaky):
    flaky.script = [(503, {}), (503, {})]
    store = flaky.store(retry_backoff=0.05, retry_max_backoff=0.1)
    try:
        start = time.monotonic()
        meta = await store.head("obj")
        elapsed = time.monotonic() - start
    finally:
        await store.close()
    assert meta.etag == "abc"
    assert len(flaky.hits) == 3
    gaps = [b - a for a, b in zip(flaky.hits, flaky.hits[1:], strict=False)]
    assert 0.025 <= gaps[0] < 0.4 and 0.05 <= gaps[1] < 0.4  # ~0.05, then ~0.1 (jittered)
    assert elapsed < 1.0


async def test_gives_up_after_max_attempts_with_capped_backoff(flaky):
    flaky.script = [(503, {})] * 20
    store = flaky.store(retries=6, retry_backoff=0.05, retry_max_backoff=0.1)
    try:
        start = time.monotonic()
        with pytest.raises(Unavailable, match="7 attempts") as info:
            await store.head("obj")
        elapsed = time.monotonic() - start
    finally:
        await store.close()
    assert len(flaky.hits) == 7
    assert "503" in str(info.value)
    # Uncapped, 0.05 * (1 + 2 + ... + 32) = 3.15 s; capped at 0.1 s it is under 0.6 s.
    assert elapsed < 1.5


async def test_429_honours_retry_after_up_to_the_cap(flaky):
    flaky.script = [(429, {"Retry-After": "1"})]
    store = flaky.store(retry_backoff=0.01)
    try:
        await store.head("obj")
        assert flaky.hits[1] - flaky.hits[0] >= 0.95
        flaky.hits.clear()
        flaky.script = [(429, {"Retry-After": "3600"})]
        capped = flaky.store(retry_backoff=0.01, max_retry_after=0.3)
        try:
            await capped.head("obj")
        finally:
            await capped.close()
        assert 0.25 <= flaky.hits[1] - flaky.hits[0] < 1.0
    finally:
        await store.close()


async def test_swift_rate_limiting_498_is_retried(flaky):
    # Swift's ratelimit middleware answers 498, not 429.
    flaky.script = [(498, {}), (498, {})]
    store = flaky.store(retry_backoff=0.01)
    try:
        meta = await store.head("obj")
    finally:
        await store.close()
    assert meta.etag == "abc" and len(flaky.hits) == 3


async def test_info_is_asked_again_after_a_passing_failure(flaky):
    # Without /info there is no bulk delete and no SLO: a 503 at start must not
    # leave the store without them for the life of the server.
    flaky.info = [503]
    store = flaky.store(retries=0)
    store.capabilities_retry = 0.0
    try:
        await store.head("obj")
        assert flaky.info_hits == 1
        await store.delete_many(["a"])  # asks again before choosing how to delete
    finally:
        await store.close()
    assert flaky.info_hits == 2


async def test_client_errors_are_not_retried(flaky):
    flaky.script = [(403, {}), (400, {})]
    store = flaky.store(retry_backoff=0.01)
    try:
        with pytest.raises(PermissionDenied, match="403"):
            await store.head("obj")
        with pytest.raises(InvalidRequest):
            await store.head("obj")
    finally:
        await store.close()
    assert len(flaky.hits) == 2


async def test_unreachable_swift_is_unavailable():
    store = SwiftStore(
        container="c",
        auth_url="http://127.0.0.1:9/auth/v1.0",  # discard port: connection refused
        user="u",
        key="k",
        retries=1,
        retry_backoff=0.01,
    )
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await store.head("k")
    finally:
        await store.close()


# --- bulk, listing, compose -----------------------------------------------------------------


async def test_bulk_delete_across_batches(swift):
    keys = [f"bulk/{i:05d} 名" for i in range(BULK_DELETE_BATCH + 50)]
    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(swift.put, key, b"x")
    await swift.put("keep", b"k")
    assert len((await list_all(swift, "bulk/", delimiter=None)).objects) == len(keys)
    start = time.monotonic()
    await swift.delete_many([*keys, "bulk/never-existed", keys[0]])
    elapsed = time.monotonic() - start
    assert (await list_all(swift, "bulk/", delimiter=None)).objects == []
    assert [o.key for o in (await list_all(swift, delimiter=None)).objects] == ["keep"]
    print(f"bulk delete of {len(keys)} keys: {elapsed:.2f}s")


async def test_listing_pages(swift_aio):
    store = SwiftStore(container=unique(), prefix="p", page_size=3, **creds(swift_aio))
    try:
        names = [f"f{i}" for i in range(7)] + [f"d{i}/x" for i in range(4)] + ["d0/y", "e/"]
        for name in names:
            await store.put(name, b"1")

        pages = [page async for page in store.list("")]
        assert len(pages) > 3  # 7 objects + 5 prefixes, 3 entries a page
        whole = await list_all(store)
        assert [o.key for o in whole.objects] == [f"f{i}" for i in range(7)]
        assert whole.prefixes == ["d0/", "d1/", "d2/", "d3/", "e/"]

        flat = await list_all(store, delimiter=None)
        assert [o.key for o in flat.objects] == sorted(names)
        assert flat.prefixes == []

        under = await list_all(store, "d0/")
        assert [o.key for o in under.objects] == ["d0/x", "d0/y"]

        empty = [page async for page in store.list("no-such/")]
        assert len(empty) == 1 and empty[0].objects == [] and empty[0].prefixes == []
        with pytest.raises(InvalidRequest):
            await list_all(store, delimiter="::")
    finally:
        await store.close()


async def test_compose_three_parts_server_side(swift):
    parts = [pattern(i, 2 * MiB + i) for i in range(3)]
    for i, data in enumerate(parts):
        await swift.put(f"parts/{i}", data, metadata={"part": str(i)})
    start = time.monotonic()
    meta = await swift.compose("joined.bin", [f"parts/{i}" for i in range(3)], content_type="x/y")
    elapsed = time.monotonic() - start
    whole = b"".join(parts)
    assert meta.size == len(whole)
    assert meta.etag == hashlib.md5(whole).hexdigest()  # a plain object, not a manifest
    assert meta.md5 == meta.etag and (await swift.head("joined.bin")).md5 == meta.etag
    assert meta.content_type == "x/y" and dict(meta.metadata) == {}
    got_meta, got = await swift.get("joined.bin")
    assert got == whole and got_meta.etag == meta.etag
    # The parts stay; the temporary manifest is gone.
    left = [o.key for o in (await list_all(swift, delimiter=None)).objects]
    assert left == ["joined.bin", "parts/0", "parts/1", "parts/2"]
    assert not any(k.startswith(TEMP_DIR) for k in left)
    print(f"server-side compose of 3 x 2 MiB: {elapsed:.2f}s")


async def test_compose_nests_manifests_beyond_the_segment_limit(swift):
    parts = [pattern(i, 100_000 + i) for i in range(5)]
    for i, data in enumerate(parts):
        await swift.put(f"p{i}", data)
    swift._caps["slo"]["max_manifest_segments"] = 2  # as if the cluster allowed only 2
    meta = await swift.compose("nested", [f"p{i}" for i in range(5)])
    whole = b"".join(parts)
    assert (await swift.get("nested"))[1] == whole
    assert meta.etag == hashlib.md5(whole).hexdigest()
    left = [o.key for o in (await list_all(swift, delimiter=None)).objects]
    assert left == ["nested", "p0", "p1", "p2", "p3", "p4"]


async def test_compose_edge_cases(swift):
    await swift.put("empty", b"")
    await swift.put("one", b"1" * 10, metadata={"m": "x"})
    small = [f"s{i:02d}" for i in range(15)]  # too many small segments for SLO: streamed
    for i, key in enumerate(small):
        await swift.put(key, str(i).encode())
    assert (await swift.compose("e", ["empty", "empty"])).size == 0
    one = await swift.compose("o", ["empty", "one", "empty"])
    assert (one.size, dict(one.metadata)) == (10, {})
    assert (await swift.get("o"))[1] == b"1" * 10
    joined = await swift.compose("s", small)
    assert (await swift.get("s"))[1] == "".join(map(str, range(15))).encode()
    assert joined.size == len("".join(map(str, range(15))))
    with pytest.raises(NotFound):
        await swift.compose("x", ["one", "missing"])


# --- streaming and the event loop ----------------------------------------------------------


async def test_streaming_20mb_in_bounded_memory(swift):
    n = 20
    tracemalloc.start()
    try:
        meta = await swift.put("big", chunks(n))
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.md5()
        got_meta, body = await swift.get_stream("big")
        size = 0
        async for chunk in body:
            size += len(chunk)
            digest.update(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = hashlib.md5(b"".join(pattern(i) for i in range(n))).hexdigest()
    assert meta.size == size == n * MiB
    assert meta.etag == got_meta.etag == digest.hexdigest() == expected
    print(f"peak traced memory: put {put_peak / MiB:.1f} MiB, get {get_peak / MiB:.1f} MiB")
    assert put_peak < 8 * MiB and get_peak < 8 * MiB


async def test_failed_or_cancelled_stream_stores_nothing(swift):
    class ClientGone(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        for i in range(8):
            yield pattern(i, 256 * 1024)
        raise ClientGone

    with pytest.raises(ClientGone):
        await swift.put("failed", failing())

    async def slow() -> AsyncIterator[bytes]:
        for i in range(100):
            yield pattern(i, 64 * 1024)
            await anyio.sleep(0.01)

    with anyio.move_on_after(0.3):
        await swift.put("cancelled", slow())
    for key in ("failed", "cancelled"):
        with pytest.raises(NotFound):
            await swift.head(key)

    await swift.put("exists", b"1")
    with pytest.raises(AlreadyExists):
        await swift.put("exists", chunks(1), mode="create")


async def test_abandoned_get_stream_releases_its_connection(swift):
    await swift.put("k", pattern(0, 4 * MiB))
    for _ in range(swift.workers + 2):  # more than the pool: nothing may leak or hang
        _, body = await swift.get_stream("k", chunk_size=64 * 1024)
        async for _chunk in body:
            break
        await body.aclose()
    assert (await swift.get("k"))[1] == pattern(0, 4 * MiB)


async def test_event_loop_keeps_ticking_during_20mb_put(swift):
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    data = pattern(7, 20 * MiB)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.02)
        start = time.monotonic()
        await swift.put("bytes", data)
        put_time = time.monotonic() - start
        start = time.monotonic()
        await swift.put("stream", chunks(20))
        stream_time = time.monotonic() - start
        tg.cancel_scope.cancel()
    print(
        f"20 MiB put {put_time:.2f}s, streamed {stream_time:.2f}s; "
        f"{len(gaps)} ticks, longest gap {max(gaps) * 1000:.0f} ms"
    )
    assert len(gaps) > 20
    # Were the loop blocked, one gap would last a whole put; it stays a few ticks long.
    assert max(gaps) < max(0.05, min(put_time, stream_time) / 2)


async def test_bulk_delete_quotes_odd_names(swift):
    # Paths are URL-quoted /container/object lines: odd names must survive the trip.
    keys = ["a b", "ü/ß", "x%2Fy", "q?=&#+ :;"]
    for key in keys:
        await swift.put(key, b"1")
    await swift.delete_many(keys)
    assert (await list_all(swift, delimiter=None)).objects == []


async def test_streamed_overwrite_goes_through_a_verified_temporary(swift):
    await swift.put("s.bin", b"old", metadata={"v": "1"}, content_type="a/b")
    new = [pattern(i, 300_000) for i in range(4)]

    async def body():
        for chunk in new:
            yield chunk

    meta = await swift.put("s.bin", body(), metadata={"v": "2"}, content_type="c/d")
    whole = b"".join(new)
    got_meta, got = await swift.get("s.bin")
    assert got == whole and meta.size == len(whole)
    assert meta.etag == got_meta.etag == hashlib.md5(whole).hexdigest()
    assert got_meta.content_type == "c/d" and dict(got_meta.metadata) == {"v": "2"}
    assert meta.last_modified == got_meta.last_modified
    # The temporary it was streamed to is gone (listings never show temporaries: ask Swift).
    assert await raw_names(swift) == ["alice/s.bin"]


async def test_put_sends_the_callers_md5_and_swift_checks_it(swift):
    data = pattern(7, 50_000)
    right = hashlib.md5(data).hexdigest()
    meta = await swift.put("m.bin", data, md5=right)
    assert meta.etag == right
    # A wrong MD5 (a body changed after it was hashed) is refused; the object stays.
    with pytest.raises(StoreError):
        await swift.put("m.bin", b"other bytes", md5=right)
    got_meta, got = await swift.get("m.bin")
    assert got == data and got_meta.etag == right


# --- what a live cluster does behind our back -----------------------------------------------


async def test_pages_above_the_clusters_listing_limit(swift_aio):
    # Swift refuses a listing whose limit is over its container_listing_limit (10000 here)
    # with a 412: the store asks for pages of the cluster's size instead.
    store = SwiftStore(container=unique(), page_size=50_000, **creds(swift_aio))
    try:
        await store.put("a", b"1")
        assert [o.key for o in (await list_all(store)).objects] == ["a"]
    finally:
        await store.close()


async def test_a_deleted_container_is_recreated_or_reported(swift_aio):
    name = unique("gone")
    store = SwiftStore(container=name, **creds(swift_aio))
    strict = SwiftStore(container=name, create_container=False, **creds(swift_aio))
    try:
        await store.put("a", b"1")
        await strict.put("b", b"2")

        async def drop_container() -> None:
            await store.delete_many(["a", "b"])
            await store.call(lambda c: c.delete_container(name))

        await drop_container()
        # Not "no such file": the container is checked again, and made anew.
        meta = await store.put("a", b"again")
        assert meta.size == 5 and (await store.get("a"))[1] == b"again"

        await drop_container()
        with pytest.raises(NotFound, match=f"container '{name}' does not exist"):
            await strict.put("b", b"2")
        with pytest.raises(NotFound, match=f"container '{name}' does not exist"):
            await list_all(strict)
    finally:
        await store.close()
        await strict.close()


async def test_bulk_delete_of_names_too_long_for_a_bulk_line(swift):
    # 300 CJK characters: 900 bytes, 2,700 characters once percent-encoded, over the
    # line Swift's bulk middleware reads; such names are deleted one by one.
    long = ["長" * 300, f"d/{'名' * 290}"]
    short = [f"s{i}" for i in range(5)]
    for key in long + short:
        await swift.put(key, b"1")
    await swift.delete_many(long + short)
    assert await raw_names(swift) == []


async def test_temporaries_are_never_listed_and_stale_ones_are_swept(swift_aio):
    container = unique()
    store = SwiftStore(container=container, prefix="p", **creds(swift_aio))
    try:
        await store.put("nb.ipynb", b"{}")
        fresh, stale = f"p/{TEMP_DIR}stream-fresh", f"p/{TEMP_DIR}stream-stale"
        await store.call(lambda c: c.put_object(container, stale, b"x"))
        await anyio.sleep(4)
        await store.call(lambda c: c.put_object(container, fresh, b"x"))
        page = await list_all(store)
        assert [o.key for o in page.objects] == ["nb.ipynb"] and page.prefixes == []
        flat = await list_all(store, delimiter=None)
        assert [o.key for o in flat.objects] == ["nb.ipynb"]
    finally:
        await store.close()
    # The next server to start deletes what an interrupted upload left long ago (an hour;
    # three seconds here).
    again = SwiftStore(container=container, prefix="p", **creds(swift_aio))
    again.stale_temporary = timedelta(seconds=3)
    try:
        await again.connect()
        assert await raw_names(again) == [fresh, "p/nb.ipynb"]
    finally:
        await again.close()


# --- large objects: an ETag that is no MD5 of the bytes -------------------------------------


async def test_large_objects_say_their_etag_is_no_md5(swift):
    data = os.urandom(2 * MiB + 5)
    await put_large_objects(swift, data)
    await swift.put("plain.bin", data)
    await swift.put("empty.bin", b"")
    await swift.put("folder/", b"")
    for key in ("slo.bin", "dlo.bin"):
        read, got = await swift.get(key)
        assert got == data
        for meta in [read, await swift.head(key), (await swift.get_stream(key))[0]]:
            assert meta.size == len(data) and meta.etag != md5(data)
            assert not meta.etag_is_md5 and meta.md5 is None, meta
    assert (await swift.head("plain.bin")).md5 == md5(data)
    assert (await swift.head("empty.bin")).md5 == md5(b"")

    listed = {m.key: m for m in (await list_all(swift, delimiter=None)).objects}
    assert listed["slo.bin"].size == len(data) and listed["slo.bin"].md5 is None
    # A DLO lists as its empty manifest, so no empty entry is vouched for (HEAD tells).
    assert listed["dlo.bin"].size == 0 and listed["dlo.bin"].md5 is None
    assert listed["empty.bin"].md5 is None
    assert listed["plain.bin"].md5 == md5(data)
    assert listed["folder/"].md5 == md5(b"")  # markers are ours, never large objects


async def test_a_versioned_containers_entries_are_vouched_for(swift_aio):
    # Object versioning lists every object as a symlink to its current version, with
    # that version's size and hash: plain objects, to be trusted as such.
    container = new_container(swift_aio, "v", **{"X-Versions-Enabled": "true"})
    store = SwiftStore(container=container, **creds(swift_aio))
    try:
        await store.put("a.txt", b"one")
        await store.put("a.txt", b"two")
        [listed] = (await list_all(store, delimiter=None)).objects
        assert listed.size == 3 and listed.md5 == md5(b"two")
    finally:
        await store.close()
