"""Real-time collaboration (jupyter-collaboration) on Bookstore.

jupyter-collaboration keeps each document's editing history (Y updates) in a
"YStore", by default an SQLite file in the server's working directory: the
notebook's whole content, on the local disk. With Bookstore as contents manager
the history stays in memory instead (``MemoryYStore``), for as long as the room
lives; the notebook itself is saved to the store, as every other save.
"""

from __future__ import annotations

import functools
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from logging import Logger
from typing import Any

from jupyter_server_fileid.manager import ArbitraryFileIdManager
from jupyter_server_ydoc.rooms import DocumentRoom
from jupyter_ydoc import ydocs as YDOCS
from pycrdt import Doc
from pycrdt.store import BaseYStore, YDocNotFound
from traitlets import Integer
from traitlets.config import LoggingConfigurable

#: The server extensions we configure (jupyter-collaboration's server parts).
YDOC_EXTENSION = "jupyter_server_ydoc"
FILEID_EXTENSION = "jupyter_server_fileid"


class _Meta(type(LoggingConfigurable), type(BaseYStore)):  # type: ignore[misc]
    pass


class MemoryYStore(LoggingConfigurable, BaseYStore, metaclass=_Meta):
    """A room's Y updates, in memory only; squashed into one update now and then.

    Squashing replays the updates into a document and keeps its state, so what was
    deleted (a cell's outputs, replaced at every run) is not kept: memory follows the
    document's size, not the length of the session.
    """

    squash_after = Integer(
        500, config=True, help="Updates kept before they are merged into one (bounds memory)."
    )
    squash_bytes = Integer(
        16 << 20,
        config=True,
        help="Bytes of updates kept before they are merged into one (or twice the "
        "document's own size, if larger).",
    )
    #: The server's config: jupyter-collaboration makes stores without it (set by configure).
    server_config: Any = None

    def __init__(
        self,
        path: str = "",
        metadata_callback: Callable[[], Awaitable[bytes] | bytes] | None = None,
        log: Logger | None = None,
        **kwargs: Any,
    ) -> None:
        if "config" not in kwargs and "parent" not in kwargs and self.server_config is not None:
            kwargs["config"] = self.server_config
        super().__init__(path=path, metadata_callback=metadata_callback, **kwargs)
        if log is not None:
            self.log = log
        self.path = path
        self.metadata_callback = metadata_callback
        self._updates: list[tuple[bytes, bytes, float]] = []
        self._bytes = 0  # of the updates kept
        self._state_bytes = 0  # of the last squash's document state

    async def write(self, data: bytes) -> None:
        self._updates.append((data, await self.get_metadata(), time.time()))
        self._bytes += len(data)
        if len(self._updates) > self.squash_after or self._bytes > max(
            self.squash_bytes, 2 * self._state_bytes
        ):
            self._squash()

    def _squash(self) -> None:
        """All updates as one: the state of a document they built (deleted content gone)."""
        doc: Doc = Doc()
        for update, _, _ in self._updates:
            doc.apply_update(update)
        state = doc.get_update()
        _, metadata, when = self._updates[-1]
        self._updates = [(state, metadata, when)]
        self._bytes = self._state_bytes = len(state)

    async def read(self) -> AsyncIterator[tuple[bytes, bytes, float]]:  # type: ignore[override]
        if not self._updates:
            raise YDocNotFound
        for update in list(self._updates):
            yield update


class BookstoreFileIdManager(ArbitraryFileIdManager):
    """File IDs for paths in the store, kept across renames and moves.

    ``ArbitraryFileIdManager`` follows the contents manager's rename events, but moves
    a folder's files only if the folder itself has an ID; a room's notebook inside a
    renamed folder would lose its ID, and so its room. This one always moves them.
    """

    def move(self, old_path: str, new_path: str) -> str | None:
        with self.con:
            file_id = super().move(old_path, new_path)
            old, new = self._normalize_path(old_path), self._normalize_path(new_path)
            self._move_recursive(old, new, posixpath)
        return file_id


def room_content(rooms: Mapping[str, Any], file_id: str | None) -> dict[str, Any] | None:
    """What the open collaboration room of ``file_id`` holds now, edits not yet saved
    included: ``{"type", "format", "content"}`` as its save would send, or None."""
    if file_id is None:
        return None
    for room_id, room in list(rooms.items()):
        if room_id.endswith(f":{file_id}") and isinstance(room, DocumentRoom) and room.ready:
            document = YDOCS.get(room.file_type, YDOCS["file"])(room.ydoc)  # reads only
            return {"type": room.file_type, "format": room.file_format, "content": document.get()}
    return None


def _open_room_content(serverapp: Any, path: str) -> dict[str, Any] | None:
    ids = serverapp.web_app.settings.get("file_id_manager")
    if ids is None:
        return None
    for app in serverapp.extension_manager.extension_apps.get(YDOC_EXTENSION, ()):
        server = getattr(app, "ywebsocket_server", None)
        if server is not None:
            found = room_content(server.rooms, ids.get_id(path))
            if found is not None:
                return found
    return None


def configure(serverapp: Any, log: Logger) -> None:
    """Choose jupyter-collaboration's YStore and file ID manager, unless configured.

    Called while extensions load: ``bookstore`` loads before ``jupyter_server_fileid``
    and ``jupyter_server_ydoc`` (alphabetical order), which read these settings when
    they build their managers and handlers.
    """
    apps = serverapp.extension_manager.extension_apps
    MemoryYStore.server_config = serverapp.config
    # When another writer replaces a file, its room's unsaved edits become a checkpoint.
    serverapp.contents_manager.room_content = functools.partial(_open_room_content, serverapp)
    for app in apps.get(YDOC_EXTENSION, ()):
        if "ystore_class" not in app.config.get("YDocExtension", {}):
            app.ystore_class = MemoryYStore
            log.info("Collaboration: document history in memory, notebooks saved to the store")
    for app in apps.get(FILEID_EXTENSION, ()):
        if "file_id_manager_class" not in app.config.get("FileIdExtension", {}):
            app.file_id_manager_class = BookstoreFileIdManager
