"""jupyter-collaboration's own FileLoader over Bookstore: an outside write within the
same second as the room's save is still seen, and never overwritten by the room.

FileLoader is what each collaboration room uses to load, save and poll its file; it
decides "changed outside" by comparing ``last_modified``. The outside writer is the
store itself, written directly, on every store kind.
"""

from __future__ import annotations

import nbformat
import pytest
from jupyter_server_ydoc.loaders import FileLoader
from jupyter_server_ydoc.utils import OutOfBandChanges
from nbformat.v4 import new_code_cell, new_notebook

from bookstore import BookstoreContentsManager
from bookstore.rtc import BookstoreFileIdManager


def nb_json(text: str) -> dict:
    return nbformat.from_dict(new_notebook(cells=[new_code_cell(text)]))


@pytest.fixture
def loader(store):
    cm = BookstoreContentsManager(store=store)
    ids = BookstoreFileIdManager(db_path=":memory:", root_dir="")
    return FileLoader(ids.index("doc.ipynb"), ids, cm, poll_interval=None), cm


async def test_room_save_then_outside_write_in_the_same_second_is_seen(loader, store):
    loader, cm = loader
    await cm.save({"type": "notebook", "content": nb_json("v0")}, "doc.ipynb")
    await loader.load_content("json", "notebook")
    notified: list[bool] = []

    async def on_change() -> None:
        notified.append(True)

    loader.observe("room", on_change)
    saved = await loader.maybe_save_content(
        {"format": "json", "type": "notebook", "content": nb_json("room edit")}
    )
    assert saved is not None and saved["hash"]
    await loader.maybe_notify()
    assert notified == []  # the room's own save is not an outside change
    # An outside write right away: on Swift/S3 within the same whole second.
    await store.put("doc.ipynb", nbformat.writes(nb_json("outside")).encode())
    await loader.maybe_notify()
    assert notified == [True]
    # The room then reloads the outside version.
    model = await loader.load_content("json", "notebook")
    assert model["content"]["cells"][0]["source"] == "outside"


async def test_a_room_that_missed_the_poll_still_refuses_to_overwrite(loader, store):
    loader, cm = loader
    await cm.save({"type": "notebook", "content": nb_json("v0")}, "doc.ipynb")
    await loader.load_content("json", "notebook")
    await store.put("doc.ipynb", nbformat.writes(nb_json("outside")).encode())
    with pytest.raises(OutOfBandChanges):
        await loader.maybe_save_content(
            {"format": "json", "type": "notebook", "content": nb_json("stale room")}
        )
    _, raw = await store.get("doc.ipynb")
    assert b"outside" in raw and b"stale room" not in raw
