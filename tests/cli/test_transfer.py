"""The copy engine under the commands: ``bookstore.transfer``."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest
from traitlets.config import Config

from bookstore import errors, transfer
from bookstore.stores.registry import open_store
from kinds import unique


@pytest.mark.parametrize(
    ("rel", "plain", "with_checkpoints"),
    [
        ("a.ipynb", True, True),
        ("dir/", True, True),
        ("", True, True),
        (".bookstore/checkpoints/a.ipynb/20240101T000000-000000Z", False, True),
        ("alice/.bookstore/checkpoints/a.ipynb/1", False, True),
        (".bookstore/uploads/a.bin/part-00000001", False, False),
        (".bookstore/other", False, False),
        (".bookstore/checkpoints/", False, False),
        (".bookstore-tmp/x", False, False),
        ("a/.bookstore-dir", False, False),
        (".bookstorefoo/x", True, True),
    ],
)
def test_what_a_tree_includes(rel, plain, with_checkpoints):
    assert transfer.wanted(rel) is plain
    assert transfer.wanted(rel, checkpoints=True) is with_checkpoints


def swift_store(swift_aio, container: str):
    auth = {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": swift_aio.key}
    return open_store(f"swift://{container}", config=Config({"SwiftStore": auth}))


async def test_large_objects_stream_with_bounded_memory(swift_aio, tmp_path):
    size = 40 << 20
    data = os.urandom(size)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(data)
    local = open_store(f"file://{tmp_path / 'src'}")
    back = open_store(f"file://{tmp_path / 'back'}")
    remote = swift_store(swift_aio, unique("big"))
    try:
        tracemalloc.start()
        try:
            up = await transfer.sync(local, "", remote, "")
            _, up_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            down = await transfer.sync(remote, "", back, "")
            _, down_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert up.transferred == down.transferred == ["big.bin"]
        # Whole-object copies would hold 40 MiB at least once; streaming holds a few chunks.
        assert up_peak < size / 4, up_peak
        assert down_peak < size / 4, down_peak
        got = (tmp_path / "back" / "big.bin").read_bytes()
        assert hashlib.md5(got).digest() == hashlib.md5(data).digest()
    finally:
        for store in (local, back, remote):
            await store.close()


async def test_content_type_and_metadata_travel_with_the_bytes(swift_aio):
    src = swift_store(swift_aio, unique("meta"))
    dst = open_store(f"memory://{unique('meta')}")
    try:
        await src.put(
            "nb.ipynb",
            b"{}",
            content_type="application/x-ipynb+json",
            metadata={"sha256": hashlib.sha256(b"{}").hexdigest()},
        )
        report = await transfer.sync(src, "", dst, "")
        assert report.transferred == ["nb.ipynb"]
        meta = await dst.head("nb.ipynb")
        assert meta.content_type == "application/x-ipynb+json"
        assert meta.metadata == {"sha256": hashlib.sha256(b"{}").hexdigest()}
    finally:
        await src.close()
        await dst.close()


async def test_unchanged_files_without_md5_etags_are_hashed_not_copied(tmp_path):
    """Plain files on disk have no MD5 ETag: equal size alone is not trusted."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "same.txt").write_bytes(b"same")
    (tmp_path / "a" / "diff.txt").write_bytes(b"AAAA")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "same.txt").write_bytes(b"same")
    (tmp_path / "b" / "diff.txt").write_bytes(b"BBBB")
    a, b = open_store(f"file://{tmp_path / 'a'}"), open_store(f"file://{tmp_path / 'b'}")
    try:
        plan = await transfer.plan(a, "", b, "")
        assert {(i.rel, i.action, i.reason) for i in plan.items} == {
            ("same.txt", "skip", "same"),
            ("diff.txt", "copy", "md5"),
        }
    finally:
        await a.close()
        await b.close()


async def test_missing_source_is_not_found(tmp_path):
    store = open_store(f"memory://{unique('empty')}")
    try:
        with pytest.raises(errors.NotFound):
            await transfer.sync(store, "nothing/here", store, "elsewhere")
    finally:
        await store.close()


async def test_permission_denied_stops_the_run(swift_aio):
    """A destination we may read but not write: the first refusal ends the run (raised),
    instead of one failure per object."""
    from swiftclient.client import Connection

    container = unique("ro")
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    try:
        conn.put_container(container, headers={"X-Container-Read": "test:tester3"})
    finally:
        conn.close()
    src = open_store(f"memory://{unique('src')}")
    for i in range(20):
        await src.put(f"f{i:02d}.txt", b"x")
    reader = {"auth_url": swift_aio.auth_url, "user": "test:tester3", "key": "testing3"}
    dst = open_store(f"swift://{container}", config=Config({"SwiftStore": reader}))
    try:
        steps = await transfer.plan(src, "", dst, "")
        assert len(steps.of("copy")) == 20
        with pytest.raises(errors.PermissionDenied):
            await transfer.run(steps, jobs=2)
    finally:
        await src.close()
        await dst.close()
