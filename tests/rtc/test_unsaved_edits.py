"""A collaboration room's edits not yet saved, when the store or another writer gets in
the way: jupyter-collaboration's own DocumentRoom and FileLoader over Bookstore on the
test Swift.

jupyter-collaboration reloads a room from the stored file on an outside change, over
its edits not yet saved, and tries a failed save again only at the next edit.
Bookstore (rtc.OpenRooms) keeps those edits as a checkpoint first, and tries a failed
save again until it is made, or keeps the edits as a checkpoint if the room closed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from jupyter_events import EventLogger
from jupyter_server_ydoc.loaders import FileLoader
from jupyter_server_ydoc.rooms import DocumentRoom
from nbformat.v4 import new_code_cell, new_notebook

from bookstore import BookstoreContentsManager, errors, rtc
from bookstore.contents.checkpoints import checkpoint_prefix
from bookstore.rtc import BookstoreFileIdManager, MemoryYStore, OpenRooms
from bookstore.stores.base import list_all

pytestmark = pytest.mark.parametrize("store_kind", ["swift"], indirect=True)

EDIT = "an edit made in the room"
LOG = logging.getLogger("test")


def nb_bytes(text: str) -> bytes:
    return nbformat.writes(nbformat.from_dict(new_notebook(cells=[new_code_cell(text)]))).encode()


async def open_room(
    store, path: str = "doc.ipynb", stored: bytes | None = None, kind: str = "notebook"
) -> DocumentRoom:
    cm = BookstoreContentsManager(store=store)
    ids = BookstoreFileIdManager(db_path=":memory:", root_dir="")
    await store.put(path, nb_bytes("v0") if stored is None else stored)
    file_id = ids.index(path)
    file = FileLoader(file_id, ids, cm, poll_interval=None)
    room = DocumentRoom(
        f"{'json' if kind == 'notebook' else 'text'}:{kind}:{file_id}",
        "json" if kind == "notebook" else "text",
        kind,
        file,
        EventLogger(),
        MemoryYStore(path="doc"),
        None,
        save_delay=0.3,
    )
    await room.initialize()
    # As rtc.configure wires it, with this test's one room in place of the server's.
    rooms = {file_id: (room, file)}
    cm.rooms = OpenRooms(lambda path: rooms.get(ids.get_id(path)), cm.keep_version, LOG)
    room.closed = lambda: rooms.clear()  # as when its last client has left
    room.reopened = lambda: rooms.update({file_id: (object(), file)})  # another room object
    room.cm = cm
    return room


def edit(room: DocumentRoom) -> None:
    room._document.set_cell(0, {**room._document.get_cell(0), "source": EDIT})


async def everywhere(room: DocumentRoom, store) -> list[str]:
    """Where the edit is now: the room, the stored notebook, its checkpoints."""
    found = []
    if (await room._document.aget())["cells"][0]["source"] == EDIT:
        found.append("room")
    if EDIT.encode() in (await store.get("doc.ipynb"))[1]:
        found.append("stored")
    async for page in store.list(checkpoint_prefix("doc.ipynb"), delimiter=None):
        for obj in page.objects:
            if EDIT.encode() in (await store.get(obj.key))[1]:
                found.append(obj.key)
    return found


@pytest.mark.parametrize("seen_by", ["poll", "save"])
async def test_an_outside_write_keeps_the_rooms_unsaved_edits(store, seen_by):
    room = await open_room(store)
    edit(room)  # saved 0.3 s later, unless the store changes first
    await store.put("doc.ipynb", nb_bytes("outside"))
    if seen_by == "poll":
        await room._file.maybe_notify()  # what the room's 1 s poll does
    await asyncio.sleep(1)  # else the save finds the change (OutOfBandChanges)
    assert (await room._document.aget())["cells"][0]["source"] == "outside"
    found = await everywhere(room, store)
    await room.stop()
    assert found, "the room's edit is nowhere: lost"


async def stop_the_store(store, monkeypatch) -> Callable[[], None]:
    """Every put fails as an outage longer than the store's own retries would, noted in
    ``store.attempts`` (``store.real_put`` still writes); the function returned ends it."""
    put, down, attempts = store.put, [True], []

    async def failing_put(key, *args, **kwargs):
        if down:
            attempts.append(key)
            raise errors.Unavailable("Swift is unavailable")
        return await put(key, *args, **kwargs)

    monkeypatch.setattr(store, "put", failing_put)
    monkeypatch.setattr(store, "real_put", put, raising=False)
    monkeypatch.setattr(store, "attempts", attempts, raising=False)
    return down.clear


async def edited_while_the_store_is_down(store, monkeypatch) -> tuple[DocumentRoom, Any]:
    """A room edited while every put fails (its save follows 0.3 s later, and fails), with
    Bookstore's retries 0.5 s apart; and the function that ends the outage."""
    monkeypatch.setattr(rtc, "RETRY_FIRST", 0.5)
    room = await open_room(store)
    store_is_back = await stop_the_store(store, monkeypatch)
    edit(room)
    return room, store_is_back


