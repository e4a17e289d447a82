"""Real-time collaboration (jupyter-collaboration) on Bookstore.

jupyter-collaboration keeps each document's editing history (Y updates) in a
"YStore", by default an SQLite file in the server's working directory: the
notebook's whole content, on the local disk. With Bookstore as contents manager
the history stays in memory instead (``MemoryYStore``), for as long as the room
lives; the notebook itself is saved to the store, as every other save.
"""

from __future__ import annotations

import asyncio
import functools
import posixpath
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from logging import Logger
from typing import Any

import anyio.to_thread
import nbformat
from jupyter_server_fileid.manager import ArbitraryFileIdManager
from jupyter_server_ydoc.rooms import DocumentRoom
from jupyter_server_ydoc.utils import OutOfBandChanges
from jupyter_ydoc import ydocs as YDOCS
from pycrdt import Doc
from pycrdt.store import BaseYStore, YDocNotFound
from traitlets import Integer
from traitlets.config import LoggingConfigurable

from .contents import encoding

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
        self._squashing = False

    async def write(self, data: bytes) -> None:
        self._updates.append((data, await self.get_metadata(), time.time()))
        self._bytes += len(data)
        if not self._squashing and (
            len(self._updates) > self.squash_after
            or self._bytes > max(self.squash_bytes, 2 * self._state_bytes)
        ):
            self._squashing = True
            try:
                await self._squash()
            finally:
                self._squashing = False

    async def _squash(self) -> None:
        """The updates so far as one: the state of a document they built (deleted content
        gone), built in a worker thread (a big document takes a while); updates written
        meanwhile stay after it."""
        count = len(self._updates)
        state = await anyio.to_thread.run_sync(_state_of, [u for u, _, _ in self._updates])
        _, metadata, when = self._updates[count - 1]
        self._updates[:count] = [(state, metadata, when)]
        self._state_bytes = len(state)
        self._bytes = sum(len(update) for update, _, _ in self._updates)

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


#: Seconds before a failed collaborative save is tried again; doubled up to RETRY_MAX.
RETRY_FIRST, RETRY_MAX = 2.0, 60.0
#: Saves again after a retry that succeeded while the room was being edited.
RESAVES = 3

#: Keeps bytes as a checkpoint of a path, and says why in the log (the manager's).
Keep = Callable[[str, bytes, str], Awaitable[Any]]


def _state_of(updates: list[bytes]) -> bytes:
    doc: Doc = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


def room_content(room: Any) -> dict[str, Any]:
    """What a collaboration room holds now, edits not yet saved included, as its save
    would send it: ``{"type", "format", "content"}``. Read from a copy of the room's
    document: reading renews repeated cell ids, which must not edit the room."""
    snapshot: Doc = Doc()
    snapshot.apply_update(room.ydoc.get_update())
    document = YDOCS.get(room.file_type, YDOCS["file"])(snapshot)
    with warnings.catch_warnings():  # "Non-unique cell ID ... Corrected": in the copy only
        warnings.simplefilter("ignore", UserWarning)
        content = document.get()
    return {"type": room.file_type, "format": room.file_format, "content": content}


def room_bytes(model: dict[str, Any]) -> bytes | None:
    """What a save of a room's ``model`` stores (None: not a kind rooms edit)."""
    if model["type"] == "notebook":
        return encoding.notebook_json(nbformat.from_dict(model["content"]), {}, b"\n")
    if model["format"] == "text":
        return str(model["content"]).encode("utf-8")
    return None


def edits_beyond(model: dict[str, Any], stored: bytes | None) -> bytes | None:
    """``room_bytes(model)`` if the room holds edits that ``stored`` (the version it
    loaded or saved last) does not, else None. Both are compared as a room holds them:
    a room adds metadata defaults and a first cell to a notebook, gives missing or
    repeated cell ids new random ones, and loads text with ``\n`` line ends. Without
    ``stored`` (too big to keep in memory), the room's content is kept."""
    if stored is not None:
        try:
            if model["type"] == "notebook":
                loaded = YDOCS["notebook"]()
                loaded.set(nbformat.reads(stored.decode("utf-8"), as_version=4))
                same = _without_ids(loaded.get()) == _without_ids(model["content"])
            else:
                same = stored.decode("utf-8").replace("\r\n", "\n") == model["content"]
        except Exception:  # not what a room could have loaded: the room's content is kept
            same = False
        if same:
            return None
    return room_bytes(model)


def _without_ids(nb: dict[str, Any]) -> dict[str, Any]:
    cells = [{k: v for k, v in cell.items() if k != "id"} for cell in nb.get("cells", ())]
    return {**nb, "cells": cells}


