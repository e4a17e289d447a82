"""The copy engine under the commands: ``bookstore.transfer``."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from traitlets.config import Config

from bookstore import errors, transfer
from bookstore.stores.base import ObjectMeta, Store
from bookstore.stores.registry import open_store
from kinds import new_container, s3_options, unique
from swift_objects import put_large_objects

MiB = 1 << 20


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
    container = new_container(swift_aio, "ro", **{"X-Container-Read": "test:tester3"})
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


# --- what an ETag vouches for: reads only where the store says it is no MD5 --------------


class CountingReads:
    """A store whose reads of object bytes (``get``, ``get_stream``) are counted by key."""

    def __init__(self, store: Store) -> None:
        self.store, self.reads = store, Counter()

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        self.reads[key] += 1
        return await self.store.get(key)

    async def get_stream(self, key: str, *, chunk_size: int = 1 << 20):
        self.reads[key] += 1
        return await self.store.get_stream(key, chunk_size=chunk_size)


async def test_a_changed_object_of_the_same_size_is_read_once(store):
    """Every store vouches for its plain objects' MD5s: planning compares them without
    reading either side, and the copy reads the source once."""
    src, dst = CountingReads(store), CountingReads(open_store(f"memory://{unique('dst')}"))
    try:
        for key, mine, theirs in [
            ("changed.txt", b"new!", b"old!"),
            ("same.txt", b"same", b"same"),
        ]:
            await store.put(key, mine)
            await dst.put(key, theirs)
        report = await transfer.sync(src, "", dst, "")
        assert (report.transferred, report.skipped) == (["changed.txt"], ["same.txt"])
        assert (await dst.get("changed.txt"))[1] == b"new!"
        assert dict(src.reads) == {"changed.txt": 1}
        assert dict(dst.reads) == {"changed.txt": 1}  # the check above, nothing else
    finally:
        await dst.close()


async def test_swift_large_objects_are_read_once_per_copy_and_compared_by_bytes(swift_aio):
    """An SLO's or DLO's ETag is no MD5 of its bytes and SwiftStore says so: the bytes
    are read to compare, once, and a copy is not read a second time to be checked."""
    data = os.urandom(3 * MiB + 5)
    swift = swift_store(swift_aio, unique("large"))
    dst = open_store(f"memory://{unique('dst')}")
    src = CountingReads(swift)
    try:
        await put_large_objects(swift, data)
        first = await transfer.sync(src, "", dst, "")
        assert first.ok and sorted(first.transferred) == ["dlo.bin", "slo.bin"]
        assert dict(src.reads) == {"dlo.bin": 1, "slo.bin": 1}
        for key in ("dlo.bin", "slo.bin"):
            assert (await dst.get(key))[1] == data

        src.reads.clear()
        again = await transfer.sync(src, "", dst, "")
        assert (again.transferred, sorted(again.skipped)) == ([], ["dlo.bin", "slo.bin"])
        assert dict(src.reads) == {"dlo.bin": 1, "slo.bin": 1}  # to compare

        # Other bytes of the same size at the destination: copied, never skipped.
        other = bytes([data[0] ^ 0xFF]) + data[1:]
        for key in ("dlo.bin", "slo.bin"):
            await dst.put(key, other)
        src.reads.clear()
        third = await transfer.sync(src, "", dst, "")
        assert third.ok and sorted(third.transferred) == ["dlo.bin", "slo.bin"]
        assert dict(src.reads) == {"dlo.bin": 2, "slo.bin": 2}  # to compare, to copy
        for key in ("dlo.bin", "slo.bin"):
            assert (await dst.get(key))[1] == data
    finally:
        await swift.close()
        await dst.close()


async def test_large_objects_at_the_destination_are_compared_by_their_bytes(swift_aio):
    """An SLO holding the source's bytes is left alone; a DLO, which lists as an empty
    object, is not taken for the empty file the source holds."""
    data = os.urandom(2 * MiB + 1)
    swift = swift_store(swift_aio, unique("large"))
    src = open_store(f"memory://{unique('src')}")
    try:
        await put_large_objects(swift, data)
        await src.put("slo.bin", data)
        await src.put("dlo.bin", b"")
        report = await transfer.sync(src, "", swift, "")
        assert report.ok
        assert (report.skipped, report.transferred) == (["slo.bin"], ["dlo.bin"])
        assert (await swift.get("dlo.bin"))[1] == b""
        assert (await swift.get("slo.bin"))[1] == data
    finally:
        await swift.close()
        await src.close()


async def test_swift_large_objects_seen_through_s3_copy_and_check_out(swift_aio):
    """Through Swift's S3 API an SLO's ETag is ``...-N`` (no MD5), but a DLO's looks like
    one and is not: it lists as an empty object and HEADs bigger, which tells. Copied
    once, then verified and skipped."""
    data = os.urandom(2 * MiB + 3)
    container = unique("large")
    swift = swift_store(swift_aio, container)
    s3 = open_store(f"s3://{container}/", config=Config({"S3Store": s3_options(swift_aio)}))
    src = CountingReads(s3)
    dst = open_store(f"memory://{unique('dst')}")
    try:
        await put_large_objects(swift, data)
        report = await transfer.sync(src, "", dst, "")
        assert report.ok and sorted(report.transferred) == ["dlo.bin", "slo.bin"]
        for key in ("dlo.bin", "slo.bin"):
            assert (await dst.get(key))[1] == data
        assert dict(src.reads) == {"dlo.bin": 1, "slo.bin": 1}
        again = await transfer.sync(src, "", dst, "", verify=True)
        assert again.ok and again.transferred == []
    finally:
        for store in (swift, s3, dst):
            await store.close()


class Damaged(CountingReads):
    """Reads come back damaged: ``flip`` the first byte of the first read of each key,
    or ``cut`` its last byte off (announcing the full size). ``unvouched``: the store
    does not vouch for its ETags (as for a Swift large object)."""

    def __init__(self, store: Store, *, flip=False, cut=False, unvouched=False) -> None:
        super().__init__(store)
        self.flip, self.cut, self.unvouched = flip, cut, unvouched

    def _damage(self, key: str, meta: ObjectMeta, data: bytes) -> tuple[ObjectMeta, bytes]:
        if self.unvouched:
            meta = dataclasses.replace(meta, etag_is_md5=False)
        if self.reads[key] > 1:
            return meta, data
        if self.flip:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if self.cut:
            data = data[:-1]
        return meta, data

    async def list(self, prefix="", *, delimiter="/"):
        async for page in self.store.list(prefix, delimiter=delimiter):
            if self.unvouched:
                objects = [dataclasses.replace(m, etag_is_md5=False) for m in page.objects]
                page = dataclasses.replace(page, objects=objects)
            yield page

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        meta, data = await super().get(key)
        return self._damage(key, meta, data)

    async def get_stream(self, key: str, *, chunk_size: int = 1 << 20):
        meta, chunks = await super().get_stream(key, chunk_size=chunk_size)
        meta, data = self._damage(key, meta, b"".join([c async for c in chunks]))

        async def body() -> AsyncIterator[bytes]:
            for i in range(0, len(data), chunk_size):
                yield data[i : i + chunk_size]

        return meta, body()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("unvouched", [False, True], ids=["md5", "no-md5"])
async def test_a_short_read_is_refused_and_nothing_is_kept(streamed, unvouched):
    """Its size is checked whatever the ETag, before the destination keeps the copy."""
    inner, dst = open_store(f"memory://{unique('src')}"), open_store(f"memory://{unique('dst')}")
    src = Damaged(inner, cut=True, unvouched=unvouched)
    try:
        await inner.put("a.bin", os.urandom(3 * MiB))
        report = await transfer.sync(
            src, "", dst, "", stream_threshold=MiB if streamed else 8 * MiB
        )
        assert "3145727 bytes read, 3145728 expected" in report.failed["a.bin"]
        with pytest.raises(errors.NotFound):
            await dst.head("a.bin")
    finally:
        await inner.close()
        await dst.close()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_read_unlike_the_vouched_md5_is_corrupt(streamed):
    inner, dst = open_store(f"memory://{unique('src')}"), open_store(f"memory://{unique('dst')}")
    src = Damaged(inner, flip=True)
    data = os.urandom(2 * MiB)
    try:
        await inner.put("a.bin", data)
        threshold = MiB if streamed else 8 * MiB
        report = await transfer.sync(src, "", dst, "", stream_threshold=threshold)
        assert "corrupt" in report.failed["a.bin"]
        assert dict(src.reads) == {"a.bin": 2}  # the copy, then a second read to be sure
        # The next run sees the difference and copies again.
        again = await transfer.sync(src, "", dst, "", stream_threshold=threshold)
        assert again.ok and again.transferred == ["a.bin"]
        assert (await dst.get("a.bin"))[1] == data
    finally:
        await inner.close()
        await dst.close()


class Misstored:
    """A destination that stores the bytes but answers with another ETag."""

    def __init__(self, store: Store, *, vouched: bool) -> None:
        self.store, self.vouched = store, vouched

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def put(self, key, data, **kwargs) -> ObjectMeta:
        meta = await self.store.put(key, data, **kwargs)
        return dataclasses.replace(meta, etag="0" * 32, etag_is_md5=self.vouched)


async def test_a_destination_md5_unlike_the_bytes_sent_is_corrupt_if_vouched_for():
    src = open_store(f"memory://{unique('src')}")
    await src.put("a.bin", b"bytes")
    try:
        for vouched in (True, False):
            dst = Misstored(open_store(f"memory://{unique('dst')}"), vouched=vouched)
            report = await transfer.sync(src, "", dst, "")
            if vouched:
                assert "the destination stored MD5 " + "0" * 32 in report.failed["a.bin"]
            else:
                assert report.ok and report.transferred == ["a.bin"]
            await dst.close()
    finally:
        await src.close()
