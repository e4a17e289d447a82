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

import nbformat
import pytest
from jupyter_events import EventLogger
from jupyter_server_ydoc.loaders import FileLoader
from jupyter_server_ydoc.rooms import DocumentRoom
from nbformat.v4 import new_code_cell, new_notebook

from bookstore import BookstoreContentsManager, errors, rtc
from bookstore.contents.checkpoints import checkpoint_prefix
from bookstore.rtc import BookstoreFileIdManager, MemoryYStore, OpenRooms

pytestmark = pytest.mark.parametrize("store_kind", ["swift"], indirect=True)

EDIT = "an edit made in the room"
LOG = logging.getLogger("test")


def nb_bytes(text: str) -> bytes:
    return nbformat.writes(nbformat.from_dict(new_notebook(cells=[new_code_cell(text)]))).encode()


async def open_room(store) -> DocumentRoom:
    cm = BookstoreContentsManager(store=store)
    ids = BookstoreFileIdManager(db_path=":memory:", root_dir="")
    await store.put("doc.ipynb", nb_bytes("v0"))
    file_id = ids.index("doc.ipynb")
    file = FileLoader(file_id, ids, cm, poll_interval=None)
    room = DocumentRoom(
        f"json:notebook:{file_id}",
        "json",
        "notebook",
        file,
        EventLogger(),
        MemoryYStore(path="doc"),
        None,
        save_delay=0.3,
    )
    await room.initialize()
    # As rtc.configure wires it, with this test's one room in place of the server's.
    rooms = {file_id: (room, file)}
    cm.rooms = OpenRooms(lambda path: rooms.get(ids.get_id(path)), cm.checkpoints.keep, LOG)
    room.closed = lambda: rooms.clear()  # as when its last client has left
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
    """Every put fails as an outage longer than the store's own retries would; the
    function returned ends the outage."""
    put, down = store.put, [True]

    async def failing_put(*args, **kwargs):
        if down:
            raise errors.Unavailable("Swift is unavailable")
        return await put(*args, **kwargs)

    monkeypatch.setattr(store, "put", failing_put)
    return down.clear


async def test_a_save_that_failed_is_made_once_the_store_is_back(store, monkeypatch):
    monkeypatch.setattr(rtc, "RETRY_FIRST", 0.5)
    room = await open_room(store)
    store_is_back = await stop_the_store(store, monkeypatch)
    edit(room)
    await asyncio.sleep(1)  # the room's save was tried, and failed; no edit follows
    store_is_back()
    await asyncio.sleep(2)
    found = await everywhere(room, store)
    await room.stop()
    assert "stored" in found


async def test_a_room_closed_while_the_store_is_down_leaves_its_edits_in_the_history(
    store, monkeypatch
):
    monkeypatch.setattr(rtc, "RETRY_FIRST", 0.5)
    room = await open_room(store)
    store_is_back = await stop_the_store(store, monkeypatch)
    edit(room)
    await asyncio.sleep(0.6)  # the room's save was tried, and failed; not tried again yet
    room.closed()
    await room.stop()
    store_is_back()
    await asyncio.sleep(2)
    found = await everywhere(room, store)
    assert [where for where in found if where.startswith(".bookstore/checkpoints/")]
