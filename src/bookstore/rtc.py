"""Real-time collaboration (jupyter-collaboration) on Bookstore.

jupyter-collaboration keeps each document's editing history (Y updates) in a
"YStore", by default an SQLite file in the server's working directory: the
notebook's whole content, on the local disk. With Bookstore as contents manager
the history stays in memory instead (``MemoryYStore``), for as long as the room
lives; the notebook itself is saved to the store, as every other save.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from logging import Logger
from typing import Any

from jupyter_server_fileid.manager import ArbitraryFileIdManager
from pycrdt import merge_updates
from pycrdt.store import BaseYStore, YDocNotFound
from traitlets import Integer
from traitlets.config import LoggingConfigurable

#: The server extensions we configure (jupyter-collaboration's server parts).
YDOC_EXTENSION = "jupyter_server_ydoc"
FILEID_EXTENSION = "jupyter_server_fileid"


class _Meta(type(LoggingConfigurable), type(BaseYStore)):  # type: ignore[misc]
    pass


class MemoryYStore(LoggingConfigurable, BaseYStore, metaclass=_Meta):
    """A room's Y updates, in memory only; squashed into one update now and then."""

    squash_after = Integer(
        500, config=True, help="Updates kept before they are merged into one (bounds memory)."
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

    async def write(self, data: bytes) -> None:
        self._updates.append((data, await self.get_metadata(), time.time()))
        if len(self._updates) > self.squash_after:
            merged = merge_updates(*(update for update, _, _ in self._updates))
            _, metadata, when = self._updates[-1]
            self._updates = [(merged, metadata, when)]

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


def configure(serverapp: Any, log: Logger) -> None:
    """Choose jupyter-collaboration's YStore and file ID manager, unless configured.

    Called while extensions load: ``bookstore`` loads before ``jupyter_server_fileid``
    and ``jupyter_server_ydoc`` (alphabetical order), which read these settings when
    they build their managers and handlers.
    """
    apps = serverapp.extension_manager.extension_apps
    MemoryYStore.server_config = serverapp.config
    for app in apps.get(YDOC_EXTENSION, ()):
        if "ystore_class" not in app.config.get("YDocExtension", {}):
            app.ystore_class = MemoryYStore
            log.info("Collaboration: document history in memory, notebooks saved to the store")
    for app in apps.get(FILEID_EXTENSION, ()):
        if "file_id_manager_class" not in app.config.get("FileIdExtension", {}):
            app.file_id_manager_class = BookstoreFileIdManager
