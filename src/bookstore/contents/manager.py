"""BookstoreContentsManager: Jupyter's contents API over any Store.

Jupyter path ``a/b.ipynb`` is object key ``a/b.ipynb`` (the store adds its own
container and prefix). Folders are pseudo-folders: the common prefixes of a
delimiter listing, plus a zero-byte marker ``a/`` so an empty folder exists.
``.bookstore/`` at the root is ours (checkpoints, staged uploads) and is never
shown or writable through Jupyter. Nothing here touches the local disk.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import hashlib
import itertools
import mimetypes
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import nbformat
from jupyter_server.services.contents.manager import AsyncContentsManager, copy_pat
from tornado.web import HTTPError
from traitlets import Any as AnyTrait
from traitlets import Float, Integer, Unicode, default

from .. import errors
from ..hub import expand_store_url
from ..stores.base import IfMatch, ObjectMeta, Store, each, list_all
from ..stores.cached import CachedListings
from ..stores.registry import open_store
from . import encoding, models
from .bulk import copy_tree, delete_tree, move_tree
from .checkpoints import CHECKPOINT_ROOT, BookstoreCheckpoints, checkpoint_prefix
from .http import http_errors
from .journals import Journal, Owner, Watch, heartbeat
from .versions import RecentBytes, VersionClock

RESERVED = ".bookstore"
#: Listing entries turned into models between two yields to the event loop.
MODELS_PER_TICK = 100
UPLOADS_ROOT = f"{RESERVED}/uploads/"
#: One journal object per folder rename in progress; a restarted server finishes them.
RENAMES_ROOT = f"{RESERVED}/renames/"
# Seconds before a rename that could not be finished is tried again.
RESUME_RETRY = 30.0
#: Seconds between two looks for renames begun by other servers on the same prefix.
JOURNAL_LOOK = 10.0
DIRECTORY_CONTENT_TYPE = "application/x-directory"


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _upload_prefix(path: str) -> str:
    return f"{UPLOADS_ROOT}{path}/"


def _part_key(staging: str, number: int) -> str:
    return f"{staging}part-{number:08d}"


class BookstoreContentsManager(AsyncContentsManager):
    """Notebooks, files and folders kept in object storage."""

    store_url = Unicode(
        "memory://",
        config=True,
        help="Where contents live: swift://CONTAINER/PREFIX, s3://BUCKET/PREFIX, "
        "file:///DIR or memory://NAME. Store options go on the store's own class, "
        "e.g. c.SwiftStore.auth_url.",
    )
    store = AnyTrait(help="The Store instance; built from store_url unless given.")
    concurrency = Integer(
        16, config=True, help="Parallel store requests for folder rename, copy and delete."
    )
    abandoned_upload_age = Float(
        86400.0,
        config=True,
        help="Seconds after which the staged chunks of an upload nobody finished are "
        "deleted (at server start).",
    )
    listing_cache_ttl = Float(
        2.0,
        config=True,
        help="Seconds a folder listing is reused. This server's own writes are seen at "
        "once; other writers' after at most this long. 0 turns the cache off.",
    )

    keep_recent_bytes = Integer(
        64 << 20,
        config=True,
        help="Bytes of recently saved or opened files kept in memory (a file at most a "
        "quarter of it). Opening one again costs a HEAD instead of a download while its "
        "ETag is unchanged; and when another writer replaces a file this server saved, "
        "the version it replaced is kept as a checkpoint. 0 turns this off.",
    )
    checkpoint_interval = Float(
        0.0,
        config=True,
        help="Seconds: a save of a notebook also makes a checkpoint when its newest one is "
        "older than this, so collaboration autosaves leave a history without one "
        "checkpoint per save. 0 (default): checkpoints only when asked (JupyterLab's Save).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._moving: set[str] = set()  # folders being renamed by this server
        self._running: set[str] = set()  # the journals of those renames
        # Renames left half done (by a server that died, or by a store failure) are
        # finished before anything else is served; at start if the store is up then. One
        # that cannot be finished yet, or another server's still running, keeps its paths
        # here (409) until a later look.
        self._unsettled = True
        self._stuck: set[str] = set()
        self._elsewhere: set[str] = set()  # ... and those of other servers' running renames
        self._settle_after = 0.0  # time.monotonic() of the next try
        self._next_look = 0.0  # ... and of the next look for other servers' renames
        self._owner = Owner.new()
        self._watch = Watch(self._owner)
        self._marked = False
        self._settling = anyio.Lock()
        self._clock = VersionClock()
        self._writing: Counter[str] = Counter()
        self._recent = RecentBytes(self.keep_recent_bytes)
        self._sharing: Any = None  # built on first use: a Sharing, or why there is none
        self._hide_cache: tuple[tuple[str, ...], re.Pattern[str]] = ((), re.compile(r"(?!)"))
        #: jupyter-collaboration's open rooms (an rtc.OpenRooms, set by rtc.configure).
        self.rooms: Any = None

    @default("store")
    def _default_store(self) -> Store:
        # "{username}" in the URL gives each JupyterHub user their own store.
        store = open_store(expand_store_url(self.store_url, os.environ), parent=self)
        return CachedListings(store, ttl=self.listing_cache_ttl)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        # Nothing is read from it. Notebook 7 finds its first folder by comparing
        # ServerApp.preferred_dir (a local path, the server's root_dir by default) with
        # this: equal means the top of the store; "/" sent it to a local path instead.
        return getattr(self.parent, "root_dir", None) or "/"

    @default("checkpoints_class")
    def _default_checkpoints_class(self) -> type:
        return BookstoreCheckpoints

    def sharing(self) -> Any:
        """This server's ``Sharing`` on its store; SharingNotSupported if it cannot share."""
        from ..sharing import Sharing, SharingNotSupported

        if self._sharing is None or getattr(self._sharing, "store", self.store) is not self.store:
            try:
                self._sharing = Sharing(self.store, parent=self)
            except SharingNotSupported as exc:
                self._sharing = exc  # the store won't change its mind: say why every time
        if isinstance(self._sharing, SharingNotSupported):
            raise self._sharing
        return self._sharing

    async def _shares_follow(self, old: str, new: str | None) -> None:
        """Shares of ``old`` (and below) move to ``new``, or are revoked when it is None."""
        from ..sharing import SharingNotSupported

        try:
            sharing = self.sharing()
        except SharingNotSupported:
            return
        if new is None:
            await sharing.revoke_under(old)
        else:
            await sharing.moved(old, new)

    def info_string(self) -> str:
        return f"Serving notebooks from {self.store.description}"

    # -- paths ---------------------------------------------------------------

    def _norm(self, path: str) -> str:
        path = (path or "").strip("/")
        if path and any(part in ("", ".", "..") for part in path.split("/")):
            raise HTTPError(400, f"Invalid path: {path!r}")
        if any(ch < " " or ch in "\x7f\\" for ch in path):
            raise HTTPError(400, f"Invalid path (control character or backslash): {path!r}")
        return path

    def _hidden(self, path: str) -> bool:
        return any(part.startswith(".") for part in path.split("/") if part)

    def _reserved(self, path: str) -> bool:
        return path.split("/", 1)[0] == RESERVED

    def check_not_moving(self, path: str, *, holding: bool = False) -> None:
        """409 for a folder being renamed and what is inside it; ``holding``: also for a
        folder holding one (renaming or deleting it would move that one too)."""
        for folder in self._moving | self._stuck | self._elsewhere:
            inside = path == folder or path.startswith(f"{folder}/")
            if inside or (holding and folder.startswith(f"{path}/")):
                raise HTTPError(409, f"{folder} is being renamed; try again in a moment")

    def check_readable(self, path: str) -> None:
        self.check_not_moving(path)
        if self._reserved(path) or (not self.allow_hidden and self._hidden(path)):
            self.log.info("Refusing to serve hidden file or directory %r, via 404 Error", path)
            raise HTTPError(404, f"No such file or directory: {path}")

    async def _ready(self, path: str, action: str | None = None) -> str:
        """``path`` normalised, once half-done renames are finished, checked readable
        (or, with ``action``, writable): what every entry point does first."""
        path = self._norm(path)
        await self.settle()
        if action is None:
            self.check_readable(path)
        else:
            self.check_writable(path, action)
        return path

    def check_writable(self, path: str, action: str) -> None:
        if not path:
            raise HTTPError(400, f"Cannot {action} the root folder")
        self.check_not_moving(path, holding=True)
        if self._reserved(path):
            raise HTTPError(400, f"Cannot {action} {path!r}: {RESERVED}/ is reserved by Bookstore")
        if not self.allow_hidden and self._hidden(path):
            raise HTTPError(400, f"Cannot {action} hidden file or directory {path!r}")

    def _listable(self, name: str, parent: str) -> bool:
        if not parent and name == RESERVED:
            return False
        if not self.allow_hidden and name.startswith("."):
            return False
        return not self._hide_pattern().match(name)

    def _hide_pattern(self) -> re.Pattern[str]:
        """``hide_globs`` as one regex: should_list's fnmatch of every glob per name
        was a quarter of the time spent listing a big folder."""
        globs = tuple(self.hide_globs)
        if self._hide_cache[0] != globs:
            joined = "|".join(fnmatch.translate(g) for g in globs) or r"(?!)"
            self._hide_cache = (globs, re.compile(joined))
        return self._hide_cache[1]

    # -- existence -----------------------------------------------------------

    async def _head(self, path: str) -> ObjectMeta | None:
        try:
            return await self.store.head(path)
        except errors.NotFound:
            return None

    async def _is_dir(self, path: str) -> bool:
        if not path:
            return True
        if await self._head(f"{path}/") is not None:
            return True
        return await self._has_children(path)

    async def _has_children(self, path: str) -> bool:
        """Whether anything (a folder marker included) is stored under ``path/``."""
        async with aclosing(self.store.list(f"{path}/", delimiter="/")) as pages:
            async for page in pages:
                return bool(page.objects or page.prefixes)
        return False

    async def _check_kind_free(self, path: str, *, new: bool = False) -> None:
        """Refuse what a disk cannot hold: a file named as a folder, or below a file.

        A path this server knows as a file is an overwrite and costs nothing; else the
        checks run side by side, one round trip. ``new``: ``path`` is known to be free.
        """
        if not new and self._clock.known(path) is not None:
            return
        parts = path.split("/")
        parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
        checks = [self._head(p) for p in parents]
        if not new:
            checks += [self._head(path), self._has_children(path)]
        found = await each(lambda check: check, checks)
        for parent, meta in zip(parents, found, strict=False):
            if meta is not None:
                raise HTTPError(400, f"{parent} is a file, not a folder", reason="bad type")
        if not new and found[-2] is None and found[-1]:
            raise HTTPError(400, f"{path} is a folder, not a file", reason="bad type")

    @http_errors
    async def dir_exists(self, path: str) -> bool:
        path = path.strip("/")
        if path and (self._reserved(path) or (not self.allow_hidden and self._hidden(path))):
            return False
        return await self._is_dir(path)

    @http_errors
    async def file_exists(self, path: str = "") -> bool:
        path = path.strip("/")
        if not path or self._reserved(path):
            return False
        # Seen a moment ago (a save's PUT, a HEAD): no request. jupyter_server asks before
        # every REST save; if another writer deleted it since, the save still happens.
        seen = self._clock.known(path)
        if seen is not None and time.monotonic() - seen.at < self.listing_cache_ttl:
            return True
        return await self._head(path) is not None

    async def is_hidden(self, path: str) -> bool:
        path = path.strip("/")
        return self._hidden(path) or self._reserved(path)

    async def _exists(self, path: str) -> bool:
        return await self._head(path) is not None or await self._is_dir(path)

    # -- reading -------------------------------------------------------------

    @http_errors
    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        path = await self._ready(path)
        if type not in (None, "directory", "file", "notebook"):
            raise HTTPError(400, f"Unknown type {type!r}", reason="bad type")
        if format not in (None, "text", "base64", "json"):
            raise HTTPError(400, f"Unknown format {format!r}", reason="bad format")
        if not path or type == "directory":
            model = await self._dir_model(path, content)
        else:
            model = await self._entry_model(path, content, type, format, require_hash)
        self.emit(data={"action": "get", "path": path})
        return model

    async def _entry_model(
        self, path: str, content: bool, type: str | None, format: str | None, require_hash: bool
    ) -> dict[str, Any]:
        data: bytes | None = None
        try:
            if content:
                meta, data = await self._read(path)
            else:
                meta = await self.store.head(path)
        except errors.NotFound:
            if type is None and content:
                # Not a file: one listing both finds the folder (or 404s) and fills it.
                return await self._dir_model(path, content)
            if not await self._is_dir(path):
                raise HTTPError(404, f"No such file or directory: {path}") from None
            if type is not None:
                raise HTTPError(
                    400, f"{path} is a directory, not a {type}", reason="bad type"
                ) from None
            return await self._dir_model(path, content)

        kind = type or models.entry_type(path)
        model = models.object_model(path, meta, type=kind)
        await self._report(path, meta, model)
        if data is not None and self._recent.etag(path) != meta.etag:
            self._recent.keep(path, meta.etag, data, saved=False)
        if data is not None:
            if kind == "notebook":
                self._fill_notebook(model, path, data)
            else:
                self._fill_file(model, path, data, format)
        if require_hash:
            digest = models.stored_hash(meta) if data is None else None
            if digest is None:
                if data is None:
                    _, data = await self.store.get(path)
                digest = hashlib.sha256(data).hexdigest()
            model.update(hash=digest, hash_algorithm=models.HASH_ALGORITHM)
        return model

    def wrote(self, path: str, meta: ObjectMeta) -> datetime:
        """Note that this server itself put ``meta`` at ``path`` (a save, a restore):
        clients see a later time, and it is no other writer's change."""
        if self._recent.etag(path) != meta.etag:
            self._recent.drop(path)
        return self._clock.observe(path, meta, written=True)[0]

    def _written(self, path: str, meta: ObjectMeta, kind: str) -> dict[str, Any]:
        """The model answering our own write, timed by the clock (versions.py)."""
        model = models.object_model(path, meta, type=kind)
        model["created"] = model["last_modified"] = self.wrote(path, meta)
        return model

    async def _read(self, path: str) -> tuple[ObjectMeta, bytes]:
        """The object's bytes: from memory when a HEAD shows they are still current."""
        if self._recent.etag(path) is not None:
            meta = await self.store.head(path)
            data = self._recent.get(path, meta.etag)
            if data is not None:
                return meta, data
        return await self.store.get(path)

    async def _report(self, path: str, meta: ObjectMeta, model: dict[str, Any]) -> None:
        """Give ``model`` a time that moves with its ETag (versions.py); if someone else
        replaced what this server last saved there, keep our version as a checkpoint."""
        before = self._clock.known(path)
        when, changed = self._clock.observe(path, meta)
        model["created"] = model["last_modified"] = when
        if not changed or before is None or path in self._writing:
            return
        ours = self._recent.get(path, before.etag, saved=True)
        if ours is not None:
            await self.keep_version(
                path, ours, "replaced by another writer, over the version this server saved"
            )
        await self._keep_room_edits(path, self._recent.get(path, before.etag))

    async def _keep_room_edits(self, path: str, stored: bytes | None) -> None:
        """Before a collaboration room reloads ``path`` over its edits not yet saved (its
        file replaced, or about to be restored), keep them as a checkpoint; ``stored``:
        the version the room holds edits beyond (rtc.edits_beyond)."""
        if self.rooms is None:
            return
        try:
            edits = await self.rooms.unsaved(path, stored)
        except Exception as exc:  # the room's content is the room's business, not this request's
            self.log.warning("Could not read %s's collaboration room: %s", path, exc)
            return
        if edits is not None:
            await self.keep_version(
                path, edits, "replaced under its collaboration room, over edits not yet saved"
            )

    async def keep_version(self, path: str, data: bytes, what: str) -> dict[str, Any]:
        """Keep ``data`` as a checkpoint of ``path``, and say in the log which and why."""
        checkpoint = await self.checkpoints.keep(path, data)
        self.log.warning("%s: %s (kept as checkpoint %s)", path, what, checkpoint["id"])
        return checkpoint

    async def before_restore(self, path: str) -> None:
        """A restore is about to replace ``path``: an open room's unsaved edits are kept."""
        if self.rooms is not None and self.rooms.is_open(path):
            try:
                _, stored = await self._read(path)
            except errors.NotFound:
                stored = None
            await self._keep_room_edits(path, stored)

    def _fill_notebook(self, model: dict[str, Any], path: str, data: bytes) -> None:
        validation_error: dict[str, Any] = {}
        try:
            nb = nbformat.reads(
                data.decode("utf-8"), as_version=4, capture_validation_error=validation_error
            )
        except Exception as exc:
            raise HTTPError(400, f"Unreadable Notebook: {path} {exc!r}") from exc
        self.mark_trusted_cells(nb, path)
        model.update(content=nb, format="json")
        self.validate_notebook_model(model, validation_error)

    def _fill_file(self, model: dict[str, Any], path: str, data: bytes, format: str | None) -> None:
        if format in (None, "text"):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                if format == "text":
                    raise HTTPError(
                        400, f"{path} is not UTF-8 encoded", reason="bad format"
                    ) from None
            else:
                model.update(content=text, format="text")
                model["mimetype"] = model["mimetype"] or "text/plain"
                return
        # encodebytes (lines of 76) as FileContentsManager answers, byte for byte
        model.update(content=base64.encodebytes(data).decode("ascii"), format="base64")
        model["mimetype"] = model["mimetype"] or "application/octet-stream"

    async def _dir_model(self, path: str, content: bool) -> dict[str, Any]:
        prefix = f"{path}/" if path else ""
        if not content:
            if path and not await self._is_dir(path):
                await self._not_a_directory(path)
            return models.directory_model(path)

        listing = await list_all(self.store, prefix, delimiter="/")
        marker: ObjectMeta | None = None
        entries = models.Listing()

        async def pause() -> None:  # a 10,000-entry folder must not stall other users
            entries.encode_pending()
            await anyio.lowlevel.checkpoint()

        for n, obj in enumerate(listing.objects, start=1):
            name = obj.key[len(prefix) :]
            if not name:
                marker = obj
            elif self._listable(name, path):
                entry = models.object_model(_join(path, name), obj)
                entry["created"] = entry["last_modified"] = self._clock.peek(entry["path"], obj)
                entries.append(models.json_times(entry))
            if n % MODELS_PER_TICK == 0:
                await pause()
        for n, sub in enumerate(listing.prefixes, start=1):
            name = sub[len(prefix) : -1]
            if name and self._listable(name, path):
                entries.append(models.json_times(models.directory_model(_join(path, name))))
            if n % MODELS_PER_TICK == 0:
                await pause()
        entries.encode_pending()
        if path and marker is None and not listing.objects and not listing.prefixes:
            await self._not_a_directory(path)
        model = models.directory_model(path, marker.last_modified if marker else None)
        model.update(content=entries, format="json")
        return model

    async def _not_a_directory(self, path: str) -> None:
        if await self._head(path) is not None:
            raise HTTPError(400, f"{path} is not a directory", reason="bad type")
        raise HTTPError(404, f"No such file or directory: {path}")

    # -- writing -------------------------------------------------------------

    @http_errors
    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        path = await self._ready(path, "save")
        chunk = model.get("chunk")
        if chunk in (None, 1):
            self.run_pre_save_hooks(model=model, path=path)
        kind = model.get("type")
        if kind is None:
            raise HTTPError(400, "No file type provided")
        if "content" not in model and kind != "directory":
            raise HTTPError(400, "No file content provided")
        if chunk is not None:
            return await self._save_chunk(model, path, chunk)

        message = None
        if kind in ("notebook", "file"):
            await self._check_kind_free(path)
        if kind == "notebook":
            meta = await self._save_notebook(model, path)
            message = model.get("message")
        elif kind == "file":
            data = self._decode(model["content"], model.get("format"), path)
            meta = await self._put(path, data)
        elif kind == "directory":
            meta = await self._save_directory(path)
        else:
            raise HTTPError(400, f"Unhandled contents type: {kind}")

        if kind == "directory":
            result = models.directory_model(path, meta.last_modified)
        else:  # typed by its name, as FileContentsManager answers (x.ipynb saved as a file)
            result = self._written(path, meta, models.entry_type(path))
        if message:
            result["message"] = message
        self.run_post_save_hooks(model=result, os_path=path)
        self.emit(data={"action": "save", "path": path})
        return result

    async def _put(
        self, path: str, data: bytes | encoding.Encoded, content_type: str | None = None
    ) -> ObjectMeta:
        body = data if isinstance(data, encoding.Encoded) else await encoding.digest_async(data)
        self._writing[path] += 1  # a poll racing this write must not call it someone else's
        try:
            meta = await self.store.put(
                path,
                body.data,
                content_type=content_type
                or mimetypes.guess_type(path)[0]
                or "application/octet-stream",
                metadata={models.HASH_METADATA_KEY: body.sha256},
                md5=body.md5,
            )
            self.wrote(path, meta)  # while the guard holds: a poll meanwhile sees our write
        except errors.Unavailable:
            if self.rooms is not None:  # a collaboration room's save is tried again later
                self.rooms.save_failed(path)
            raise
        finally:
            self._writing[path] -= 1
            if not self._writing[path]:
                del self._writing[path]
        self._recent.keep(path, meta.etag, body.data, saved=True)
        return meta

    async def _save_notebook(self, model: dict[str, Any], path: str) -> ObjectMeta:
        if not isinstance(model["content"], dict):
            raise HTTPError(400, f"Notebook content for {path} must be a JSON object")
        try:
            nb = nbformat.from_dict(model["content"])
            self.check_and_sign(nb, path)
            validation_error: dict[str, Any] = {}
            # nb is this save's own; encoding a big one must not stall other users
            body = await anyio.to_thread.run_sync(encoding.encode_notebook, nb, validation_error)
        except Exception as exc:
            raise HTTPError(400, f"Invalid notebook content for {path}: {exc}") from exc
        meta = await self._put(path, body, models.NOTEBOOK_CONTENT_TYPE)
        # As FileContentsManager: one checkpoint should always exist for notebooks;
        # with checkpoint_interval, also one at most that often (collaboration autosaves).
        newest = await self.checkpoints.newest(path)
        interval = self.checkpoint_interval
        if newest is None or (
            interval > 0 and datetime.now(UTC) - newest >= timedelta(seconds=interval)
        ):
            await self.checkpoints.create_checkpoint(self, path)
        self.validate_notebook_model(model, validation_error)
        return meta

    def _decode(self, content: Any, format: str | None, path: str) -> bytes:
        if format not in ("text", "base64"):
            raise HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
        if not isinstance(content, str):
            raise HTTPError(400, f"Content of {path} must be a string")
        try:
            if format == "text":
                return content.encode("utf-8")
            # Line breaks allowed: encodebytes, as our answers use, writes them.
            return base64.b64decode("".join(content.split()).encode("ascii"), validate=True)
        except (UnicodeError, binascii.Error) as exc:
            raise HTTPError(400, f"Encoding error saving {path}: {exc}") from exc

    async def _save_directory(self, path: str) -> ObjectMeta:
        if await self._head(path) is not None:
            raise HTTPError(400, f"Not a directory: {path}")
        await self._check_kind_free(path, new=True)  # its parents: folders, not files
        return await self.store.put(f"{path}/", b"", content_type=DIRECTORY_CONTENT_TYPE)

    async def _save_chunk(self, model: dict[str, Any], path: str, chunk: Any) -> dict[str, Any]:
        """One request of a chunked upload (1, 2, ..., -1 for the last).

        Each chunk is staged as its own object; the last one composes them into
        the file in one atomic step, so no half-uploaded file is ever visible
        and no chunk is held in memory beyond its own request.
        """
        if model["type"] != "file":
            raise HTTPError(
                400, f'File type "{model["type"]}" is not supported for large file transfer'
            )
        if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk == 0 or chunk < -1:
            raise HTTPError(400, f"Invalid chunk number {chunk!r}")
        data = self._decode(model["content"], model.get("format"), path)
        staging = _upload_prefix(path)
        if chunk == 1:  # a new upload replaces any abandoned one
            await self._check_kind_free(path)
            await self.store.delete_many(await self._staged_parts(staging))
            number = 1
        elif chunk > 1:  # each part checks the one before: one HEAD, not a listing per chunk
            number = chunk
            if await self._head(_part_key(staging, number - 1)) is None:
                await self._lost_chunk(path, staging, chunk)
        else:  # the last: the staged parts must be 1..n, without a gap, n >= 1
            parts = await self._staged_parts(staging)
            number = len(parts) + 1
            if not parts or parts != [_part_key(staging, n) for n in range(1, number)]:
                await self._lost_chunk(path, staging, chunk)
        expected = [_part_key(staging, n) for n in range(1, number)]
        part_key = _part_key(staging, number)
        part = await self.store.put(part_key, data)
        if chunk != -1:
            result = models.base_model(
                path, type="file", last_modified=part.last_modified, size=None
            )
            result["mimetype"] = mimetypes.guess_type(path)[0]
            return result

        everything = [*expected, part_key]
        meta = await self.store.compose(
            path,
            everything,
            content_type=mimetypes.guess_type(path)[0] or "application/octet-stream",
        )
        await self.store.delete_many(everything)
        result = self._written(path, meta, models.entry_type(path))
        self.run_post_save_hooks(model=result, os_path=path)
        self.emit(data={"action": "save", "path": path})
        return result

    async def _lost_chunk(self, path: str, staging: str, chunk: int) -> None:
        await self.store.delete_many(await self._staged_parts(staging))
        raise HTTPError(400, f"Upload of {path} lost a chunk (got {chunk}); upload it again")

    async def _staged_parts(self, staging: str) -> list[str]:
        listing = await list_all(self.store, staging, delimiter="/")
        return sorted(o.key for o in listing.objects if o.key[len(staging) :].startswith("part-"))

    # -- checkpoints: the same path rules as the files they keep ---------------
    # (else a checkpoint of .bookstore/shares/... could bring a revoked link back)

    @http_errors
    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        path = await self._ready(path, "make a checkpoint of")
        return await super().create_checkpoint(path)

    @http_errors
    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        path = await self._ready(path)
        return await super().list_checkpoints(path)

    @http_errors
    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        path = await self._ready(path, "restore")
        await super().restore_checkpoint(checkpoint_id, path)

    @http_errors
    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        path = await self._ready(path, "delete a checkpoint of")
        await super().delete_checkpoint(checkpoint_id, path)

    # -- delete, rename, copy ------------------------------------------------

    @http_errors
    async def delete_file(self, path: str) -> None:
        path = await self._ready(path, "delete")
        self._forget(path)
        if await self._head(path) is not None:
            await self.store.delete(path)
        # A folder: everything under it goes (as JupyterLab's delete of a folder does).
        elif not await delete_tree(self.store, f"{path}/"):
            raise HTTPError(404, f"File or directory does not exist: {path}")
        await self._shares_follow(path, None)  # no link outlives what it showed

    @http_errors
    async def rename(self, old_path: str, new_path: str) -> None:
        """Rename a file or folder together with its checkpoints."""
        await self.rename_file(old_path, new_path)
        self.emit(data={"action": "rename", "path": new_path, "source_path": old_path})

    @http_errors
    async def rename_file(self, old_path: str, new_path: str) -> None:
        old_path, new_path = self._norm(old_path), self._norm(new_path)
        if old_path == new_path:
            return
        await self.settle()
        self.check_writable(old_path, "rename")
        self.check_writable(new_path, "rename to")
        if new_path.startswith(f"{old_path}/"):
            raise HTTPError(400, f"Cannot move {old_path} into itself")
        if await self._exists(new_path):
            raise HTTPError(409, f"File already exists: {new_path}")
        await self._check_kind_free(new_path, new=True)
        self._forget(old_path)
        self._forget(new_path)
        moves = [(checkpoint_prefix(old_path), checkpoint_prefix(new_path))]
        if await self._head(old_path) is not None:
            await self.store.copy(old_path, new_path)
            await self.store.delete(old_path)
            try:
                await self._move_trees(moves)
            except Exception:
                # The file has moved: its checkpoints and links must follow it later.
                try:
                    await self._journal(moves, [old_path, new_path])
                except errors.StoreError as exc:
                    self.log.error("%s's checkpoints stay at %s: %s", new_path, old_path, exc)
                else:
                    self._mark_unsettled()
                raise
            await self._shares_follow(old_path, new_path)
        elif not await self._is_dir(old_path):
            raise HTTPError(404, f"File or directory does not exist: {old_path}")
        else:
            moves.insert(0, (f"{old_path}/", f"{new_path}/"))
            await self._rename_folder(old_path, new_path, moves)

    async def _rename_folder(self, old: str, new: str, moves: list[tuple[str, str]]) -> None:
        """Move every object of a folder, crash-safe.

        A journal object names the moves before any copy starts and is deleted
        after the last delete and the share records' move; a server that died in
        between finishes both when it starts again (``resume_renames``). Meanwhile
        this server answers 409 for both folders instead of showing half of each, and the
        journal's heartbeat tells other servers on the prefix to do the same.
        """
        journal = self._new_journal(moves, [old, new])
        self._running.add(journal.key)  # before it exists: never another look's to resume
        self._moving |= {old, new}
        deleting = False

        def copied() -> None:
            nonlocal deleting
            deleting = True

        try:
            written = await self.store.put(journal.key, journal.encode())
            await self._run_journal(journal, written.etag, first_copied=copied)
        except Exception:
            if not deleting:  # the copies were rolled back: nothing to resume
                await self.store.delete(journal.key)
            else:  # half moved: finished before this server serves anything else
                self._mark_unsettled()
            raise
        finally:
            self._moving -= {old, new}
            self._running.discard(journal.key)

    async def _run_journal(
        self,
        journal: Journal,
        etag: str | None,
        *,
        first_copied: Callable[[], None] | None = None,
        roll_back: bool = True,
    ) -> None:
        """Do what ``journal`` (as written with ``etag``) says, beating its heartbeat,
        then delete it."""
        async with heartbeat(self.store, journal, etag, self.log):
            await self._move_trees(journal.moves, first_copied, roll_back=roll_back)
            if journal.paths:  # the folder's own (or the file's); share records follow it
                await self._shares_follow(*journal.paths)
        await self.store.delete(journal.key)

    def _new_journal(self, moves: list[tuple[str, str]], paths: list[str]) -> Journal:
        return Journal(f"{RENAMES_ROOT}{uuid.uuid4().hex}.json", moves, paths, self._owner)

    async def _journal(self, moves: list[tuple[str, str]], paths: list[str]) -> None:
        journal = self._new_journal(moves, paths)
        await self.store.put(journal.key, journal.encode())

    async def _move_trees(
        self,
        moves: list[tuple[str, str]],
        first_copied: Callable[[], None] | None = None,
        *,
        roll_back: bool = True,
    ) -> None:
        for old, new in moves:  # what was known of their checkpoints no longer holds
            self.checkpoints.forget(old[:-1].removeprefix(CHECKPOINT_ROOT))
            self.checkpoints.forget(new[:-1].removeprefix(CHECKPOINT_ROOT))
        for i, (src, dst) in enumerate(moves):
            copied = first_copied if i == 0 else None
            await move_tree(
                self.store,
                src,
                dst,
                concurrency=self.concurrency,
                copied=copied,
                roll_back=roll_back,
            )

    def _forget(self, path: str) -> None:
        """What was known of ``path`` (and below) no longer holds: deleted, moved, copied over."""
        self._clock.forget(path)
        self._recent.forget(path)

    async def sweep_abandoned_uploads(self) -> int:
        """Delete staged chunks of uploads abandoned long ago; returns how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.abandoned_upload_age)
        staged = await list_all(self.store, UPLOADS_ROOT, delimiter=None)
        old = [o.key for o in staged.objects if o.last_modified < cutoff]
        await self.store.delete_many(old)
        return len(old)

    async def settle(self) -> None:
        """Finish renames left half done before anything else is served, and every
        ``JOURNAL_LOOK`` seconds look for renames other servers began."""
        if self._settle_due():
            async with self._settling:  # one resume at a time, whoever asks
                if self._settle_due():
                    await self._resume_all()

    def _settle_due(self) -> bool:
        now = time.monotonic()
        return now >= self._next_look or (self._unsettled and now >= self._settle_after)

    async def resume_renames(self) -> int:
        """Finish renames left half done (by a server that died, or a store failure);
        returns how many were finished. One that fails is logged, its paths answer 409,
        and it is tried again ``RESUME_RETRY`` seconds later; the others go on."""
        async with self._settling:
            return await self._resume_all()

    async def _resume_all(self) -> int:
        now = time.monotonic()
        try:
            listing = await list_all(self.store, RENAMES_ROOT, delimiter="/")
        except errors.StoreError as exc:
            if self._unsettled:  # a resume is due: nothing is served before it
                raise
            # Only the periodic look: this request needn't fail for it.
            self.log.warning("Cannot look for other servers' renames now: %s", exc)
            self._next_look = now + JOURNAL_LOOK
            return 0
        self._marked = False  # set by a rename failing while this runs
        self._watch.keep_only({o.key for o in listing.objects})
        finished, stuck, elsewhere = 0, set(), set()
        for obj in listing.objects:
            if obj.key in self._running:  # a rename this server is doing right now
                continue
            journal = None
            try:
                journal = await self._read_journal(obj.key)
                if journal is None:
                    continue
                if not self._watch.abandoned(journal, obj) or not await self._resume(
                    journal, obj.etag
                ):  # another server's, running
                    elsewhere |= set(journal.paths)
                    continue
                finished += 1
            except errors.StoreError as exc:
                self.log.error("Cannot finish the rename %s yet (%s): retrying", obj.key, exc)
                stuck |= set(journal.paths if journal else ())
        # Requests waited on the lock until now: none saw (or wrote into) half a rename.
        now = time.monotonic()
        self._stuck, self._elsewhere = stuck, elsewhere
        self._unsettled = bool(stuck) or self._marked
        self._next_look = now + JOURNAL_LOOK
        if stuck:
            self._settle_after = now + RESUME_RETRY
        return finished

    def _mark_unsettled(self) -> None:
        self._unsettled = self._marked = True

    async def _read_journal(self, key: str) -> Journal | None:
        _, raw = await self.store.get(key)
        try:
            return Journal.decode(key, raw)
        except (ValueError, TypeError, KeyError) as exc:
            # Not ours to guess at: set it aside (kept for a person) and go on.
            aside = f"{RENAMES_ROOT}unreadable/{key[len(RENAMES_ROOT) :]}"
            self.log.error("Unreadable rename journal %s (%s): kept at %s", key, exc, aside)
            await self.store.copy(key, aside)
            await self.store.delete(key)
            return None

    async def _resume(self, journal: Journal, etag: str | None) -> bool:
        """Finish ``journal`` (listed with ``etag``), unless another server claims it
        first: False then."""
        mine = dataclasses.replace(journal, owner=self._owner)
        try:  # claimed: its owner now this server, only if nobody else got there first
            mode = IfMatch(etag) if etag else "overwrite"
            written = await self.store.put(mine.key, mine.encode(), mode=mode)
        except (errors.PreconditionFailed, errors.NotFound):
            return False
        self.log.warning("Finishing an interrupted rename: %s", journal.moves[0])
        # Copies what is left, then deletes the source; forward only: its sources may be
        # partly deleted already, so a failed copy is not undone.
        await self._run_journal(mine, written.etag, roll_back=False)
        return True

    @http_errors
    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        path = await self._ready(from_path)
        from_dir, _, from_name = path.rpartition("/")
        meta = await self._head(path)
        if meta is None and not await self._is_dir(path):
            raise HTTPError(404, f"No such file or directory: {path}")

        target = from_dir if to_path is None else self._norm(to_path)
        if await self._is_dir(target):
            name = copy_pat.sub(".", from_name)
            target = _join(target, await self.increment_filename(name, target, insert="-Copy"))
        self.check_writable(target, "copy to")
        if target == path:
            raise HTTPError(400, f"Cannot copy {path} onto itself")
        # Into itself is fine (as on a disk): its keys are listed before the first copy.

        self._forget(target)
        if meta is not None:
            await self._check_kind_free(target)
            model = models.object_model(target, await self.store.copy(path, target))
            if model["type"] == "notebook":  # as a save would: a first checkpoint
                await self.checkpoints.create_checkpoint(self, target)
        else:
            await copy_tree(self.store, f"{path}/", f"{target}/", concurrency=self.concurrency)
            model = models.directory_model(target)
        self.emit(data={"action": "copy", "path": target, "source_path": path})
        return model

    @http_errors
    async def increment_filename(self, filename: str, path: str = "", insert: str = "") -> str:
        """As ContentsManager.increment_filename, but one listing instead of a HEAD per try."""
        path = path.strip("/")
        prefix = f"{path}/" if path else ""
        listing = await list_all(self.store, prefix, delimiter="/")
        taken = {o.key[len(prefix) :] for o in listing.objects}
        taken |= {p[len(prefix) : -1] for p in listing.prefixes}
        basename, dot, ext = filename.rpartition(".")
        if ext != "ipynb":
            basename, dot, ext = filename.partition(".")
        for i in itertools.count():
            name = f"{basename}{f'{insert}{i}' if i else ''}{dot}{ext}"
            if name not in taken:
                return name
        raise AssertionError("unreachable")