class OpenRooms:
    """jupyter-collaboration's open rooms, seen from the contents manager.

    Two of their losses are ours to prevent. A room reloads over its edits not yet
    saved when its file is replaced (by another writer, a restore): ``unsaved`` gives
    the manager those edits to keep as a checkpoint first. And a room tries a failed
    save again only at its next edit, so a store outage longer than the store's
    retries lost the last edits when the room closed: ``save_failed`` tries again
    (2 s, then doubling up to a minute) through the room's own FileLoader, until the
    save is made; a room closed (or replaced by a new one) meanwhile has its last
    content kept as a checkpoint instead.
    """

    def __init__(
        self, find: Callable[[str], tuple[Any, Any] | None], keep: Keep, log: Logger
    ) -> None:
        self._find = find  # path -> (DocumentRoom, its FileLoader), if a room is open
        self._keep = keep
        self._log = log
        self._retries: dict[str, asyncio.Task[None]] = {}

    def close(self) -> None:
        """The server stops: saves still being tried are given up (and logged)."""
        for path, task in list(self._retries.items()):
            self._log.error("%s: stopping with a collaborative save not made", path)
            task.cancel()

    def is_open(self, path: str) -> bool:
        return self._find(path) is not None

    async def unsaved(self, path: str, stored: bytes | None) -> bytes | None:
        """The edits an open room of ``path`` holds beyond ``stored`` (``edits_beyond``)."""
        found = self._find(path)
        if found is None:
            return None
        model = room_content(found[0])  # on the loop: the room's document is not shared
        return await anyio.to_thread.run_sync(edits_beyond, model, stored)

    def save_failed(self, path: str) -> None:
        found = None if path in self._retries else self._find(path)
        if found is None:
            return
        room, loader = found
        task = asyncio.get_running_loop().create_task(
            self._retry(path, room, loader, room_content(room))
        )
        self._retries[path] = task
        task.add_done_callback(lambda _: self._retries.pop(path, None))

    async def _retry(self, path: str, room: Any, loader: Any, last: dict[str, Any]) -> None:
        delay, wait, resaves = RETRY_FIRST, RETRY_FIRST, 0
        while True:
            await asyncio.sleep(wait)
            found = self._find(path)
            try:
                if found is None or found[0] is not room:  # closed (maybe reopened since)
                    data = room_bytes(last)
                    if data is not None:
                        await self._keep(
                            path,
                            data,
                            "closed its collaboration room before its last edits could be saved",
                        )
                    return
                last = room_content(room)
                loaded = loader.last_modified
                try:
                    await loader.maybe_save_content(dict(last))
                except OutOfBandChanges:
                    # Another writer: the room must reload (its edits were kept when the
                    # manager saw the change). The FileLoader took the change in; give it
                    # back, so that the room's poll tells the room.
                    loader.last_modified = loaded
                    await loader.maybe_notify()
                    return
                if room_content(room) == last or resaves == RESAVES:
                    self._log.info("%s: the collaborative save that failed is made", path)
                    return
                # Edited meanwhile: a newer save of the room's may have taken the
                # FileLoader's lock before ours, so ours would be older. Saved again.
                wait, resaves = 1.0, resaves + 1
                continue
            except Exception as exc:
                self._log.warning("%s: collaborative save still failing (%s)", path, exc)
            wait, delay = delay, min(2 * delay, RETRY_MAX)


def _find_open_room(serverapp: Any, path: str) -> tuple[Any, Any] | None:
    ids = serverapp.web_app.settings.get("file_id_manager")
    file_id = None if ids is None else ids.get_id(path)
    if file_id is None:
        return None
    for app in serverapp.extension_manager.extension_apps.get(YDOC_EXTENSION, ()):
        server = getattr(app, "ywebsocket_server", None)
        for room_id, room in list(getattr(server, "rooms", {}).items()):
            if (
                room_id.endswith(f":{file_id}")
                and isinstance(room, DocumentRoom)
                and room.ready
                and file_id in app.file_loaders
            ):
                return room, app.file_loaders[file_id]
    return None


def configure(serverapp: Any, log: Logger) -> None:
    """Choose jupyter-collaboration's YStore and file ID manager, unless configured.

    Called while extensions load: ``bookstore`` loads before ``jupyter_server_fileid``
    and ``jupyter_server_ydoc`` (alphabetical order), which read these settings when
    they build their managers and handlers.
    """
    apps = serverapp.extension_manager.extension_apps
    MemoryYStore.server_config = serverapp.config
    cm = serverapp.contents_manager
    cm.rooms = OpenRooms(functools.partial(_find_open_room, serverapp), cm.keep_version, log)
    for app in apps.get(YDOC_EXTENSION, ()):
        if "ystore_class" not in app.config.get("YDocExtension", {}):
            app.ystore_class = MemoryYStore
            log.info("Collaboration: document history in memory, notebooks saved to the store")
    for app in apps.get(FILEID_EXTENSION, ()):
        if "file_id_manager_class" not in app.config.get("FileIdExtension", {}):
            app.file_id_manager_class = BookstoreFileIdManager
