"""The Store contract, once, for every store (``kinds.STORE_KINDS``) against its real server.

Each test gets a fresh, empty store, both at the root of its space and under a
prefix (``nested/pré fix/``); ``root`` is the same space seen without the prefix.
A store that genuinely cannot do something is listed in ``GAPS`` with the reason,
which marks that one test ``xfail(strict=True)`` for that kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel
import pytest
from traitlets.config import Config

from bookstore.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
)
from bookstore.stores.base import (
    MAX_METADATA_BYTES,
    MAX_METADATA_VALUE,
    IfMatch,
    ListPage,
    ObjectMeta,
    Store,
    list_all,
)
from bookstore.stores.memory import MemoryStore
from bookstore.stores.registry import open_store

PREFIXES = {"root": "", "prefix": "nested/pré fix/"}

#: (kind, test name) -> why that store cannot pass that test.
GAPS: dict[tuple[str, str], str] = {
    ("local", "test_file_and_folder_with_one_name"): (
        "a file system cannot hold a file and a directory of the same name"
    ),
    ("swift", "test_concurrent_creates_have_one_winner"): (
        "Swift checks If-None-Match: * when a PUT starts, so overlapping uploads all win"
    ),
    ("swift", "test_concurrent_if_match_have_one_winner"): (
        "Swift ignores If-Match on PUT: SwiftStore HEADs, compares, then PUTs"
    ),
}
#: Objects in the pagination test: Swift on loopback creates ~100 objects/s on 2 cores.
MANY_KEYS: dict[str, int] = {"swift": 300}


@pytest.fixture(params=list(PREFIXES))
def prefix(request: pytest.FixtureRequest) -> str:
    return PREFIXES[request.param]


def open_with(url: str, options: dict[str, dict]) -> Store:
    """Open ``url`` configured as ``kinds.store_config`` says (traitlets sections)."""
    return open_store(url, config=Config(options))


@pytest.fixture
def root(store_config: tuple[str, dict], jp_asyncio_loop) -> Iterator[Store]:
    """The store's whole space, without its prefix: to see where objects really land."""
    url, options = store_config
    opened = open_with(url, options)
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())


@pytest.fixture
def store(
    store_config: tuple[str, dict],
    store_kind: str,
    prefix: str,
    request: pytest.FixtureRequest,
    jp_asyncio_loop,
) -> Iterator[Store]:
    """A fresh, empty store of ``store_kind``, under ``prefix``."""
    reason = GAPS.get((store_kind, request.function.__name__))
    if reason:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    url, options = store_config
    opened = open_with(f"{url.rstrip('/')}/{prefix}" if prefix else url, options)
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())
    if isinstance(opened, MemoryStore) and opened.name:
        MemoryStore.forget(opened.name)


# -- helpers ---------------------------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    return hashlib.shake_256(f"{seed}:{size}".encode()).digest(size) if size else b""


async def pages(store: Store, prefix: str = "", delimiter: str | None = "/") -> list[ListPage]:
    return [page async for page in store.list(prefix, delimiter=delimiter)]


async def names(
    store: Store, prefix: str = "", delimiter: str | None = "/"
) -> tuple[list[str], list[str]]:
    listing = await list_all(store, prefix, delimiter=delimiter)
    return [m.key for m in listing.objects], listing.prefixes


async def put_all(store: Store, keys: list[str], *, concurrency: int = 32) -> None:
    """Put ``key.encode()`` at every key, ``concurrency`` at a time."""
    limit = anyio.Semaphore(concurrency)

    async def one(key: str) -> None:
        async with limit:
            await store.put(key, key.encode())

    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(one, key)


async def chunked(data: bytes, sizes: tuple[int, ...] = (65536, 1, 300_000, 7)):
    """``data`` as an async generator of irregular chunks."""
    i = n = 0
    while i < len(data):
        size = sizes[n % len(sizes)]
        yield data[i : i + size]
        i += size
        n += 1
        await anyio.lowlevel.checkpoint()


