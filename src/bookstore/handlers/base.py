"""What every /bookstore/ endpoint shares: JSON in and out, errors as JSON, paths checked."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from .. import errors
from ..contents.http import to_http_error
from ..contents.models import dumps
from ..sharing.base import InvalidShare, SharingNotSupported

log = logging.getLogger("bookstore")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

RESERVED = ".bookstore"


def json_errors(fn: F) -> F:
    """Store and sharing errors -> HTTPErrors, which APIHandler writes as JSON
    ``{"message": ..., "reason": ...}``; a bug of ours is logged and becomes a 500."""

    @functools.wraps(fn)
    async def wrapper(self: BookstoreHandler, *args: Any, **kwargs: Any) -> Any:
        path = str(kwargs.get("path") or (args[0] if args else "")).strip("/")
        try:
            return await fn(self, *args, **kwargs)
        except HTTPError:
            raise
        except SharingNotSupported as exc:
            raise HTTPError(501, str(exc)) from exc
        except InvalidShare as exc:
            raise HTTPError(400, str(exc)) from exc
        except errors.StoreError as exc:
            raise to_http_error(exc, path) from exc
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__qualname__)
            raise HTTPError(500, f"Unexpected error in Bookstore: {type(exc).__name__}") from exc

    return wrapper  # type: ignore[return-value]


class BookstoreHandler(APIHandler):
    """Base of the /bookstore/ handlers (XSRF and auth as every Jupyter API)."""

    auth_resource = "contents"

    @property
    def bookstore(self) -> Any:
        """The BookstoreContentsManager; 501 when the server uses another one."""
        from ..contents import BookstoreContentsManager

        cm = self.contents_manager
        if not isinstance(cm, BookstoreContentsManager):
            raise HTTPError(
                501,
                "Bookstore is installed but not serving contents: set "
                "c.ServerApp.contents_manager_class = 'bookstore.BookstoreContentsManager'",
            )
        return cm

    def file_path(self, path: str) -> str:
        """A Jupyter path as the contents API would accept it to read a file."""
        path = (path or "").strip("/")
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") for p in parts):
            raise HTTPError(400, f"Invalid path: {path!r}")
        hidden = any(p.startswith(".") for p in parts)
        if parts[0] == RESERVED or (hidden and not self.bookstore.allow_hidden):
            raise HTTPError(404, f"No such file or directory: {path}")
        return path

    async def checked_path(self, path: str) -> str:
        """``file_path``, once renames left half done are finished; 409 while the file's
        folder is being renamed (as the contents API answers)."""
        path = self.file_path(path)
        await self.bookstore.settle()
        self.bookstore.check_readable(path)
        return path

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except ValueError as exc:
            raise HTTPError(400, f"The request body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HTTPError(400, "The request body must be a JSON object")
        return data

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(data))  # as the contents API: a NaN in a notebook arrives as null
