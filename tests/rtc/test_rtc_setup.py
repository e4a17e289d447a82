"""What Bookstore chooses for jupyter-collaboration: history in memory, IDs across moves."""

from __future__ import annotations

import pytest
from jupyter_server_fileid.manager import ArbitraryFileIdManager
from pycrdt import Doc, Text
from pycrdt.store import YDocNotFound

from bookstore.rtc import BookstoreFileIdManager, MemoryYStore


async def test_memory_ystore_gives_back_a_documents_history():
    store = MemoryYStore(path="json:notebook:some-id", squash_after=3)
    with pytest.raises(YDocNotFound):
        await store.apply_updates(Doc())  # nothing yet: the room loads from the store
    doc = Doc()
    doc["text"] = text = Text()
    doc.observe(lambda event: updates.append(event.update))
    updates: list[bytes] = []
    for word in ("one ", "two ", "three ", "four ", "five"):
        text += word
    for update in updates:
        await store.write(update)
    assert len(store._updates) <= 3  # squashed: memory stays bounded
    copy = Doc()
    copy["text"] = copied = Text()
    await store.apply_updates(copy)
    assert str(copied) == "one two three four five"


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