async def slow_body(data: bytes):
    """A body that takes a while, so that racing uploads overlap."""
    for i in range(0, len(data), 4):
        yield data[i : i + 4]
        await anyio.sleep(0.05)


class BodyFailed(Exception):
    pass


async def failing_body(data: bytes):
    yield data
    raise BodyFailed("the body broke off")


def assert_same_object(a: ObjectMeta, b: ObjectMeta) -> None:
    """The same stored object described twice (times may differ in resolution)."""
    assert (a.key, a.size, a.etag, a.content_type, dict(a.metadata)) == (
        b.key,
        b.size,
        b.etag,
        b.content_type,
        dict(b.metadata),
    )
    assert abs(a.last_modified - b.last_modified) < timedelta(seconds=2)


async def assert_absent(store: Store, key: str) -> None:
    with pytest.raises(NotFound):
        await store.head(key)


# -- shape -----------------------------------------------------------------------


async def test_is_a_store_with_a_safe_description(store: Store, store_config) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.description, str) and store.description
    for section in store_config[1].values():
        if section.get("key"):
            assert section["key"] not in store.description


async def test_close_twice(store: Store) -> None:
    await store.close()
    await store.close()


# -- reading what is not there ---------------------------------------------------


async def test_absent_key_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.head("nope.ipynb")
    with pytest.raises(NotFound):
        await store.get("nope.ipynb")
    with pytest.raises(NotFound):
        await store.get_stream("nope.ipynb")
    with pytest.raises(NotFound):
        await store.head("no/such/dir/")


async def test_folder_without_marker_is_no_object(store: Store) -> None:
    await store.put("d/x.txt", b"x")
    for key in ("d", "d/"):
        with pytest.raises(NotFound):
            await store.head(key)
        with pytest.raises(NotFound):
            await store.get(key)


# -- put / get -------------------------------------------------------------------


async def test_put_get_roundtrip(store: Store) -> None:
    data = b'{"cells": []}\n'
    before = datetime.now(UTC)
    put = await store.put("nb.ipynb", data, content_type="application/x-ipynb+json")
    after = datetime.now(UTC)
    assert put.key == "nb.ipynb" and put.size == len(data)
    assert put.content_type == "application/x-ipynb+json"
    assert before - timedelta(seconds=5) <= put.last_modified <= after + timedelta(seconds=5)
    head = await store.head("nb.ipynb")
    meta, got = await store.get("nb.ipynb")
    assert got == data
    assert_same_object(head, put)
    assert_same_object(meta, put)


async def test_etag_is_the_md5_of_the_bytes(store: Store) -> None:
    for i, data in enumerate([b"", b"x", blob(1 << 20)]):
        key = f"e{i}.bin"
        put = await store.put(key, data)
        assert put.etag == md5(data)
        assert (await store.head(key)).etag == md5(data)
        assert (await store.get(key))[0].etag == md5(data)
        assert (await store.get_stream(key))[0].etag == md5(data)
        # ...and the store says so, so nobody reads the bytes to learn their MD5.
        for meta in [
            put,
            await store.head(key),
            (await store.get(key))[0],
            (await store.get_stream(key))[0],
        ]:
            assert meta.etag_is_md5 and meta.md5 == md5(data), meta
    listed = (await list_all(store)).objects
    assert [m.etag for m in listed] == [md5(b""), md5(b"x"), md5(blob(1 << 20))]
    # A listing may leave an empty entry unvouched (on Swift it may be a DLO manifest).
    assert [m.md5 for m in listed[1:]] == [md5(b"x"), md5(blob(1 << 20))]
    assert listed[0].md5 in (md5(b""), None)


async def test_folder_markers_have_md5_etags_in_listings_too(store: Store) -> None:
    await store.put("d/", b"")
    await store.put("e/", b"hello")
    listed = (await list_all(store, delimiter=None)).objects
    assert [(m.key, m.md5) for m in listed] == [("d/", md5(b"")), ("e/", md5(b"hello"))]
    assert (await store.head("d/")).md5 == md5(b"")


