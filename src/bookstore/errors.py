"""The one error tree every store raises.

Stores translate their client's exceptions into these and nothing else;
``bookstore.contents.http`` alone turns them into HTTP status codes.
Messages are meant for people: they name the object, never a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class StoreError(Exception):
    """Base class: a storage operation failed."""


class NotFound(StoreError):
    """The object (or container/bucket) does not exist."""


class AlreadyExists(StoreError):
    """A create-only write found an object already there."""


class PreconditionFailed(StoreError):
    """A conditional write lost a race: the object changed since it was read."""


Conflict = PreconditionFailed


class PermissionDenied(StoreError):
    """The credentials are valid but not allowed to do this."""


class Unauthenticated(StoreError):
    """The store rejected the credentials (after one re-authentication)."""


class Unavailable(StoreError):
    """The store could not be reached or kept failing after retries."""


class InvalidRequest(StoreError):
    """The store refused the request as malformed (bad key, too large, ...)."""


__all__ = [
    "AlreadyExists",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "StoreError",
    "Unauthenticated",
    "Unavailable",
]


def first_error(exc: BaseException) -> BaseException:
    """The first real error inside a task group's ExceptionGroup (``exc`` if none)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@contextmanager
def one_error() -> Iterator[None]:
    """Raise a task group's first error itself: callers map one error, not a group."""
    try:
        yield
    except BaseExceptionGroup as group:
        raise first_error(group)  # noqa: B904 (it keeps its own traceback and cause)
