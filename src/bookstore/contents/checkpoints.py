"""Many checkpoints per file, kept in the same store under a hidden prefix.

Layout: ``.bookstore/checkpoints/<path>/<id>``, where ``<id>`` is the UTC time
of creation (``20261126T131107-123456Z``), so a listing sorts them oldest
first and a file's checkpoints move or vanish with it as one subtree. They are
made by server-side copy: no notebook bytes pass through Jupyter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from tornado.web import HTTPError
from traitlets import Integer

from .. import errors
from ..stores.base import ListPage, Store, list_all
from .bulk import delete_tree, move_tree
from .http import http_errors

CHECKPOINT_ROOT = ".bookstore/checkpoints/"


def checkpoint_prefix(path: str) -> str:
    return f"{CHECKPOINT_ROOT}{path.strip('/')}/"


ID_FORMAT = "%Y%m%dT%H%M%S-%fZ"


def new_checkpoint_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime(ID_FORMAT)


def checkpoint_time(checkpoint_id: str, fallback: datetime) -> datetime:
    """When a checkpoint was made: its id says so; copies (renames) keep the id, not the time."""
    try:
        return datetime.strptime(checkpoint_id, ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return fallback


def _valid_id(checkpoint_id: str) -> str:
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
        raise HTTPError(400, f"Invalid checkpoint id: {checkpoint_id!r}")
    return checkpoint_id


class BookstoreCheckpoints(AsyncCheckpoints):
    """Checkpoints for ``BookstoreContentsManager``: many per file, listed oldest first."""

    max_checkpoints = Integer(
        20, config=True, help="Checkpoints kept per file; the oldest are deleted beyond this."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # When each file's newest checkpoint was made, so a save needn't list them.
        self._newest: dict[str, datetime] = {}

    def forget(self, path: str) -> None:
        """Drop what is known of ``path`` and everything under it (moved or deleted)."""
        path = path.strip("/")
        below = f"{path}/"
        for known in [p for p in self._newest if p == path or p.startswith(below)]:
            del self._newest[known]

    async def newest(self, path: str) -> datetime | None:
        """When the newest checkpoint of ``path`` was made; None if it has none."""
        path = path.strip("/")
        if path not in self._newest:
            objects = (await self._listing(path)).objects
            if not objects:
                return None
            self._newest[path] = max(self._model(o, path)["last_modified"] for o in objects)
        return self._newest[path]

    async def has_checkpoint(self, path: str) -> bool:
        return await self.newest(path) is not None

    @property
    def store(self) -> Store:
        return self.parent.store

    @property
    def concurrency(self) -> int:
        return self.parent.concurrency

    async def _listing(self, path: str) -> ListPage:
        return await list_all(self.store, checkpoint_prefix(path), delimiter="/")

    def _model(self, meta: Any, path: str) -> dict[str, Any]:
        checkpoint_id = meta.key.rsplit("/", 1)[-1]
        return {
            "id": checkpoint_id,
            "last_modified": checkpoint_time(checkpoint_id, meta.last_modified),
        }

    @http_errors
    async def create_checkpoint(self, contents_mgr: Any, path: str) -> dict[str, Any]:
        path = path.strip("/")
        key = checkpoint_prefix(path) + new_checkpoint_id()
        return await self._added(path, await self.store.copy(path, key))

    async def keep(self, path: str, data: bytes) -> dict[str, Any]:
        """A checkpoint of ``path`` holding ``data``: a version no longer stored there."""
        path = path.strip("/")
        key = checkpoint_prefix(path) + new_checkpoint_id()
        return await self._added(path, await self.store.put(key, data))

    async def _added(self, path: str, meta: Any) -> dict[str, Any]:
        model = self._model(meta, path)
        self._newest[path] = model["last_modified"]
        await self._prune(path)
        return model

    async def _prune(self, path: str) -> None:
        objects = (await self._listing(path)).objects
        excess = len(objects) - max(1, self.max_checkpoints)
        if excess > 0:
            oldest = sorted(o.key for o in objects)[:excess]
            await self.store.delete_many(oldest)

    @http_errors
    async def restore_checkpoint(self, contents_mgr: Any, checkpoint_id: str, path: str) -> None:
        path = path.strip("/")
        key = checkpoint_prefix(path) + _valid_id(checkpoint_id)
        await contents_mgr.before_restore(path)
        try:
            meta = await self.store.copy(key, path)
        except errors.NotFound:
            raise HTTPError(404, f"No checkpoint {checkpoint_id} for {path}") from None
        contents_mgr.wrote(path, meta)  # a change for open rooms, not another writer's

    @http_errors
    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        old = checkpoint_prefix(old_path) + _valid_id(checkpoint_id)
        await self.store.copy(old, checkpoint_prefix(new_path) + checkpoint_id)
        await self.store.delete(old)

    @http_errors
    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        key = checkpoint_prefix(path) + _valid_id(checkpoint_id)
        try:
            await self.store.head(key)
        except errors.NotFound:
            raise HTTPError(404, f"No checkpoint {checkpoint_id} for {path}") from None
        await self.store.delete(key)
        self.forget(path)

    @http_errors
    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        # Oldest first, as JupyterLab expects: its "Revert to Checkpoint" reverses the
        # list to offer the newest first, and a restore without an id takes the last.
        objects = (await self._listing(path)).objects
        return [self._model(o, path) for o in sorted(objects, key=lambda o: o.key)]

    @http_errors
    async def rename_all_checkpoints(self, old_path: str, new_path: str) -> None:
        # One subtree per path: this moves a file's checkpoints, or a whole folder's.
        self.forget(old_path)
        self.forget(new_path)
        await move_tree(
            self.store,
            checkpoint_prefix(old_path),
            checkpoint_prefix(new_path),
            concurrency=self.concurrency,
        )

    @http_errors
    async def delete_all_checkpoints(self, path: str) -> None:
        self.forget(path)
        await delete_tree(self.store, checkpoint_prefix(path))