async def test_last_modified_is_utc_and_recent(store: Store) -> None:
    await store.put("t.txt", b"t")
    for meta in [await store.head("t.txt"), (await list_all(store)).objects[0]]:
        assert meta.last_modified.tzinfo is not None
        assert meta.last_modified.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - meta.last_modified) < timedelta(seconds=30)


async def test_empty_object(store: Store) -> None:
    put = await store.put("empty", b"")
    assert put.size == 0
    meta, data = await store.get("empty")
    assert data == b"" and meta.size == 0
    _, chunks = await store.get_stream("empty")
    assert [c async for c in chunks if c] == []


async def test_content_type_is_kept_and_defaulted(store: Store) -> None:
    await store.put("a.json", b"{}", content_type="application/json")
    await store.put("b.bin", b"?")
    assert (await store.head("a.json")).content_type == "application/json"
    assert (await store.get("a.json"))[0].content_type == "application/json"
    default = (await store.head("b.bin")).content_type
    assert isinstance(default, str) and default


async def test_user_metadata_roundtrip(store: Store) -> None:
    given = {"Author": "Ada Lovelace; 1815", "x-kernel": "python3", "sha": "0" * 64}
    put = await store.put("m.txt", b"m", metadata=given)
    expected = {"author": "Ada Lovelace; 1815", "x-kernel": "python3", "sha": "0" * 64}
    assert dict(put.metadata) == expected
    assert dict((await store.head("m.txt")).metadata) == expected
    assert dict((await store.get("m.txt"))[0].metadata) == expected
    assert dict((await store.get_stream("m.txt"))[0].metadata) == expected


async def test_metadata_names_and_values_within_every_stores_limits(store: Store) -> None:
    # Swift turns "_" in header names into "-" and caps values at 256 bytes: refused everywhere.
    # Spaces around a value: HTTP drops them, so it would not read back as written.
    for bad in (
        {"my_key": "v"},
        {"k": "v" * (MAX_METADATA_VALUE + 1)},
        {"k" * 129: "v"},
        {"k": " v"},
        {"k": "v "},
    ):
        with pytest.raises(InvalidRequest):
            await store.put("u.txt", b"u", metadata=bad)
    await assert_absent(store, "u.txt")


async def test_content_types_http_cannot_carry_are_refused(store: Store) -> None:
    # requests would refuse such a header (Swift, S3): the caller's mistake, a 400 anywhere.
    for bad in (" text/plain", "text/plain ", "text/\nplain"):
        with pytest.raises(InvalidRequest):
            await store.put("t.txt", b"x", content_type=bad)
    await assert_absent(store, "t.txt")


async def test_overwrite_replaces_bytes_type_and_metadata(store: Store) -> None:
    await store.put("o.txt", b"one", content_type="text/plain", metadata={"a": "1"})
    put = await store.put("o.txt", b"two!", content_type="text/markdown", metadata={"b": "2"})
    meta, data = await store.get("o.txt")
    assert data == b"two!"
    assert meta.content_type == "text/markdown"
    assert dict(meta.metadata) == {"b": "2"}  # replaced, not merged
    assert_same_object(meta, put)


async def test_metadata_too_large_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRequest):
        await store.put("big.txt", b"x", metadata={"k": "v" * MAX_METADATA_BYTES})
    with pytest.raises(InvalidRequest):
        await store.put("bad.txt", b"x", metadata={"ключ": "v"})
    with pytest.raises(InvalidRequest):
        await store.put("bad.txt", b"x", metadata={"k": "é"})
    await assert_absent(store, "big.txt")
    await assert_absent(store, "bad.txt")


