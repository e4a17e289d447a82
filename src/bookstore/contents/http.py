"""The one place where storage errors become HTTP errors."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from tornado.web import HTTPError

from .. import errors

log = logging.getLogger("bookstore")
P = ParamSpec("P")
R = TypeVar("R")

# error class -> (status, what the person is told; {path} is the Jupyter path)
_STATUS: list[tuple[type[errors.StoreError], int, str]] = [
    (errors.NotFound, 404, "No such file or directory: {path}"),
    (errors.AlreadyExists, 409, "File already exists: {path}"),
    (errors.PreconditionFailed, 409, "{path} was changed by someone else; reload it and retry"),
    (errors.PermissionDenied, 403, "Permission denied: {path}"),
    (errors.InvalidRequest, 400, "The store refused the request for {path}"),
    (errors.Unauthenticated, 503, "The storage service rejected Bookstore's credentials"),
    (errors.Unavailable, 503, "The storage service is unavailable; try again shortly"),
]


def to_http_error(exc: errors.StoreError, path: str) -> HTTPError:
    """The HTTPError a person should see for ``exc`` raised while working on ``path``."""
    for cls, status, message in _STATUS:
        if isinstance(exc, cls):
            detail = str(exc)
            text = message.format(path=path or "/")
            return HTTPError(status, f"{text} ({detail})" if detail else text, reason=None)
    return HTTPError(500, f"Unexpected storage error on {path or '/'}: {exc}")


def http_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn store errors escaping ``fn`` into HTTPErrors naming its ``path`` argument."""

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        try:
            return await fn(*args, **kwargs)
        except errors.StoreError as exc:
            bound = signature.bind_partial(*args, **kwargs).arguments
            path = bound.get("path", bound.get("old_path", bound.get("from_path", "")))
            raise to_http_error(exc, str(path or "").strip("/")) from exc
        except HTTPError:
            raise
        except Exception as exc:
            # A bug of ours: the log gets the traceback, the browser a sentence.
            log.exception("unexpected error in %s", fn.__qualname__)
            raise HTTPError(500, f"Unexpected error in Bookstore: {type(exc).__name__}") from exc

    return wrapper  # type: ignore[return-value]
