"""LocalStore only: what the shared contract (``test_contract.py``) cannot see.

The contract talks to every store through the Store protocol alone; these tests
also look at (and meddle with) the files under the root, as a person would:
the layout on disk, hand-made files and folders, files rewritten behind the
store's back, symlinks, stores without xattrs, and several processes racing.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from bookstore.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    StoreError,
)
from bookstore.stores.base import IfMatch, ObjectMeta, list_all
from bookstore.stores.keys import guess_content_type
from bookstore.stores.local import (
    EMPTY_MD5,
    MARKER_FILE,
    STAGING_DIR,
    XATTR,
    LocalStore,
)

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


@pytest.fixture
def local(tmp_path: Path, jp_asyncio_loop) -> Iterator[LocalStore]:
    """A LocalStore on ``tmp_path/root`` (which it creates on its first write)."""
    store = LocalStore.from_url(str(tmp_path / "root"), "")
    yield store
    jp_asyncio_loop.run_until_complete(store.close())


# -- helpers ---------------------------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def fallback_etag(path: Path) -> str:
    """The ETag the module docstring promises for unlabelled files: size-mtime_ns-inode."""
    st = os.stat(path, follow_symlinks=False)
    return f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"


def files_under(root: Path) -> dict[str, Path]:
    """Every non-directory entry under ``root`` (not following symlinks), by relative path."""
    found = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(root).as_posix()] = path
    return found


async def names(store: LocalStore, prefix: str = "", delimiter: str | None = "/"):
    listing = await list_all(store, prefix, delimiter=delimiter)
    return [m.key for m in listing.objects], listing.prefixes


async def listed(store: LocalStore, key: str) -> ObjectMeta:
    """``key``'s entry in the listing of its folder."""
    folder = key[: key.rstrip("/").rfind("/") + 1]
    listing = await list_all(store, folder)
    [meta] = [m for m in listing.objects if m.key == key]
    return meta


# -- layout ----------------------------------------------------------------------


async def test_local_files_are_browsable(local: LocalStore, tmp_path: Path) -> None:
    root = tmp_path / "root"
    meta = await local.put("a/b.ipynb", NOTEBOOK, content_type="application/x-ipynb+json")
    await local.put("a/c/", b"")

    outside_staging = {
        rel: path
        for rel, path in files_under(root).items()
        if not rel.startswith(f"{STAGING_DIR}/")
    }
    assert set(outside_staging) == {"a/b.ipynb", f"a/c/{MARKER_FILE}"}
    assert (root / "a" / "b.ipynb").read_bytes() == NOTEBOOK
    assert (root / "a" / "c" / MARKER_FILE).read_bytes() == b""
    assert not (root / "a" / "b.ipynb").is_symlink()
    # Staged writes were all moved into place or cleaned up.
    assert (root / STAGING_DIR).is_dir()
    assert list((root / STAGING_DIR).iterdir()) == []
    # The label lives next to the bytes: an MD5 ETag and the content type.
    info = json.loads(os.getxattr(root / "a" / "b.ipynb", XATTR))
    assert info["etag"] == meta.etag == md5(NOTEBOOK)
    assert info["content_type"] == "application/x-ipynb+json"
    # The staging dir and the marker file are never objects.
    assert await names(local, "", None) == (["a/b.ipynb", "a/c/"], [])
    assert await names(local) == ([], ["a/"])