async def test_metadata_at_the_limit_is_kept(store: Store) -> None:
    metadata = {f"k{i}": f"{i}" * 126 for i in range(MAX_METADATA_BYTES // 128)}
    await store.put("limit.txt", b"x", metadata=metadata)
    assert dict((await store.head("limit.txt")).metadata) == metadata


async def test_metadata_long_value_is_kept(store: Store) -> None:
    metadata = {"k": "v" * MAX_METADATA_VALUE}
    await store.put("long.txt", b"x", metadata=metadata)
    assert dict((await store.head("long.txt")).metadata) == metadata


# -- put modes -------------------------------------------------------------------


async def test_create_on_absent_key(store: Store) -> None:
    put = await store.put("c.txt", b"first", mode="create")
    assert (await store.get("c.txt"))[1] == b"first"
    assert put.etag == md5(b"first")


async def test_create_twice_is_already_exists(store: Store) -> None:
    await store.put("c.txt", b"first", metadata={"v": "1"})
    with pytest.raises(AlreadyExists):
        await store.put("c.txt", b"second", mode="create", metadata={"v": "2"})
    with pytest.raises(AlreadyExists):
        await store.put("c.txt", chunked(b"streamed"), mode="create")
    meta, data = await store.get("c.txt")
    assert data == b"first" and dict(meta.metadata) == {"v": "1"}


async def test_create_folder_marker_twice(store: Store) -> None:
    await store.put("f/", b"", mode="create")
    with pytest.raises(AlreadyExists):
        await store.put("f/", b"", mode="create")


async def test_concurrent_creates_have_one_winner(store: Store) -> None:
    outcomes: dict[int, str] = {}

    async def create(i: int) -> None:
        try:
            await store.put("race.txt", slow_body(f"writer {i}".encode()), mode="create")
            outcomes[i] = "won"
        except AlreadyExists:
            outcomes[i] = "lost"

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(create, i)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1 and len(outcomes) == 8
    assert (await store.get("race.txt"))[1] == f"writer {winners[0]}".encode()


async def test_if_match_with_current_etag_writes(store: Store) -> None:
    first = await store.put("i.txt", b"v1")
    second = await store.put("i.txt", b"v2", mode=IfMatch(first.etag or ""))
    assert second.etag == md5(b"v2") and second.etag != first.etag
    third = await store.put("i.txt", chunked(b"v3"), mode=IfMatch(second.etag or ""))
    assert (await store.get("i.txt"))[1] == b"v3"
    assert_same_object(await store.head("i.txt"), third)


async def test_if_match_with_stale_etag_is_precondition_failed(store: Store) -> None:
    first = await store.put("i.txt", b"v1", metadata={"v": "1"})
    await store.put("i.txt", b"v2", metadata={"v": "2"})
    with pytest.raises(PreconditionFailed):
        await store.put("i.txt", b"v3", mode=IfMatch(first.etag or ""))
    with pytest.raises(PreconditionFailed):
        await store.put("i.txt", chunked(b"v3"), mode=IfMatch(md5(b"nonsense")))
    meta, data = await store.get("i.txt")
    assert data == b"v2" and dict(meta.metadata) == {"v": "2"}


async def test_if_match_on_absent_key_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.put("gone.txt", b"x", mode=IfMatch(md5(b"x")))
    await assert_absent(store, "gone.txt")


async def test_concurrent_if_match_have_one_winner(store: Store) -> None:
    base = await store.put("cas.txt", b"base")
    outcomes: dict[int, str] = {}

    async def update(i: int) -> None:
        try:
            body = slow_body(f"writer {i}".encode())
            await store.put("cas.txt", body, mode=IfMatch(base.etag or ""))
            outcomes[i] = "won"
        except PreconditionFailed:
            outcomes[i] = "lost"

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(update, i)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, f"{len(winners)} writers all thought they won"
    assert (await store.get("cas.txt"))[1] == f"writer {winners[0]}".encode()


# -- streaming -------------------------------------------------------------------


async def test_streamed_put_equals_bytes(store: Store) -> None:
    data = blob(5 * (1 << 20) + 12345, seed=1)
    put = await store.put("big.bin", chunked(data), content_type="application/x-test")
    assert put.size == len(data) and put.etag == md5(data)
    meta, got = await store.get("big.bin")
    assert got == data
    assert meta.content_type == "application/x-test"
    assert_same_object(meta, put)


async def test_failed_stream_writes_nothing(store: Store) -> None:
    await store.put("keep.txt", b"original")
    with pytest.raises(BodyFailed):
        await store.put("new.txt", failing_body(b"partial"))
    with pytest.raises(BodyFailed):
        await store.put("keep.txt", failing_body(b"partial"))
    await assert_absent(store, "new.txt")
    assert (await store.get("keep.txt"))[1] == b"original"
    assert await names(store) == (["keep.txt"], [])


async def test_get_stream_chunks_are_at_most_chunk_size(store: Store) -> None:
    data = blob(300_001, seed=2)
    await store.put("s.bin", data, metadata={"k": "v"})
    for chunk_size in (65536, 1000, 1 << 20):
        meta, chunks = await store.get_stream("s.bin", chunk_size=chunk_size)
        got = [chunk async for chunk in chunks]
        assert all(0 < len(chunk) <= chunk_size for chunk in got)
        assert b"".join(got) == data
        assert meta.size == len(data) and dict(meta.metadata) == {"k": "v"}


async def test_abandoned_streams_do_not_break_the_store(store: Store) -> None:
    data = blob(200_000, seed=3)
    await store.put("s.bin", data)
    for _ in range(12):
        _, chunks = await store.get_stream("s.bin", chunk_size=1000)
        assert len(await anext(chunks)) == 1000
        del chunks
    assert (await store.get("s.bin"))[1] == data


# -- delete ----------------------------------------------------------------------


async def test_delete_is_idempotent(store: Store) -> None:
    await store.put("d.txt", b"d")
    await store.delete("d.txt")
    await assert_absent(store, "d.txt")
    await store.delete("d.txt")
    await store.delete("never/was.txt")
    assert await names(store) == ([], [])


async def test_delete_many_ignores_absent_keys(store: Store) -> None:
    keys = ["a.txt", "b/c.txt", "b/d/", "日本/語.txt"]
    for key in [*keys, "keep.txt"]:
        await store.put(key, b"x")
    await store.delete_many([*keys, "absent.txt", "b/absent/", "a.txt"])
    await store.delete_many([])
    assert await names(store, delimiter=None) == (["keep.txt"], [])


async def test_deleting_the_last_object_leaves_no_folder(store: Store) -> None:
    await store.put("p/q/r.txt", b"x")
    await store.delete("p/q/r.txt")
    assert await names(store) == ([], [])
    assert len(await pages(store)) == 1


async def test_folder_marker_outlives_its_children(store: Store) -> None:
    await store.put("f/", b"")
    await store.put("f/nb.ipynb", b"{}")
    await store.delete("f/nb.ipynb")
    assert await names(store) == ([], ["f/"])
    assert await names(store, "f/") == (["f/"], [])
    await store.delete("f/")
    assert await names(store) == ([], [])


async def test_deleting_a_marker_keeps_the_children(store: Store) -> None:
    await store.put("f/", b"")
    await store.put("f/x.txt", b"x")
    await store.delete("f/")
    await assert_absent(store, "f/")
    assert (await store.get("f/x.txt"))[1] == b"x"
    assert await names(store) == ([], ["f/"])
    assert await names(store, "f/") == (["f/x.txt"], [])


async def test_delete_of_a_folder_without_marker_is_a_no_op(store: Store) -> None:
    await store.put("f/x.txt", b"x")
    await store.delete("f/")
    await store.delete("f")
    assert (await store.get("f/x.txt"))[1] == b"x"


# -- keys ------------------------------------------------------------------------

ODD_KEYS = [
    "my notes/draft 1 (copy).ipynb",
    "数据/分析 报告.ipynb",
    "emoji 🎉/party 🥳.txt",
    "عربي/ملف تجريبي.ipynb",
    "mixed/Ünïcödé ñ & + = % #.txt",
    " leading and trailing space /x.txt",
]


async def test_names_with_spaces_and_unicode(store: Store) -> None:
    for i, key in enumerate(ODD_KEYS):
        await store.put(key, f"{i}".encode())
    for i, key in enumerate(ODD_KEYS):
        assert (await store.get(key))[1] == f"{i}".encode()
        assert (await store.head(key)).key == key
    folders = sorted(key.split("/")[0] + "/" for key in ODD_KEYS)
    assert await names(store) == ([], folders)
    for key in ODD_KEYS:
        assert await names(store, key.split("/")[0] + "/") == ([key], [])
    assert await names(store, delimiter=None) == (sorted(ODD_KEYS), [])


async def test_folder_marker_objects(store: Store) -> None:
    put = await store.put("folder/", b"")
    assert put.key == "folder/" and put.size == 0
    assert (await store.head("folder/")).size == 0
    await store.put("with content/", b"hello")
    assert (await store.get("with content/"))[1] == b"hello"
    assert await names(store) == ([], ["folder/", "with content/"])
    assert await names(store, "folder/") == (["folder/"], [])
    listed = (await list_all(store, "with content/")).objects
    assert [(m.key, m.size) for m in listed] == [("with content/", 5)]
    assert await names(store, delimiter=None) == (["folder/", "with content/"], [])


async def test_file_and_folder_with_one_name(store: Store) -> None:
    await store.put("same", b"file")
    await store.put("same/child", b"child")
    await store.put("other/", b"")
    await store.put("other", b"file")
    assert (await store.get("same"))[1] == b"file"
    assert (await store.get("same/child"))[1] == b"child"
    assert await names(store) == (["other", "same"], ["other/", "same/"])


@pytest.mark.parametrize(
    "key", ["", "a\0b", "../escape", "/abs", "a/../b", "a//b", "./a", "a/./b", "..", "a/.."]
)
async def test_non_portable_keys_are_refused(store: Store, root: Store, key: str) -> None:
    with pytest.raises(InvalidRequest):
        await store.put(key, b"x")
    assert await names(root, delimiter=None) == ([], [])


async def test_listing_never_leaves_the_prefix(store: Store, root: Store, prefix: str) -> None:
    await root.put("outside.txt", b"out")
    await store.put("inside.txt", b"in")
    assert await names(store, "../", delimiter=None) == ([], [])
    assert len(await pages(store, "../")) == 1
    if prefix:
        assert await names(store, delimiter=None) == (["inside.txt"], [])
        assert await names(root, delimiter=None) == (
            sorted(["outside.txt", f"{prefix}inside.txt"]),
            [],
        )


async def test_prefix_holds_every_key(store: Store, root: Store, prefix: str) -> None:
    keys = ["a.txt", "b/", "b/c.txt", *ODD_KEYS[:3]]
    for key in keys:
        await store.put(key, key.encode())
    await store.copy("a.txt", "copied.txt")
    await store.copy_blind("a.txt", "copied blind.txt")
    await store.put("p1", b"1")
    await store.put("p2", b"2")
    await store.compose("composed.txt", ["p1", "p2"])
    everything = [*keys, "copied.txt", "copied blind.txt", "composed.txt", "p1", "p2"]
    found, _ = await names(root, delimiter=None)
    assert sorted(found) == sorted(prefix + key for key in everything)
    assert (await root.get(prefix + "a.txt"))[1] == b"a.txt"
    if prefix:
        await root.put("a.txt", b"outside")  # the same key outside the prefix
        await store.delete("a.txt")
        assert (await root.get("a.txt"))[1] == b"outside"


# -- listing ---------------------------------------------------------------------

TREE = ["a.txt", "b/c.txt", "b/d/e.txt", "b/d/f/g.txt", "b/x", "c/", "z"]


async def test_empty_listing_is_one_empty_page(store: Store) -> None:
    for prefix, delimiter in [("", "/"), ("", None), ("absent/", "/"), ("absent", None)]:
        got = await pages(store, prefix, delimiter)
        assert got == [ListPage([], [])]
    await store.put("x.txt", b"x")
    assert await pages(store, "absent/") == [ListPage([], [])]


async def test_listing_with_delimiter_at_each_depth(store: Store) -> None:
    for key in TREE:
        await store.put(key, key.encode())
    assert await names(store) == (["a.txt", "z"], ["b/", "c/"])
    assert await names(store, "b/") == (["b/c.txt", "b/x"], ["b/d/"])
    assert await names(store, "b/d/") == (["b/d/e.txt"], ["b/d/f/"])
    assert await names(store, "b/d/f/") == (["b/d/f/g.txt"], [])
    assert await names(store, "c/") == (["c/"], [])
    # A prefix need not end at a "/".
    assert await names(store, "b/d/e") == (["b/d/e.txt"], [])
    assert await names(store, "b") == ([], ["b/"])
    assert await names(store, "b/d/f/g.txt") == (["b/d/f/g.txt"], [])


async def test_recursive_listing(store: Store) -> None:
    for key in TREE:
        await store.put(key, key.encode())
    assert await names(store, delimiter=None) == (TREE, [])
    assert await names(store, "b/", delimiter=None) == (
        ["b/c.txt", "b/d/e.txt", "b/d/f/g.txt", "b/x"],
        [],
    )
    assert await names(store, "b/d", delimiter=None) == (["b/d/e.txt", "b/d/f/g.txt"], [])


async def test_listing_metadata(store: Store) -> None:
    data = blob(4321, seed=4)
    put = await store.put("dir/obj.bin", data, content_type="application/x-thing")
    [listed] = (await list_all(store, "dir/")).objects
    assert (listed.key, listed.size, listed.etag) == ("dir/obj.bin", len(data), md5(data))
    assert listed.last_modified.utcoffset() == timedelta(0)
    assert abs(listed.last_modified - put.last_modified) < timedelta(seconds=2)
    assert listed.content_type in (None, "application/x-thing")


async def test_other_delimiter(store: Store) -> None:
    for key in ["x-1/a", "x-2", "x3", "y/z-w"]:
        await store.put(key, b"k")
    assert await names(store, delimiter="-") == (["x3"], ["x-", "y/z-"])
    assert await names(store, "x-", delimiter="-") == (["x-1/a", "x-2"], [])


# "c/b" sorts between "c.b" and "c0"; U+FF01 sorts before emoji in UTF-8 but after in UTF-16.
SORT_KEYS = ["A", "_", "a b", "c b", "c-b", "c.b", "c/b", "c0", "~", "é", "日本", "\uff01", "😀"]


async def test_keys_come_in_utf8_byte_order(store: Store) -> None:
    for key in reversed(SORT_KEYS):
        await store.put(key, b"s")
    by_bytes = sorted(SORT_KEYS, key=str.encode)
    assert await names(store, delimiter=None) == (by_bytes, [])
    objects, prefixes = await names(store)
    assert objects == [k for k in by_bytes if "/" not in k] and prefixes == ["c/"]


async def test_pagination_of_many_keys(store: Store, store_kind: str) -> None:
    count = MANY_KEYS.get(store_kind, 1200)
    keys = [f"many/{i:04d}.txt" for i in range(count)]
    await put_all(store, keys)
    store.page_size = count // 12  # type: ignore[attr-defined]
    got = await pages(store, "many/", delimiter=None)
    assert len(got) == 12
    assert all(len(p.objects) == count // 12 and not p.prefixes for p in got)
    assert [m.key for p in got for m in p.objects] == keys
    objects, prefixes = await names(store, "many/")
    assert objects == keys and prefixes == []
    assert await names(store) == ([], ["many/"])


async def test_pagination_with_rolled_up_prefixes(store: Store) -> None:
    keys = []
    for i in range(24):
        keys += [f"t/{i:02d}", f"t/{i:02d}-sub/a", f"t/{i:02d}-sub/b", f"t/{i:02d}-sub/c/"]
    await put_all(store, keys)
    for size in (1, 7, 10):
        store.page_size = size  # type: ignore[attr-defined]
        got = await pages(store, "t/")
        assert all(0 < len(p.objects) + len(p.prefixes) <= size for p in got)
        assert [m.key for p in got for m in p.objects] == [f"t/{i:02d}" for i in range(24)]
        assert [x for p in got for x in p.prefixes] == [f"t/{i:02d}-sub/" for i in range(24)]


# -- copy ------------------------------------------------------------------------


async def copy(store: Store, src: str, dst: str, blind: bool) -> ObjectMeta:
    """``copy``, or ``copy_blind`` and a HEAD: both must leave the same object."""
    if not blind:
        return await store.copy(src, dst)
    assert await store.copy_blind(src, dst) is None
    return await store.head(dst)


BLIND = pytest.mark.parametrize("blind", [False, True], ids=["copy", "copy_blind"])


@BLIND
async def test_copy_keeps_bytes_type_and_metadata(store: Store, blind: bool) -> None:
    data = blob(70_000, seed=5)
    src = await store.put(
        "src dir/ü.txt", data, content_type="text/x-special", metadata={"author": "ada"}
    )
    copied = await copy(store, "src dir/ü.txt", "dst 目录/ü copy.txt", blind)
    assert copied.key == "dst 目录/ü copy.txt"
    assert (copied.size, copied.etag, copied.content_type) == (
        len(data),
        md5(data),
        src.content_type,
    )
    assert dict(copied.metadata) == {"author": "ada"}
    meta, got = await store.get("dst 目录/ü copy.txt")
    assert got == data
    assert_same_object(meta, copied)
    assert (await store.get("src dir/ü.txt"))[1] == data


@BLIND
async def test_copy_overwrites_the_destination(store: Store, blind: bool) -> None:
    await store.put("a", b"new", metadata={"v": "a"})
    await store.put("b", b"old", metadata={"v": "b", "w": "x"})
    await copy(store, "a", "b", blind)
    meta, data = await store.get("b")
    assert data == b"new" and dict(meta.metadata) == {"v": "a"}


@BLIND
async def test_copy_of_absent_key_is_not_found(store: Store, blind: bool) -> None:
    with pytest.raises(NotFound):
        await copy(store, "nope", "dst", blind)
    await assert_absent(store, "dst")


# -- compose ---------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(5, 0, 3, 11), (3 << 19, 3 << 19, 1000)], ids=["small", "large"])
async def test_compose_concatenates_and_keeps_parts(store: Store, sizes: tuple[int, ...]) -> None:
    parts = {f"parts/{i}": blob(size, seed=i) for i, size in enumerate(sizes)}
    for key, data in parts.items():
        await store.put(key, data)
    whole = b"".join(parts.values())
    meta = await store.compose("whole.bin", list(parts), content_type="application/x-whole")
    assert (meta.key, meta.size, meta.content_type) == (
        "whole.bin",
        len(whole),
        "application/x-whole",
    )
    head, got = await store.get("whole.bin")
    assert got == whole
    assert head.etag == meta.etag and head.size == len(whole)
    for key, data in parts.items():
        assert (await store.get(key))[1] == data


async def test_compose_with_a_missing_part_writes_nothing(store: Store) -> None:
    await store.put("p1", blob(10, 1))
    await store.put("p3", blob(10, 3))
    for parts in (["missing", "p1", "p3"], ["p1", "missing", "p3"], ["p1", "p3", "missing"]):
        with pytest.raises(NotFound):
            await store.compose("dst", parts)
        await assert_absent(store, "dst")
    await store.put("dst", b"before")
    with pytest.raises(NotFound):
        await store.compose("dst", ["p1", "missing"])
    assert (await store.get("dst"))[1] == b"before"
    assert await names(store, delimiter=None) == (["dst", "p1", "p3"], [])


async def test_compose_into_one_of_its_parts(store: Store) -> None:
    await store.put("log", b"first ")
    await store.put("more", b"second")
    await store.compose("log", ["log", "more"])
    assert (await store.get("log"))[1] == b"first second"
