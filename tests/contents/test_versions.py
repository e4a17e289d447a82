"""Times that move with the ETag; the version another writer replaced kept as a checkpoint.

Another writer is the store itself, written directly (as swiftclient, the CLI or a
second Jupyter server would), on every store kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from bookstore import BookstoreContentsManager
from bookstore.contents.versions import TICK, RecentBytes, VersionClock
from bookstore.stores.base import ObjectMeta

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def meta(etag: str, at: datetime) -> ObjectMeta:
    return ObjectMeta(key="x", size=1, last_modified=at, etag=etag)


def test_clock_reports_store_time_for_a_first_sight_and_for_no_change():
    clock = VersionClock(now=lambda: T0 + timedelta(seconds=0.5))
    assert clock.observe("a", meta("e1", T0)) == (T0, False)
    assert clock.observe("a", meta("e1", T0)) == (T0, False)
    # The same bytes with another time (rewritten, or a PUT answer's guess): no change.
    assert clock.observe("a", meta("e1", T0 + timedelta(seconds=3))) == (T0, False)


def test_clock_moves_forward_for_new_bytes_within_the_same_store_second():
    now = [T0 + timedelta(seconds=0.2)]
    clock = VersionClock(now=lambda: now[0])
    first, _ = clock.observe("a", meta("e1", T0))
    second, changed = clock.observe("a", meta("e2", T0))
    assert changed and second > first
    assert second == T0 + timedelta(seconds=0.2)  # placed by our own clock within the second
    now[0] = T0 + timedelta(seconds=0.8)
    third, changed = clock.observe("a", meta("e3", T0))
    assert changed and third == T0 + timedelta(seconds=0.8)
    # Our clock says the past (or is skewed): the time still moves, by one tick.
    now[0] = T0 - timedelta(seconds=5)
    fourth, _ = clock.observe("a", meta("e4", T0))
    assert fourth == third + TICK
    # ... and never leaves the store's second while the store's time has not moved.
    now[0] = T0 + timedelta(seconds=9)
    fifth, _ = clock.observe("a", meta("e5", T0))
    assert fourth < fifth < T0 + timedelta(seconds=1)


def test_clock_calls_an_older_version_a_stale_read_not_a_change():
    clock = VersionClock(now=lambda: T0)
    later = T0 + timedelta(seconds=2)
    clock.observe("a", meta("e2", later))
    assert clock.observe("a", meta("e1", T0)) == (later, False)
    assert clock.known("a").etag == "e2"


def test_clock_uses_precise_store_times_as_they_are():
    clock = VersionClock(now=lambda: T0 + timedelta(seconds=30))
    precise = T0 + timedelta(microseconds=1500)
    clock.observe("a", meta("e1", T0 + timedelta(microseconds=500)))
    assert clock.observe("a", meta("e2", precise)) == (precise, True)


def test_clock_peek_remembers_nothing_and_forget_covers_a_folder():
    clock = VersionClock(now=lambda: T0)
    clock.observe("d/a", meta("e1", T0))
    clock.observe("d/b", meta("e1", T0))
    clock.observe("dd", meta("e1", T0))
    assert clock.peek("d/a", meta("e2", T0)) > T0
    assert clock.known("d/a").etag == "e1"
    clock.forget("d")
    assert clock.known("d/a") is None and clock.known("d/b") is None
    assert clock.known("dd") is not None


def test_clock_is_bounded():
    clock = VersionClock(size=3, now=lambda: T0)
    for name in "abcd":
        clock.observe(name, meta("e", T0))
    assert clock.known("a") is None and clock.known("d") is not None


def test_recent_bytes_keep_the_newest_within_budget():
    kept = RecentBytes(budget=40)
    kept.keep("a", "ea", b"x" * 10, saved=True)
    kept.keep("b", "eb", b"y" * 10, saved=False)
    kept.keep("c", "ec", b"z" * 10, saved=True)
    kept.keep("d", "ed", b"w" * 10, saved=True)
    kept.keep("e", "ee", b"v" * 10, saved=True)  # over budget: the oldest ("a") goes
    assert kept.get("a", "ea") is None and kept.get("e", "ee") == b"v" * 10
    assert kept.get("b", "other") is None  # another version: not these bytes
    assert kept.get("b", "eb") == b"y" * 10
    assert kept.get("b", "eb", saved=True) is None  # read, not saved by us
    kept.keep("big", "e", b"x" * 11, saved=True)  # over a quarter of the budget: not kept
    assert kept.get("big", "e") is None and kept.etag("big") is None
    kept.forget("c")
    assert kept.get("c", "ec") is None and kept.etag("d") == "ed"


def nb_bytes(text: str) -> bytes:
    return nbformat.writes(new_notebook(cells=[new_code_cell(text)])).encode()


def nb_model(text: str) -> dict:
    return {"type": "notebook", "content": new_notebook(cells=[new_code_cell(text)])}


def source(model: dict) -> str:
    return model["content"].cells[0].source


async def test_another_writers_save_is_seen_and_ours_is_kept_as_a_checkpoint(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model("ours 1"), "n.ipynb")
    ours = await cm.save(nb_model("ours 2"), "n.ipynb")
    before = {c["id"] for c in await cm.list_checkpoints("n.ipynb")}
    # Someone else replaces the object (swiftclient, the CLI, another server).
    await store.put("n.ipynb", nb_bytes("theirs"))
    polled = await cm.get("n.ipynb", content=False)
    assert polled["last_modified"] > ours["last_modified"]  # a time-comparing client sees it
    assert source(await cm.get("n.ipynb")) == "theirs"  # theirs is what the file holds
    after = await cm.list_checkpoints("n.ipynb")
    [kept] = [c for c in after if c["id"] not in before]  # ours is in the history
    await cm.restore_checkpoint(kept["id"], "n.ipynb")
    assert source(await cm.get("n.ipynb")) == "ours 2"
    # Seen once: polling again neither moves the time nor keeps another copy.
    again = await cm.get("n.ipynb", content=False)
    assert again["last_modified"] >= polled["last_modified"]
    assert len(await cm.list_checkpoints("n.ipynb")) == len(after)


async def test_our_own_saves_keep_no_extra_checkpoint(store):
    cm = BookstoreContentsManager(store=store)
    for i in range(4):
        saved = await cm.save(nb_model(f"v{i}"), "own.ipynb")
        polled = await cm.get("own.ipynb", content=False)
        assert polled["last_modified"] == saved["last_modified"]
    assert len(await cm.list_checkpoints("own.ipynb")) == 1  # the first save's, as FCM


async def test_checkpoint_interval_makes_at_most_one_per_interval(store):
    cm = BookstoreContentsManager(store=store, checkpoint_interval=3600)
    for i in range(3):  # autosaves within the hour: the first save's checkpoint only
        await cm.save(nb_model(f"v{i}"), "auto.ipynb")
    assert len(await cm.list_checkpoints("auto.ipynb")) == 1
    # An hour later (as the newest checkpoint's time says), the next save adds one.
    cm.checkpoints._newest["auto.ipynb"] -= timedelta(hours=1, seconds=1)
    await cm.save(nb_model("v3"), "auto.ipynb")
    await cm.save(nb_model("v4"), "auto.ipynb")
    checkpoints = await cm.list_checkpoints("auto.ipynb")
    assert len(checkpoints) == 2
    await cm.restore_checkpoint(checkpoints[-1]["id"], "auto.ipynb")  # oldest first
    assert source(await cm.get("auto.ipynb")) == "v3"


async def test_checkpoint_interval_off_by_default(store):
    cm = BookstoreContentsManager(store=store)
    assert cm.checkpoint_interval == 0
    await cm.save(nb_model("v0"), "x.ipynb")
    cm.checkpoints._newest["x.ipynb"] -= timedelta(days=30)
    await cm.save(nb_model("v1"), "x.ipynb")
    assert len(await cm.list_checkpoints("x.ipynb")) == 1


def test_clock_takes_our_own_write_as_newest_whatever_its_time():
    clock = VersionClock(now=lambda: T0)
    clock.observe("a", meta("e1", T0 + timedelta(seconds=1)))  # the store rounds up
    when, changed = clock.observe("a", meta("e2", T0), written=True)  # our guess: earlier
    assert changed and when > T0 + timedelta(seconds=1)
    assert clock.known("a").etag == "e2"
    # The store's answer for our write, with its own (later) time: no change.
    assert clock.observe("a", meta("e2", T0 + timedelta(seconds=1))) == (when, False)


async def test_opening_again_costs_a_head_while_the_etag_holds(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model("v1"), "r.ipynb")
    calls: list[str] = []
    real_get, real_head = store.get, store.head

    async def get(key):
        calls.append(f"get {key}")
        return await real_get(key)

    async def head(key):
        calls.append(f"head {key}")
        return await real_head(key)

    store.get, store.head = get, head
    try:
        assert source(await cm.get("r.ipynb")) == "v1"
        assert calls == ["head r.ipynb"]  # what we saved is still there: no download
        await store.put("r.ipynb", nb_bytes("theirs"))  # (not counted: a direct put)
        calls.clear()
        assert source(await cm.get("r.ipynb")) == "theirs"  # another ETag: downloaded
        assert calls == ["head r.ipynb", "get r.ipynb"]
        calls.clear()
        assert source(await cm.get("r.ipynb")) == "theirs"  # and kept for the next open
        assert calls == ["head r.ipynb"]
    finally:
        store.get, store.head = real_get, real_head


async def test_file_exists_after_a_save_needs_no_request(store):
    cm = BookstoreContentsManager(store=store, listing_cache_ttl=60)
    await cm.save(nb_model("v1"), "e.ipynb")
    real_head = store.head

    async def head(key):
        raise AssertionError(f"HEAD {key}")

    store.head = head
    try:
        assert await cm.file_exists("e.ipynb")
    finally:
        store.head = real_head
    await cm.delete("e.ipynb")  # our own delete is known at once
    assert not await cm.file_exists("e.ipynb")


async def test_a_restore_is_a_change_for_open_rooms_not_another_writers(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model("v1"), "u.ipynb")
    [first] = await cm.list_checkpoints("u.ipynb")
    v2 = await cm.save(nb_model("v2"), "u.ipynb")
    await cm.restore_checkpoint(first["id"], "u.ipynb")
    polled = await cm.get("u.ipynb", content=False)
    assert polled["last_modified"] > v2["last_modified"]  # a room reloads it
    assert source(await cm.get("u.ipynb")) == "v1"
    assert len(await cm.list_checkpoints("u.ipynb")) == 1  # nothing kept as "replaced"