async def test_local_deleting_the_last_object_prunes_empty_folders(
    local: LocalStore, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    await local.put("x/y/z/deep.txt", b"deep")
    await local.put("x/keep/", b"")
    await local.delete("x/y/z/deep.txt")
    # z and y are empty now and go; x still holds the marker of x/keep/.
    assert not (root / "x" / "y").exists()
    assert (root / "x" / "keep" / MARKER_FILE).is_file()
    await local.delete("x/keep/")
    assert not (root / "x").exists()
    assert root.is_dir()  # the root itself is never pruned
    assert await names(local, "", None) == ([], [])


# -- people's files --------------------------------------------------------------


async def test_local_hand_made_folders_and_files(local: LocalStore, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "empty").mkdir(parents=True)
    (root / "hand").mkdir()
    notes = root / "hand" / "notes.txt"
    notes.write_bytes(b"written by a person\n")
    os.mkdir(root / "hand" / "sub")

    assert await names(local) == ([], ["empty/", "hand/"])
    # An empty hand-made folder is a size-0 marker; a non-empty one just a prefix.
    assert await names(local, "empty/") == (["empty/"], [])
    assert await names(local, "hand/") == (["hand/notes.txt"], ["hand/sub/"])
    assert await names(local, "", None) == (["empty/", "hand/notes.txt", "hand/sub/"], [])

    entry = await listed(local, "hand/notes.txt")
    assert entry.size == len(b"written by a person\n")
    assert entry.etag == fallback_etag(notes)  # nobody labelled it with an MD5
    assert entry.content_type == "text/plain"

    meta, data = await local.get("hand/notes.txt")
    assert data == b"written by a person\n"
    assert (meta.size, meta.etag, meta.content_type) == (entry.size, entry.etag, "text/plain")
    assert meta.metadata == {}

    marker = await local.head("empty/")
    assert (marker.size, marker.etag) == (0, EMPTY_MD5)
    assert await local.get("empty/") == (marker, b"")
    _, chunks = await local.get_stream("empty/")
    assert [chunk async for chunk in chunks] == []
    with pytest.raises(NotFound):  # "hand" holds files: a prefix, not a marker
        await local.head("hand/")

    # A hand-made file can be updated conditionally on its fallback ETag.
    updated = await local.put("hand/notes.txt", b"edited", mode=IfMatch(entry.etag))
    assert updated.etag == md5(b"edited")
    assert notes.read_bytes() == b"edited"


async def test_local_file_changed_behind_our_back(local: LocalStore, tmp_path: Path) -> None:
    path = tmp_path / "root" / "n.ipynb"
    put = await local.put(
        "n.ipynb", NOTEBOOK, content_type="application/x-ipynb+json", metadata={"Author": "ann"}
    )
    assert put.etag == md5(NOTEBOOK)
    assert (await local.head("n.ipynb")).etag == put.etag

    edited = NOTEBOOK.replace(b"[]", b'[{"cell_type": "raw", "source": "x", "metadata": {}}]')
    assert len(edited) != len(NOTEBOOK)
    path.write_bytes(edited)  # same inode: our stale xattr stays on it

    head = await local.head("n.ipynb")
    meta, data = await local.get("n.ipynb")
    assert data == edited
    assert head.size == meta.size == len(edited)
    assert head.etag == meta.etag == fallback_etag(path)
    assert head.etag not in (put.etag, md5(edited))
    assert (await listed(local, "n.ipynb")).etag == head.etag
    # Type and metadata survive a hand edit.
    assert head.content_type == "application/x-ipynb+json"
    assert dict(head.metadata) == {"author": "ann"}

    with pytest.raises(PreconditionFailed):
        await local.put("n.ipynb", b"lost update", mode=IfMatch(put.etag))
    assert path.read_bytes() == edited
    saved = await local.put("n.ipynb", NOTEBOOK, mode=IfMatch(head.etag))
    assert saved.etag == md5(NOTEBOOK)
    assert path.read_bytes() == NOTEBOOK

    # Replaced by a new file (new inode, no xattr at all): the fallback again.
    path.with_name("n.ipynb.new").write_bytes(b"{}")
    os.replace(path.with_name("n.ipynb.new"), path)
    head = await local.head("n.ipynb")
    assert (head.size, head.etag) == (2, fallback_etag(path))
    with pytest.raises(PreconditionFailed):
        await local.put("n.ipynb", b"lost update", mode=IfMatch(saved.etag))


# -- symlinks --------------------------------------------------------------------


@pytest.fixture
def linked_root(tmp_path: Path) -> Path:
    """A root holding ``real.txt``, ``link.txt`` -> a secret file outside the root,
    and ``linkdir`` -> a directory outside it."""
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"secret")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner.txt").write_bytes(b"inner")
    (root / "real.txt").write_bytes(b"real")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    return root


