"""What Bookstore chooses for jupyter-collaboration: history in memory, IDs across moves."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace

import nbformat
import pytest
from jupyter_server_fileid.manager import ArbitraryFileIdManager
from jupyter_ydoc import YNotebook
from nbformat.v4 import new_code_cell, new_notebook
from pycrdt import Doc, Text
from pycrdt.store import YDocNotFound

from bookstore.rtc import BookstoreFileIdManager, MemoryYStore, room_content


async def write_edits(store: MemoryYStore, edit: Callable[[Text], None]) -> None:
    """What ``edit`` does to a shared text, written to ``store`` update by update."""
    doc = Doc()
    doc["text"] = text = Text()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    edit(text)
    for update in updates:
        await store.write(update)


async def text_in(store: MemoryYStore) -> str:
    """The shared text a document rebuilt from ``store`` holds."""
    copy = Doc()
    copy["text"] = copied = Text()
    await store.apply_updates(copy)
    return str(copied)


def kept_bytes(store: MemoryYStore) -> int:
    return sum(len(update) for update, _, _ in store._updates)


async def test_memory_ystore_gives_back_a_documents_history():
    store = MemoryYStore(path="json:notebook:some-id", squash_after=3)
    with pytest.raises(YDocNotFound):
        await store.apply_updates(Doc())  # nothing yet: the room loads from the store

    def words(text: Text) -> None:
        for word in ("one ", "two ", "three ", "four ", "five"):
            text += word

    await write_edits(store, words)
    assert len(store._updates) <= 3  # squashed: memory stays bounded
    assert await text_in(store) == "one two three four five"


@pytest.mark.parametrize("cls", [ArbitraryFileIdManager, BookstoreFileIdManager])
def test_file_ids_follow_a_folder_rename(cls):
    ids = cls(db_path=":memory:", root_dir="")
    inner = ids.index("folder/inner.ipynb")
    top = ids.index("top.ipynb")
    ids.move("folder", "moved")  # the folder itself never had an ID
    ids.move("top.ipynb", "renamed.ipynb")
    assert ids.get_path(top) == "renamed.ipynb"
    if cls is ArbitraryFileIdManager:  # upstream loses the folder's files: why ours exists
        assert ids.get_path(inner) == "folder/inner.ipynb"
    else:
        assert ids.get_path(inner) == "moved/inner.ipynb"


@pytest.fixture
def jp_server_config(swift_aio):
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.SwiftContentsManager",
            "jpserver_extensions": {
                "bookstore": True,
                "jupyter_server_ydoc": True,
                "jupyter_server_fileid": True,
            },
        },
        "SwiftContentsManager": {"container": "rtc-setup"},
        "SwiftStore": {
            "auth_url": swift_aio.auth_url,
            "user": swift_aio.user,
            "key": swift_aio.key,
        },
        "FileIdExtension": {"db_path": ":memory:"},
        "MemoryYStore": {"squash_after": 7},
    }


def app(serverapp, name: str):
    [found] = serverapp.extension_manager.extension_apps[name]
    return found


async def test_bookstore_chooses_memory_history_and_its_file_ids(jp_serverapp):
    ystore_class = app(jp_serverapp, "jupyter_server_ydoc").ystore_class
    assert ystore_class is MemoryYStore
    # made as jupyter-collaboration makes a room's store: no config passed, yet configured
    assert ystore_class(path="json:notebook:x", log=None).squash_after == 7
    ids = app(jp_serverapp, "jupyter_server_fileid").file_id_manager
    assert isinstance(ids, BookstoreFileIdManager)


async def test_memory_ystore_forgets_deleted_content():
    """A cell's outputs replaced at every run: history must not keep every old output."""
    store = MemoryYStore(path="json:notebook:some-id", squash_after=50)

    def runs(text: Text) -> None:
        for run in range(300):
            text += f"output of run {run} " + "x" * 100_000
            del text[0 : len(text)]
        text += "last"

    await write_edits(store, runs)
    assert kept_bytes(store) < 1_000_000  # merging alone kept all 30 MB of deleted outputs
    assert await text_in(store) == "last"


async def test_memory_ystore_bounds_bytes_as_well_as_updates():
    store = MemoryYStore(path="json:notebook:some-id", squash_bytes=1_000_000)

    def big_edits(text: Text) -> None:
        for _ in range(40):  # fewer updates than squash_after, each one big
            text += "y" * 100_000
            del text[0 : len(text)]

    await write_edits(store, big_edits)
    assert kept_bytes(store) <= 1_000_000


async def test_a_rooms_unsaved_edits_are_kept_when_another_writer_replaces_the_file(
    jp_serverapp,
):
    cm = jp_serverapp.contents_manager
    path = f"unsaved-{uuid.uuid4().hex[:8]}.ipynb"
    nb = new_notebook(cells=[new_code_cell("v0")])
    await cm.save({"type": "notebook", "content": nb}, path)
    ydoc = app(jp_serverapp, "jupyter_server_ydoc")
    shared = await ydoc.get_document(
        path=path, content_type="notebook", file_format="json", copy=False, create=True
    )
    shared.set_cell(0, {**shared.get_cell(0), "source": "typed in the room"})
    # Another writer, before the room's autosave (1 s after the last edit).
    await cm.store.put(path, nbformat.writes(new_notebook(cells=[new_code_cell("out")])).encode())
    await cm.get(path, content=False)  # what the room's poll asks
    kept = [
        await cm.store.get(f".bookstore/checkpoints/{path}/{c['id']}")
        for c in await cm.list_checkpoints(path)
    ]
    assert any(b"typed in the room" in data for _, data in kept)


def test_reading_a_rooms_content_leaves_the_room_as_it_was():
    # jupyter_ydoc renews repeated cell ids as it reads them: in a copy, not in the room.
    nb = new_notebook(cells=[new_code_cell("a", id="same"), new_code_cell("b", id="same")])
    shared = YNotebook()
    shared.set(nb)
    room = SimpleNamespace(ydoc=shared.ydoc, file_type="notebook", file_format="json")
    before = shared.ydoc.get_update()
    ids = [c["id"] for c in room_content(room)["content"]["cells"]]
    assert ids[0] == "same" and ids[1] != "same"
    assert shared.ydoc.get_update() == before
