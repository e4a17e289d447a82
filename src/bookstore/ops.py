"""What the ``bookstore`` command does, without the command: URLs, ls, cat, rm, history.

``cli.py`` parses arguments and prints; what it needs to know about stores and
URLs is here (copying is in ``transfer``, configuration in ``settings``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from traitlets.config import Config

from . import errors
from .settings import STORE_URL_ENV
from .stores.base import Store, list_all
from .stores.keys import folders_above
from .stores.registry import StoreURLError, open_store, split_store_url, store_class

RESERVED = ".bookstore"

if TYPE_CHECKING:
    from .contents.history import Checkpoint


def _history() -> Any:
    # Imported when needed: ``bookstore.contents`` loads nbformat, seconds of start-up
    # that ls, cat and the copying commands have no use for.
    from .contents import history

    return history


# --- targets: a URL names a store and a key in it --------------------------------------


@dataclass(frozen=True)
class Target:
    """A store (scheme + location) and a key in it.

    ``key`` is ``""`` for the store's root; a trailing ``/`` says "a folder".
    """

    scheme: str
    location: str  # container, bucket, directory or memory name
    key: str

    @property
    def store_url(self) -> str:
        # Quoted so the registry's unquoting gives the location back verbatim.
        return f"{self.scheme}://{quote(self.location, safe='/')}"

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file://{os.path.join(self.location, self.key)}"
        return f"{self.scheme}://{self.location}/{self.key}"


def _is_contents_root(directory: str) -> bool:
    return os.path.isdir(os.path.join(directory, RESERVED))


def parse_target(
    url: str,
    *,
    home: str | None = None,
    is_root: Callable[[str], bool] = _is_contents_root,
) -> Target:
    """Split a URL into the store it names and a key in that store.

    - ``swift://CONTAINER/KEY``, ``s3://BUCKET/KEY``, ``memory://NAME/KEY``: the
      container (bucket, name) is the store, the rest of the path is the key,
      verbatim: no percent-decoding, and ``?`` and ``#`` are part of it.
    - ``file:///DIR/PATH``: the store is the nearest folder above PATH that is a
      Bookstore contents root (holds ``.bookstore/``; so a file's checkpoints are
      found), else PATH's own folder; ``file:///DIR/`` (trailing ``/``) is DIR itself
      when no root is above it. The key is PATH relative to that store.
    - ``bookstore://KEY``: KEY in ``home``, the configured store (``$BOOKSTORE_STORE_URL``
      or ``c.BookstoreContentsManager.store_url``).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme.isidentifier():
        raise StoreURLError(f"{url!r} is not a store URL (e.g. swift://container/path)")
    if scheme == "bookstore":
        if not home:
            raise StoreURLError(
                f"{url!r}: no store is configured for bookstore:// URLs; set "
                f"${STORE_URL_ENV} or c.BookstoreContentsManager.store_url"
            )
        # Decoded as the server decodes it (split_store_url), so both reach one store.
        scheme, location, prefix = split_store_url(home)
        store_class(scheme)
        if scheme == "file":
            return _file_target(location.rstrip("/") + "/" + rest.lstrip("/"), is_root)
        if not location and scheme != "memory":
            raise StoreURLError(f"{home!r} names no container or bucket: {scheme}://NAME/PATH")
        return Target(scheme, location, prefix + rest.lstrip("/"))
    store_class(scheme)  # unknown scheme or missing extra: say so now
    if scheme == "file":
        return _file_target(rest, is_root)
    location, _, key = rest.partition("/")
    if not location and scheme != "memory":
        raise StoreURLError(f"{url!r} names no container or bucket: {scheme}://NAME/PATH")
    return Target(scheme, location, key)


def _file_target(path: str, is_root: Callable[[str], bool]) -> Target:
    if not path.startswith("/"):
        raise StoreURLError(f"file://{path}: a file URL needs an absolute path (file:///dir)")
    folder = path.endswith("/")
    pure = PurePosixPath(os.path.normpath(path))
    start = pure if folder else pure.parent
    candidates = [start, *start.parents]
    root = next((c for c in candidates if is_root(str(c))), start)
    key = pure.relative_to(root).as_posix()
    key = "" if key == "." else key + ("/" if folder else "")
    return Target("file", str(root), key)