async def test_local_symlinks_are_neither_listed_nor_followed(
    local: LocalStore, linked_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    assert await names(local) == (["real.txt"], [])
    assert await names(local, "", None) == (["real.txt"], [])
    assert await names(local, "link") == ([], [])

    for key in ("link.txt", "linkdir/inner.txt", "linkdir/"):
        with pytest.raises(NotFound):
            await local.head(key)
        with pytest.raises(NotFound):
            await local.get(key)
        with pytest.raises(NotFound):
            await local.get_stream(key)
    with pytest.raises(NotFound):
        await local.copy("link.txt", "stolen.txt")
    with pytest.raises(InvalidRequest):  # a write onto a person's symlink is refused
        await local.put("link.txt", b"x", mode=IfMatch("anything"))

    for key in ("linkdir/inner.txt", "linkdir/new.txt", "linkdir/sub/new.txt", "linkdir/d/"):
        with pytest.raises(InvalidRequest):
            await local.put(key, b"written through a symlink")
    with pytest.raises(InvalidRequest):
        await local.copy("real.txt", "linkdir/copied.txt")

    await local.delete("link.txt")  # not an object: nothing to delete
    await local.delete_many(["linkdir/inner.txt", "linkdir/"])

    assert (tmp_path / "secret.txt").read_bytes() == b"secret"
    assert sorted(p.name for p in outside.iterdir()) == ["inner.txt"]
    assert (outside / "inner.txt").read_bytes() == b"inner"
    assert (linked_root / "link.txt").is_symlink()
    assert (linked_root / "linkdir").is_symlink()


async def test_local_put_onto_a_file_symlink_is_refused(
    local: LocalStore, linked_root: Path, tmp_path: Path
) -> None:
    for mode in ("create", "overwrite"):
        with pytest.raises(InvalidRequest):
            await local.put("link.txt", b"x", mode=mode)
    assert (linked_root / "link.txt").is_symlink()
    assert (tmp_path / "secret.txt").read_bytes() == b"secret"


async def test_local_listing_does_not_follow_a_symlinked_folder(
    local: LocalStore, linked_root: Path
) -> None:
    assert await names(local, "linkdir/") == ([], [])
    assert await names(local, "linkdir/", None) == ([], [])
    assert await names(local, "linkdir/in") == ([], [])


# -- without xattrs --------------------------------------------------------------


async def test_local_without_xattrs(
    tmp_path: Path, jp_asyncio_loop, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test_local.without_xattrs")
    store = LocalStore.from_url(str(tmp_path / "root"), "", xattrs=False, log=log)
    path = tmp_path / "root" / "n.ipynb"
    try:
        with caplog.at_level(logging.WARNING, logger=log.name):
            first = await store.put(
                "n.ipynb",
                NOTEBOOK,
                content_type="application/x-ipynb+json",
                metadata={"author": "ann"},
            )
            await store.put("m.ipynb", b"{}", metadata={"author": "bob"})
        warnings = [r for r in caplog.records if r.name == log.name]
        assert len(warnings) == 1  # once per store, not once per write
        assert "metadata" in warnings[0].getMessage()

        assert first.etag == fallback_etag(path) != md5(NOTEBOOK)
        assert first.metadata == {}
        assert first.content_type == guess_content_type("n.ipynb")  # the label is not kept
        with pytest.raises(OSError) as no_label:
            os.getxattr(path, XATTR)
        assert no_label.value.errno == errno.ENODATA

        meta, data = await store.get("n.ipynb")
        assert data == NOTEBOOK
        assert (meta.etag, dict(meta.metadata)) == (first.etag, {})
        assert (await store.head("n.ipynb")).etag == first.etag
        assert (await listed(store, "n.ipynb")).etag == first.etag

        second = await store.put("n.ipynb", NOTEBOOK, mode=IfMatch(first.etag))
        assert second.etag == fallback_etag(path)
        assert second.etag != first.etag  # same bytes, still a new ETag
        with pytest.raises(PreconditionFailed):
            await store.put("n.ipynb", b"lost update", mode=IfMatch(first.etag))
        assert path.read_bytes() == NOTEBOOK
        with pytest.raises(AlreadyExists):
            await store.put("n.ipynb", b"again", mode="create")
    finally:
        await store.close()


async def test_local_xattrs_left_by_a_labelled_store_are_ignored_without_xattrs(
    local: LocalStore, tmp_path: Path
) -> None:
    """A store with ``xattrs=False`` on files an xattr store labelled: fallback ETags only."""
    await local.put("n.ipynb", NOTEBOOK, metadata={"author": "ann"})
    plain = LocalStore.from_url(str(tmp_path / "root"), "", xattrs=False)
    try:
        head = await plain.head("n.ipynb")
        assert head.etag == fallback_etag(tmp_path / "root" / "n.ipynb")
        assert head.metadata == {}
    finally:
        await plain.close()


# -- several processes -----------------------------------------------------------

RACERS = 4
#: Many short races: the window between a racer's existence check and its link is
#: tiny, so one race rarely lands two racers in it; twenty usually do at least once.
RACES = 20


def racer_body(racer: int) -> bytes:
    return f"written by racer {racer}\n".encode() * 200


def _race_creates(root: str, racer: int, keys: list[str], barrier, results) -> None:
    """In a child process: one LocalStore, ``create`` each key as soon as all are ready."""

    async def main() -> None:
        store = LocalStore.from_url(root, "")
        try:
            for key in keys:
                barrier.wait()
                try:
                    await store.put(key, racer_body(racer), mode="create")
                except AlreadyExists:
                    results.put((key, racer, "AlreadyExists"))
                except Exception as exc:  # reported, so the parent fails clearly
                    results.put((key, racer, f"{type(exc).__name__}: {exc}"))
                else:
                    results.put((key, racer, "won"))
        finally:
            await store.close()

    asyncio.run(main())


def _run_race(root: str, keys: list[str]) -> list[tuple[str, int, str]]:
    ctx = multiprocessing.get_context("spawn")  # no fork of pytest's threads and loop
    barrier = ctx.Barrier(RACERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_creates, args=(root, racer, keys, barrier, results))
        for racer in range(RACERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in range(RACERS * len(keys))]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return outcomes


async def test_local_racing_creates_across_stores(local: LocalStore, tmp_path: Path) -> None:
    root = tmp_path / "root"
    keys = [f"race/{n}.txt" for n in range(RACES)]
    outcomes = await anyio.to_thread.run_sync(_run_race, str(root), keys)

    for key in keys:
        mine = {racer: outcome for k, racer, outcome in outcomes if k == key}
        assert sorted(mine) == list(range(RACERS))
        winners = [racer for racer, outcome in mine.items() if outcome == "won"]
        assert len(winners) == 1, mine
        assert all(o == "AlreadyExists" for r, o in mine.items() if r != winners[0]), mine
        meta, data = await local.get(key)
        assert data == racer_body(winners[0])
        assert meta.etag == md5(data)
    assert await names(local, "race/") == (sorted(keys), [])
    assert list((root / STAGING_DIR).iterdir()) == []


# -- errors ----------------------------------------------------------------------

BAD_KEYS = [
    "../escape.txt",
    "a/../../escape.txt",
    "a/./b.txt",
    "a//b.txt",
    "nul\0byte.txt",
    "/etc/passwd",
    "/escape.txt",
    f"{STAGING_DIR}/x.tmp",
    f"a/{MARKER_FILE}",
]


async def test_local_errors_are_store_errors(local: LocalStore, tmp_path: Path) -> None:
    root = tmp_path / "root"
    await local.put("ok.txt", b"ok")
    for key in BAD_KEYS:
        with pytest.raises(InvalidRequest):
            await local.head(key)
        with pytest.raises(InvalidRequest):
            await local.get(key)
        with pytest.raises(InvalidRequest):
            await local.put(key, b"escaped")
        with pytest.raises(InvalidRequest):
            await local.delete(key)
        with pytest.raises(InvalidRequest):
            await local.copy("ok.txt", key)
    with pytest.raises(InvalidRequest):  # validated before anything is deleted
        await local.delete_many(["ok.txt", "../escape.txt"])
    assert (root / "ok.txt").read_bytes() == b"ok"
    assert not (tmp_path / "escape.txt").exists()
    assert await names(local, "../") == ([], [])

    def store_error(exc: BaseException) -> None:
        assert isinstance(exc, StoreError) and not isinstance(exc, OSError), repr(exc)

    # A file where a folder is needed.
    await local.put("a", b"a file")
    for key in ("a/b.txt", "a/", "a/b/c.txt"):
        with pytest.raises(InvalidRequest) as caught:
            await local.put(key, b"x")
        store_error(caught.value)
        with pytest.raises(NotFound):
            await local.get(key)
    # A folder where a file is needed.
    (root / "d.txt").mkdir()
    (root / "d.txt" / "inside").write_bytes(b"")
    with pytest.raises(InvalidRequest):
        await local.put("d.txt", b"x")
    with pytest.raises(NotFound):
        await local.get("d.txt")

    # The staging folder is a file: every write fails, as a StoreError.
    blocked_root = tmp_path / "blocked"
    blocked_root.mkdir()
    (blocked_root / STAGING_DIR).write_bytes(b"in the way")
    blocked = LocalStore.from_url(str(blocked_root), "")
    try:
        for write in (
            lambda: blocked.put("x.txt", b"x"),
            lambda: blocked.put("x/", b""),
            lambda: blocked.compose("x.txt", []),
        ):
            with pytest.raises(StoreError) as caught:
                await write()
            store_error(caught.value)
            assert isinstance(caught.value.__cause__, OSError)
    finally:
        await blocked.close()

    # The root itself is a file: reads find nothing, writes fail as StoreErrors.
    (tmp_path / "plain-file").write_bytes(b"not a directory")
    on_file = LocalStore.from_url(str(tmp_path / "plain-file"), "")
    try:
        with pytest.raises(NotFound):
            await on_file.head("x.txt")
        assert await names(on_file) == ([], [])
        with pytest.raises(StoreError) as caught:
            await on_file.put("x.txt", b"x")
        store_error(caught.value)
    finally:
        await on_file.close()
    assert (tmp_path / "plain-file").read_bytes() == b"not a directory"

    # A relative root is refused up front.
    with pytest.raises(ValueError):
        LocalStore.from_url("relative/dir", "")


# -- durability ------------------------------------------------------------------


@pytest.mark.parametrize("fsync", [True, False])
def test_a_put_fsyncs_the_folders_it_changed(tmp_path: Path, fsync: bool) -> None:
    """Under strace: after the rename, the file's folder and the new folders' parents are
    fsynced (else a crash can lose the rename); nothing at all with fsync=False."""
    strace = shutil.which("strace")
    assert strace is not None, "needs strace (make test installs it): apt-get install strace"
    root = tmp_path / "root"
    script = (
        "import anyio, sys\n"
        "from bookstore.stores.local import LocalStore\n"
        f"store = LocalStore({str(root)!r}, fsync={fsync})\n"
        "async def main():\n"
        "    await store.put('warm.txt', b'x')\n"
        "    print('=== start', flush=True)\n"
        "    await store.put('new/deeper/nb.ipynb', b'{}')\n"
        "    print('=== end', flush=True)\n"
        "anyio.run(main)\n"
    )
    run = subprocess.run(
        [strace, "-f", "-y", "-e", "trace=fsync,rename,write", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip("strace cannot trace here")
    assert run.returncode == 0, run.stderr[-2000:]
    trace = run.stderr[run.stderr.index("=== start") : run.stderr.index("=== end")]
    calls = re.findall(r"(fsync|rename)\((?:\d+<([^>]*)>|\"[^\"]*\", \"([^\"]*)\")", trace)
    done = [(name, fd_path or target) for name, fd_path, target in calls]
    nb = str(root / "new" / "deeper" / "nb.ipynb")
    assert ("rename", nb) in done
    after = done[done.index(("rename", nb)) + 1 :]
    synced = {path for name, path in after if name == "fsync"}
    if fsync:
        assert synced == {str(root / "new" / "deeper"), str(root / "new"), str(root)}
    else:
        assert not any(name == "fsync" for name, _ in done)
