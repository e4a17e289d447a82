"""/bookstore/history/<path> and /bookstore/diff/<path>: a file's versions, read-only
views of them, a restore that can be undone, and diffs."""

from __future__ import annotations

import base64
from typing import Any

import anyio.to_thread
import nbformat
from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from ..contents import history
from ..contents.checkpoints import checkpoint_time
from ..stores.base import ObjectMeta
from .base import BookstoreHandler, json_errors
from .diff import notebook_diff, text_diff

#: Beyond these a diff is refused: nbdime's time grows fast with cells whose ids changed
#: (800 such cells: 7 s), and the answer would be too big for a panel anyway.
MAX_DIFF_BYTES = 20 << 20
MAX_DIFF_CELLS = 1000


def _version_id(value: Any, *, default: str | None = None) -> str:
    value = value or default
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise HTTPError(400, f"Invalid version id: {value!r} (a checkpoint id or 'current')")
    return value


class HistoryHandler(BookstoreHandler):
    """GET: the checkpoints (``?id=``: one version's content); POST {"id"}: restore it."""

    @authorized
    @json_errors
    async def get(self, path: str = "") -> None:
        path = await self.checked_path(path)
        store = self.bookstore.store
        version = self.get_query_argument("id", None)
        if version is not None:
            meta, data = await history.read_version(store, path, _version_id(version))
            self.reply({"path": path, **_version(version, meta), **_content(path, data)})
            return
        current = await store.head(path)  # 404 for a file that is gone
        found = await history.checkpoints_at(store, path)
        self.reply(
            {
                "path": path,
                "current": _version(history.CURRENT, current),
                "checkpoints": [
                    {"id": c.id, "created": c.created.isoformat(), "size": c.size} for c in found
                ],
            }
        )

    @authorized
    @json_errors
    async def post(self, path: str = "") -> None:
        path = await self.checked_path(path)
        checkpoint_id = _version_id(self.body().get("id"))
        if checkpoint_id == history.CURRENT:
            raise HTTPError(400, "Restore needs a checkpoint id, not 'current'")
        store = self.bookstore.store
        await self.bookstore.before_restore(path)
        saved, meta = await history.restore_keeping_current(store, path, checkpoint_id)
        self.bookstore.wrote(path, meta)  # open rooms reload it; no other writer's change
        self.reply(
            {
                "path": path,
                "restored": checkpoint_id,
                "saved": {"id": saved.id, "created": saved.created.isoformat()},
                "current": _version(history.CURRENT, meta),
            }
        )


class DiffHandler(BookstoreHandler):
    """GET ?base=ID&remote=ID|current: what changed from ``base`` to ``remote``."""

    @authorized
    @json_errors
    async def get(self, path: str = "") -> None:
        path = await self.checked_path(path)
        store = self.bookstore.store
        base_id = _version_id(self.get_query_argument("base", None))
        remote_id = _version_id(self.get_query_argument("remote", None), default=history.CURRENT)
        base_meta, base = await history.read_version(store, path, base_id)
        remote_meta, remote = await history.read_version(store, path, remote_id)
        reply: dict[str, Any] = {
            "path": path,
            "base": _version(base_id, base_meta),
            "remote": _version(remote_id, remote_meta),
        }
        if len(base) + len(remote) > MAX_DIFF_BYTES:
            raise HTTPError(
                413,
                f"{path}: these versions are too large to compare here (over "
                f"{MAX_DIFF_BYTES >> 20} MB together); download them to compare",
            )
        # Parsing 20 MB and nbdime's seconds on big notebooks: off the loop, both.
        diff, cells = await anyio.to_thread.run_sync(_compare, path, base, remote)
        reply.update(diff=diff, cells=cells)
        self.reply(reply)


def _compare(path: str, base: bytes, remote: bytes) -> tuple[Any, list[dict[str, Any]]]:
    """(nbdime's diff or None, the cells to show) of two versions of ``path``."""
    if not path.endswith(".ipynb"):
        return None, text_diff(_text(path, base), _text(path, remote))
    old, new = _notebook(path, base), _notebook(path, remote)
    if len(old.get("cells", [])) + len(new.get("cells", [])) > MAX_DIFF_CELLS:
        raise HTTPError(
            413,
            f"{path}: these versions have too many cells to compare here "
            f"(over {MAX_DIFF_CELLS} together); download them to compare",
        )
    return notebook_diff(old, new)


def _version(version: str, meta: ObjectMeta) -> dict[str, Any]:
    created = meta.last_modified
    if version != history.CURRENT:
        created = checkpoint_time(version, meta.last_modified)
    return {"id": version, "created": created.isoformat(), "size": meta.size}


def _notebook(path: str, data: bytes) -> Any:
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4, capture_validation_error={})
    except Exception as exc:
        raise HTTPError(400, f"{path} is not a readable notebook: {exc}") from exc


def _text(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, f"{path} is not text: only notebooks and text files diff") from None


def _content(path: str, data: bytes) -> dict[str, Any]:
    """A version's content as the contents API would give it."""
    if path.endswith(".ipynb"):
        return {"type": "notebook", "format": "json", "content": _notebook(path, data)}
    try:
        return {"type": "file", "format": "text", "content": data.decode("utf-8")}
    except UnicodeDecodeError:
        encoded = base64.encodebytes(data).decode("ascii")
        return {"type": "file", "format": "base64", "content": encoded}