def local_target(path: str, *, folder: bool = False) -> Target:
    """A plain local path as a file target; a folder if it is one (or ``folder``)."""
    absolute = os.path.abspath(path)
    if folder or os.path.isdir(absolute) or path.endswith(os.sep):
        absolute = absolute.rstrip("/") + "/"
    return _file_target(absolute, _is_contents_root)


def target(arg: str, *, home: str | None = None) -> Target:
    """A command-line argument: a store URL, or else a local path."""
    return parse_target(arg, home=home) if "://" in arg else local_target(arg)


def overlaps(a: Target, b: Target) -> bool:
    """Whether one target is inside the other (a copy between them would copy onto itself)."""

    def where(t: Target) -> str:
        if t.scheme == "file":
            return os.path.realpath(os.path.join(t.location, t.key)) + "/"
        return f"{t.scheme}://{t.location}/{t.key}".rstrip("/") + "/"

    x, y = where(a), where(b)
    return x.startswith(y) or y.startswith(x)


def check_source(t: Target) -> None:
    """NotFound if ``t`` names the root of a local folder or memory store that is not
    there: listed, it would look empty, and ``--delete`` would then empty the destination."""
    if t.key:
        return  # transfer.resolve checks keys
    if t.scheme == "file" and not os.path.isdir(t.location):
        raise errors.NotFound(f"no folder {t.location} (a typo, or a disk not mounted?)")
    if t.scheme == "memory" and t.location:
        from .stores.memory import MemoryStore

        if not MemoryStore.exists(t.location):  # opening it would make a new, empty one
            raise errors.NotFound(f"no memory store named {t.location!r}")


#: Schemes that may be one service seen two ways (Swift's s3api serves containers as buckets).
_ALIASES = {"swift", "s3"}


def may_alias(a: Target, b: Target) -> bool:
    """Whether ``a`` and ``b`` could be one container under two names (then ask ``same_store``)."""
    return {a.scheme, b.scheme} == _ALIASES and a.location == b.location


async def same_store(writable: Store, other: Store, key: str) -> bool:
    """Whether an object written through ``writable`` (under folder ``key``) is seen
    through ``other``: a probe, deleted again, in Bookstore's reserved area."""
    probe = key.rstrip("/") + "/" if key.strip("/") else ""
    probe += f"{RESERVED}/probe-{uuid.uuid4().hex}"
    await writable.put(probe, b"")
    try:
        await other.head(probe)
        return True
    except errors.NotFound:
        return False
    finally:
        await writable.delete(probe)


def keys_overlap(a: str, b: str) -> bool:
    """Whether one key (taken as a folder) is inside the other; ``""`` holds everything."""
    x, y = (k.strip("/") + "/" if k.strip("/") else "" for k in (a, b))
    return x.startswith(y) or y.startswith(x)


def open_target(t: Target, config: Config) -> Store:
    return open_store(t.store_url, config=config)


# --- operations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str  # relative to the listed folder; folders end with "/"
    kind: str  # "file" | "folder"
    size: int | None
    modified: datetime | None
    etag: str | None = None


async def ls(store: Store, key: str, *, show_all: bool = False) -> list[Entry]:
    """The entries of folder ``key`` (or the one object ``key``), folders first.

    Bookstore's ``.bookstore/`` area is hidden unless ``show_all``. NotFound if
    ``key`` is neither an object nor a non-empty folder.
    """
    if key and not key.endswith("/"):
        try:
            meta = await store.head(key)
        except errors.NotFound:
            pass
        else:
            name = key.rsplit("/", 1)[-1]
            return [Entry(name, "file", meta.size, meta.last_modified, meta.etag)]
    prefix = key.rstrip("/") + "/" if key else ""
    page = await list_all(store, prefix, delimiter="/")
    folders, files, marker = [], [], False
    for sub in page.prefixes:
        name = sub[len(prefix) :]
        if show_all or name.rstrip("/") != RESERVED:
            folders.append(Entry(name, "folder", None, None))
    for obj in page.objects:
        name = obj.key[len(prefix) :]
        if not name:
            marker = True
        elif show_all or not name.startswith(RESERVED):
            files.append(Entry(name, "file", obj.size, obj.last_modified, obj.etag))
    if prefix and not (marker or page.objects or page.prefixes):
        raise errors.NotFound(f"no object or folder {key!r} in {store.description}")
    return folders + files


async def cat(store: Store, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    """The bytes of ``key``, in chunks."""
    if not key or key.endswith("/"):
        raise IsAFolder(f"{key or '/'!r} is a folder, not a file")
    _, chunks = await store.get_stream(key, chunk_size=chunk_size)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True)