async def test_a_save_that_failed_is_made_once_the_store_is_back(store, monkeypatch):
    room, store_is_back = await edited_while_the_store_is_down(store, monkeypatch)
    await asyncio.sleep(1)  # the room's save was tried, and failed; no edit follows
    store_is_back()
    await asyncio.sleep(2)
    found = await everywhere(room, store)
    await room.stop()
    assert "stored" in found


async def test_a_room_closed_while_the_store_is_down_leaves_its_edits_in_the_history(
    store, monkeypatch
):
    room, store_is_back = await edited_while_the_store_is_down(store, monkeypatch)
    await asyncio.sleep(0.6)  # the room's save was tried, and failed; not tried again yet
    room.closed()
    await room.stop()
    store_is_back()
    await asyncio.sleep(2)
    found = await everywhere(room, store)
    assert [where for where in found if where.startswith(".bookstore/checkpoints/")]


async def checkpoints_of(store, path: str) -> list[bytes]:
    page = await list_all(store, checkpoint_prefix(path), delimiter=None)
    return [(await store.get(obj.key))[1] for obj in page.objects]


@pytest.mark.parametrize(
    ("path", "stored", "kind"),
    [
        ("bare.ipynb", nbformat.writes(new_notebook()).encode(), "notebook"),  # no cell, no
        ("crlf.txt", b"one\r\ntwo\r\n", "file"),  # kernelspec; text with CRLF line ends
    ],
    ids=["bare-notebook", "crlf-text"],
)
async def test_a_room_without_edits_keeps_no_checkpoint_when_replaced(store, path, stored, kind):
    room = await open_room(store, path, stored, kind)
    await store.put(path, b"outside")
    await room._file.maybe_notify()
    await asyncio.sleep(0.2)
    kept = await checkpoints_of(store, path)
    await room.stop()
    assert kept == []  # the room only differed from the stored bytes as rooms hold them


async def test_a_retry_that_meets_another_writer_lets_the_room_reload(store, monkeypatch):
    room, store_is_back = await edited_while_the_store_is_down(store, monkeypatch)
    await asyncio.sleep(0.4)  # the room's save was tried, and failed
    await store.real_put("doc.ipynb", nb_bytes("outside"))
    store_is_back()
    await asyncio.sleep(1.5)  # the retry found the other version: the room reloaded it
    assert (await room._document.aget())["cells"][0]["source"] == "outside"
    await asyncio.sleep(1)  # and no autosave of the room's put its stale content back
    assert b"outside" in (await store.get("doc.ipynb"))[1]
    found = await everywhere(room, store)
    await room.stop()
    assert [where for where in found if where.startswith(".bookstore/checkpoints/")]


async def test_a_room_reopened_before_the_retry_leaves_its_edits_in_the_history(store, monkeypatch):
    room, store_is_back = await edited_while_the_store_is_down(store, monkeypatch)
    await asyncio.sleep(0.4)  # the room's save was tried, and failed
    room.reopened()
    store_is_back()
    await asyncio.sleep(1)
    found = await everywhere(room, store)
    await room.stop()
    assert [where for where in found if where.startswith(".bookstore/checkpoints/")]


async def test_a_failing_retry_backs_off(store, monkeypatch):
    room, store_is_back = await edited_while_the_store_is_down(store, monkeypatch)
    await asyncio.sleep(3.2)  # the room's try, then ours at 0.5, 1, 2 s, 4 s...
    store_is_back()
    room.cm.rooms.close()  # as the server stopping: the retry ends
    await room.stop()
    assert 2 <= store.attempts.count("doc.ipynb") <= 5


async def test_a_restore_keeps_the_rooms_unsaved_edits(store):
    room = await open_room(store)
    checkpoint = await room.cm.create_checkpoint("doc.ipynb")
    edit(room)  # not saved yet
    await room.cm.restore_checkpoint(checkpoint["id"], "doc.ipynb")
    found = await everywhere(room, store)
    await room.stop()
    assert [where for where in found if where.startswith(".bookstore/checkpoints/")]