class Removed:
    objects: int
    checkpoints: int
    links: int = 0  # shares revoked: their links fail from now on


class UsageError(errors.InvalidRequest):
    """A request the command line got wrong (exit 2, not 1)."""


class IsAFolder(UsageError):
    """``rm`` of a folder without ``recursive``, ``cat`` of a folder."""


async def rm(
    store: Store, key: str, *, recursive: bool = False, config: Config | None = None
) -> Removed:
    """Delete the object ``key`` and its checkpoints, or (``recursive``) a whole folder.

    Links to what goes are revoked after it is gone, as a Jupyter delete revokes them: a
    share made meanwhile either wrote its record first (and is revoked here) or finds
    the file gone and takes itself back. Share records inside a deleted folder (another
    contents root's) are read and revoked before the folder goes. ``config`` configures
    the ``Sharing``: public container, ...
    """
    if key and not key.endswith("/"):
        try:
            await store.head(key)
        except errors.NotFound:
            pass
        else:
            await store.delete(key)
            links = await revoke_shares(store, _roots_above(key), config)
            return Removed(1, await _history().delete_checkpoints(store, key), links)
    prefix = key.rstrip("/") + "/" if key else ""
    page = await list_all(store, prefix, delimiter="/")
    if not (page.objects or page.prefixes):
        raise errors.NotFound(f"no object or folder {key!r} in {store.description}")
    if not recursive:
        raise IsAFolder(f"{key or '/'!r} is a folder: use -r to delete it and everything in it")
    keys = [o.key for o in (await list_all(store, prefix, delimiter=None)).objects]
    links = await revoke_shares(store, _roots_inside(keys), config)
    await store.delete_many(keys)  # what revoking deleted already is ignored
    links += await revoke_shares(store, _roots_above(key), config)
    checkpoints = await _history().delete_checkpoints(store, key) if key.strip("/") else 0
    return Removed(len(keys), checkpoints, links)


def _roots_above(key: str) -> set[tuple[str, str]]:
    """(contents root, path below it) for every folder above ``key`` that may be a root."""
    if not key.strip("/") or RESERVED in key.split("/"):
        return set()
    return set(folders_above(key))


def _roots_inside(keys: list[str]) -> set[tuple[str, str]]:
    """(contents root, shared path) of every share record among ``keys``."""
    from .sharing.service import INDEX_ROOT

    found = set()
    for k in keys:  # <root>.bookstore/shares/index/<path>/<id>.json
        at = 0 if k.startswith(INDEX_ROOT) else k.find("/" + INDEX_ROOT) + 1
        if at or k.startswith(INDEX_ROOT):
            path = k[at + len(INDEX_ROOT) :].rpartition("/")[0]
            if path:
                found.add((k[:at], path))
    return found


async def revoke_shares(
    store: Store, targets: set[tuple[str, str]], config: Config | None = None
) -> int:
    """Revoke the shares of each (contents root, path) with the contents manager's own
    ``Sharing.revoke_under``; returns how many (0 where a store cannot share)."""
    from .sharing import Sharing, SharingNotSupported

    revoked = 0
    for root in sorted({r for r, _ in targets}):
        try:
            sharing = Sharing(store, root=root, config=config or Config())
        except SharingNotSupported:  # file://, memory://: no links to revoke
            return 0
        try:
            for r, path in sorted(targets):
                if r == root:
                    revoked += len(await sharing.revoke_under(path))
        finally:
            await sharing.close()
    return revoked


async def checkpoints(store: Store, key: str) -> list[Checkpoint]:
    """``key``'s checkpoints, newest first; NotFound if there is neither file nor checkpoint."""
    found = await _history().list_checkpoints(store, key)
    if not found:
        await store.head(key)  # raises NotFound for a key that is not there at all
    return found


async def restore(
    store: Store, key: str, checkpoint_id: str
) -> tuple[Checkpoint, Checkpoint | None]:
    """Copy checkpoint ``checkpoint_id`` (or ``latest``) over ``key``, keeping what it
    replaces as a new checkpoint (returned second; None if there was no file)."""
    history = _history()
    try:
        history.check_id(checkpoint_id)
    except errors.InvalidRequest as exc:  # the caller's typo: a usage error (exit 2)
        raise UsageError(f"{exc}: see `bookstore history`") from None
    return await history.restore_checkpoint(store, key, checkpoint_id)
