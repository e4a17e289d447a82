"""A store of plain files under one directory (``file:///abs/dir``), browsable by people.

Layout
    Key ``a/b.ipynb`` is the file ``DIR/a/b.ipynb``. A folder marker ``a/b/`` is the
    hidden file ``DIR/a/b/.bookstore-dir`` (it may hold bytes, like any object), so
    the directory stays when its last file goes. An *empty* directory made by hand
    is a marker too (size 0): a folder a person creates shows up in Jupyter. Any
    other directory is just a common prefix, and deleting the last object in it
    removes it (and empty parents up to the root), as an object store would.
    Names starting ``.bookstore-`` are ours: ``DIR/.bookstore-tmp/`` stages
    writes. Neither they nor symlinks are ever listed, and no key reaches them.

Writes
    Bytes go to a temp file in the staging dir (same file system), are fsynced,
    then renamed into place: readers see the old file or the new one. The folders
    whose entries changed (new ones, and the file's) are fsynced before put returns. ``create``
    links the temp file to its name (``os.link`` fails if the name exists, even
    across processes). ``IfMatch`` compares and renames under a lock shared by
    every LocalStore of this root in the process; another process writing the
    same file can still slip between the two.

ETags and metadata
    The MD5 of the bytes is computed while writing and kept, with the content type,
    user metadata, size and mtime, as JSON in the xattr ``user.bookstore``. A file
    changed behind our back (its size or mtime no longer match) keeps its type and
    metadata but gets the fallback ETag. Without xattrs (some tmpfs, FAT, old NFS;
    or ``xattrs=False``) the ETag is ``<size>-<mtime_ns>-<inode>`` in hex: it still
    changes with every write, so ``IfMatch`` works, but it is not an MD5; the
    content type is guessed from the name and user metadata is dropped (with a
    warning once), since there is nowhere to keep it.

All file I/O runs in worker threads.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from traitlets import Bool, Int
from traitlets.config import LoggingConfigurable

from ..errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StoreError,
    Unavailable,
)
from .base import Body, IfMatch, ListPage, ObjectMeta, PutMode, check_content_type, check_metadata
from .keys import (
    DEFAULT_CONTENT_TYPE,
    RESERVED_SEGMENT_PREFIX,
    check_key,
    etag_matches,
    guess_content_type,
    normalize_prefix,
    prefix_can_match,
)
from .registry import StoreURLError

T = TypeVar("T")

XATTR = "user.bookstore"
MARKER_FILE = ".bookstore-dir"
STAGING_DIR = ".bookstore-tmp"
#: Staged files older than this are left over from a crash and swept.
STALE_STAGING_SECONDS = 24 * 3600
EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()
#: Small chunks of a streamed body are gathered up to this before each write.
WRITE_BUFFER = 1 << 20

_NO_XATTR = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.EPERM}

# One lock per root directory, shared by every LocalStore on it in this process.
_root_locks: dict[str, threading.Lock] = {}
_root_locks_guard = threading.Lock()


def _lock_for(root: str) -> threading.Lock:
    with _root_locks_guard:
        return _root_locks.setdefault(root, threading.Lock())


def _md5() -> Any:
    return hashlib.md5(usedforsecurity=False)


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


def _fallback_etag(st: os.stat_result) -> str:
    return f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"


def _read_info(target: str | int) -> dict[str, Any] | None:
    """Our xattr on a path or fd, or None if absent, unsupported or not ours."""
    try:
        if isinstance(target, int):
            raw = os.getxattr(target, XATTR)
        else:
            raw = os.getxattr(target, XATTR, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _NO_XATTR:
            return None
        raise
    try:
        info = json.loads(raw)
    except ValueError:  # someone else's bytes: ignore them
        return None
    return info if isinstance(info, dict) else None


def _write_all(fd: int, data: bytes | memoryview, digest: Any) -> None:
    digest.update(data)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """Turn OSErrors into the store error tree, naming ``what`` (never a credential)."""
    try:
        yield
    except StoreError:
        raise
    except FileNotFoundError as exc:
        raise NotFound(f"{what}: not found ({exc.strerror})") from exc
    except PermissionError as exc:
        raise PermissionDenied(f"{what}: {exc.strerror}") from exc
    except OSError as exc:
        if exc.errno in (errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ):
            raise InvalidRequest(f"{what}: {exc.strerror}") from exc
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
            raise Unavailable(f"{what}: {exc.strerror}") from exc
        raise StoreError(f"{what}: {exc}") from exc


class _FileChunks:
    """The rest of an open file, read in a worker thread chunk by chunk."""

    def __init__(self, fd: int | None, chunk_size: int, what: str) -> None:
        self._fd = fd
        self._chunk_size = chunk_size
        self._what = what

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._fd is None:
            raise StopAsyncIteration
        with _os_errors(self._what):
            chunk = await to_thread.run_sync(os.read, self._fd, self._chunk_size)
        if not chunk:
            self._close()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:  # a reader that stops early must not leak the fd
        self._close()


class LocalStore(LoggingConfigurable):
    """Objects as files under a directory; see the module docstring for the layout."""

    page_size = Int(
        1000, config=True, help="Most entries (objects + prefixes) in one listing page."
    )
    fsync = Bool(
        True,
        config=True,
        help="fsync each file before it replaces the old one, and its folders after.",
    )
    xattrs = Bool(
        None,
        allow_none=True,
        config=True,
        help="Keep ETag, content type and metadata in xattrs (None: if the file system can).",
    )

    def __init__(self, root: str | os.PathLike[str], prefix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        root = os.fspath(root)
        if not os.path.isabs(root):
            raise StoreURLError(f"a local store needs an absolute directory, not {root!r}")
        self._base = os.path.realpath(root)  # symlinks in the root itself are the user's choice
        self.prefix = normalize_prefix(prefix)
        self._root = os.path.join(self._base, *self.prefix.split("/")[:-1])
        self._staging = os.path.join(self._base, STAGING_DIR)
        self._staging_ready = False
        self._lock = _lock_for(self._base)
        self._warned_metadata = False
        self.description = f"file://{self._root}"
        #: What listings left out, so callers can say so: path -> (key it would have, why).
        self.unlisted: dict[str, tuple[str, str]] = {}

    @classmethod
    def from_url(cls, location: str, prefix: str, **options: Any) -> LocalStore:
        """``file:///abs/dir`` -> the files under ``/abs/dir`` (created on first write)."""
        return cls(location, prefix, **options)

    def __repr__(self) -> str:
        return f"<LocalStore {self.description}>"

    # -- paths ---------------------------------------------------------------

    def _path(self, key: str) -> str:
        """The file holding ``key``; InvalidRequest if the key is not portable."""
        check_key(self.prefix + check_key(key))
        if key.endswith("/"):
            return os.path.join(self._root, *key[:-1].split("/"), MARKER_FILE)
        return os.path.join(self._root, *key.split("/"))

    def _dir_path(self, dir_key: str) -> str:
        return os.path.join(self._root, *dir_key.split("/")[:-1])

    def _within(self, directory: str) -> bool:
        """No symlink on the way from the root (so nothing resolves outside it)."""
        return os.path.realpath(directory) == directory

    async def _run(self, what: str, func: Callable[..., T], *args: Any) -> T:
        with _os_errors(f"{self.description}: {what}"):
            return await to_thread.run_sync(func, *args)

    # -- reading -------------------------------------------------------------

    def _meta(
        self, key: str, st: os.stat_result, info: dict[str, Any] | None, *, metadata: bool = True
    ) -> ObjectMeta:
        fresh = (
            info is not None
            and info.get("size") == st.st_size
            and info.get("mtime_ns") == st.st_mtime_ns
            and isinstance(info.get("etag"), str)
        )
        content_type = info.get("content_type") if info else None
        user = info.get("metadata") if info and metadata else None
        return ObjectMeta(
            key=key,
            size=st.st_size,
            last_modified=_mtime(st),
            etag=info["etag"] if fresh and info else _fallback_etag(st),
            content_type=content_type if isinstance(content_type, str) else guess_content_type(key),
            metadata=dict(user) if isinstance(user, dict) else {},
            etag_is_md5=fresh,  # our label's MD5; the fallback is none
        )

    def _implicit_marker(self, key: str, st: os.stat_result) -> ObjectMeta:
        """An empty directory made by hand reads as a folder marker of size 0."""
        return ObjectMeta(
            key=key,
            size=0,
            last_modified=_mtime(st),
            etag=EMPTY_MD5,
            content_type=guess_content_type(key),
            etag_is_md5=True,
        )

    def _open(self, key: str) -> tuple[int | None, ObjectMeta]:
        """An open fd (None for an empty-directory marker) and the meta of that very file."""
        path = self._path(key)
        missing = NotFound(f"{self.description}: no object {key!r}")
        if not self._within(os.path.dirname(path)):
            raise missing
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            fd = None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink: not an object
                raise missing from None
            raise
        if fd is None:
            if key.endswith("/"):
                directory = os.path.dirname(path)
                try:
                    if not os.listdir(directory):
                        return None, self._implicit_marker(key, os.stat(directory))
                except (FileNotFoundError, NotADirectoryError):
                    pass
            raise missing
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise missing
            return fd, self._meta(key, st, _read_info(fd) if self._use_xattrs else None)
        except BaseException:
            os.close(fd)
            raise

    @property
    def _use_xattrs(self) -> bool:
        return self.xattrs is not False

    def _head(self, key: str) -> ObjectMeta:
        fd, meta = self._open(key)
        if fd is not None:
            os.close(fd)
        return meta

    async def head(self, key: str) -> ObjectMeta:
        return await self._run(f"head {key!r}", self._head, key)

    def _read_whole(self, key: str) -> tuple[ObjectMeta, bytes]:
        fd, meta = self._open(key)
        if fd is None:
            return meta, b""
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return meta, b"".join(chunks)
        finally:
            os.close(fd)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        return await self._run(f"get {key!r}", self._read_whole, key)

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        if chunk_size < 1:
            raise InvalidRequest(f"chunk_size must be positive, not {chunk_size}")
        fd, meta = await self._run(f"get {key!r}", self._open, key)
        return meta, _FileChunks(fd, chunk_size, f"{self.description}: get {key!r}")

    # -- writing -------------------------------------------------------------

    def _new_temp(self) -> tuple[int, str]:
        if not self._staging_ready:
            os.makedirs(self._staging, exist_ok=True)
            self._sweep_staging()
            self._staging_ready = True
        tmp = os.path.join(self._staging, f"{uuid.uuid4().hex}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        return os.open(tmp, flags, 0o666), tmp

    def _sweep_staging(self) -> None:
        cutoff = time.time() - STALE_STAGING_SECONDS
        with os.scandir(self._staging) as it:
            for entry in it:
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    pass  # another process swept it first

    @staticmethod
    def _discard(fd: int, tmp: str) -> None:
        os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass  # renamed into place

    def _seal(
        self, fd: int, key: str, etag: str, content_type: str | None, metadata: dict[str, str]
    ) -> dict[str, Any]:
        """fsync the staged file and label it with our xattr; returns that label."""
        if self.fsync:
            os.fsync(fd)
        st = os.fstat(fd)
        info = {
            "etag": etag,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "metadata": metadata,
        }
        if self._use_xattrs:
            try:
                os.setxattr(fd, XATTR, json.dumps(info, separators=(",", ":")).encode())
            except OSError as exc:
                if exc.errno not in _NO_XATTR:
                    raise
                self.log.warning("%s: no user xattrs here; ETags are not MD5s", self.description)
                self.xattrs = False
        if not self._use_xattrs and metadata and not self._warned_metadata:
            self._warned_metadata = True
            self.log.warning("%s: no xattrs, so user metadata is not kept", self.description)
        return info

    def _make_parents(self, path: str, key: str) -> list[str]:
        """Create the folders above ``path``, refusing symlinks and files in the way;
        returns the folders whose entries change (``path``'s, and the new ones' parents)."""
        directory = os.path.dirname(path)
        if not self._within(directory):
            raise InvalidRequest(f"{self.description}: {key!r} would go through a symlink")
        changed = [directory]
        while not os.path.isdir(changed[-1]):
            changed.append(os.path.dirname(changed[-1]))
        try:
            os.makedirs(directory, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidRequest(
                f"{self.description}: cannot write {key!r}: a file is in the way of its folder"
            ) from None
        if not key.endswith("/") and os.path.isdir(path):
            raise InvalidRequest(
                f"{self.description}: cannot write {key!r}: a folder of that name exists"
            )
        return changed

    def _sync_dirs(self, directories: list[str]) -> None:
        """fsync folders whose entries changed: until then a crash can undo a rename or mkdir."""
        if not self.fsync:
            return
        for directory in directories:
            try:
                fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # pruned by a delete meanwhile: nothing of ours in it to keep
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _commit(
        self, key: str, fd: int, tmp: str, mode: PutMode, info: dict[str, Any]
    ) -> ObjectMeta:
        """Move the sealed temp file to ``key``'s name, honouring ``mode``."""
        path = self._path(key)
        with self._lock:
            if os.path.islink(path):  # a person's symlink is neither followed nor replaced
                raise InvalidRequest(f"{self.description}: {key!r} is a symbolic link")
            self._check_mode(key, mode)  # before makedirs: a new folder is no marker
            for attempt in range(5):
                try:
                    changed = self._make_parents(path, key)
                    if mode == "create":
                        self._link(tmp, path, key)
                    else:
                        os.replace(tmp, path)
                    break
                except FileNotFoundError:
                    # Another process pruned the new folder between makedirs and rename.
                    if attempt == 4:
                        raise
            st = os.fstat(fd)
        self._sync_dirs(changed)
        return self._meta(key, st, info if self._use_xattrs else None)

    def _link(self, tmp: str, path: str, key: str) -> None:
        """Create-only rename: a hard link fails if the name exists, even across processes."""
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AlreadyExists(f"{self.description}: {key!r} already exists") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            os.replace(tmp, path)  # no hard links here: only our lock guards the create

    def _check_mode(self, key: str, mode: PutMode) -> None:
        """AlreadyExists / NotFound / PreconditionFailed if ``mode`` rules the write out."""
        if mode == "overwrite":
            return
        try:
            current = self._head(key)
        except NotFound:
            if mode == "create":
                return
            raise NotFound(f"{self.description}: no object {key!r} to update") from None
        if mode == "create":
            raise AlreadyExists(f"{self.description}: {key!r} already exists")
        assert isinstance(mode, IfMatch)
        if not etag_matches(current.etag, mode.etag):
            raise PreconditionFailed(
                f"{self.description}: {key!r} changed (ETag {current.etag}, expected {mode.etag})"
            )

    async def put(
        self,
        key: str,
        data: Body,
        *,
        mode: PutMode = "overwrite",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        md5: str | None = None,
    ) -> ObjectMeta:
        self._path(key)
        clean = check_metadata(metadata)
        content_type = check_content_type(content_type)
        if mode != "overwrite" and mode != "create" and not isinstance(mode, IfMatch):
            raise InvalidRequest(f"unknown put mode {mode!r}")
        streamed = not isinstance(data, bytes | bytearray | memoryview)
        if streamed and not isinstance(data, AsyncIterable):
            raise TypeError(f"put() needs bytes or an async iterable of bytes, not {type(data)}")
        what = f"put {key!r}"
        if streamed and mode != "overwrite":  # fail before a long upload; rechecked at commit
            await self._run(what, self._check_mode, key, mode)
        fd, tmp = await self._run(what, self._new_temp)
        try:
            digest = _md5()
            if not streamed:
                await self._run(what, _write_all, fd, data, digest)
            else:
                buffer: list[bytes] = []
                size = 0
                async for chunk in data:  # type: ignore[union-attr]
                    buffer.append(chunk)
                    size += len(chunk)
                    if size >= WRITE_BUFFER:
                        await self._run(what, _write_all, fd, b"".join(buffer), digest)
                        buffer, size = [], 0
                if buffer:
                    await self._run(what, _write_all, fd, b"".join(buffer), digest)
            info = await self._run(
                what, self._seal, fd, key, digest.hexdigest(), content_type, clean
            )
            return await self._run(what, self._commit, key, fd, tmp, mode, info)
        finally:
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(self._discard, fd, tmp)

    def _write_from(
        self,
        key: str,
        sources: list[int | None],
        content_type: str | None,
        metadata: dict[str, str],
    ) -> ObjectMeta:
        """Concatenate open files into ``key`` (overwrite), all in this thread."""
        fd, tmp = self._new_temp()
        try:
            digest = _md5()
            for source in sources:
                if source is not None:
                    while chunk := os.read(source, 1 << 20):
                        _write_all(fd, chunk, digest)
            info = self._seal(fd, key, digest.hexdigest(), content_type, metadata)
            return self._commit(key, fd, tmp, "overwrite", info)
        finally:
            self._discard(fd, tmp)

    def _copy(self, src: str, dst: str) -> ObjectMeta:
        self._path(dst)
        fd, meta = self._open(src)
        try:
            return self._write_from(dst, [fd], meta.content_type, dict(meta.metadata))
        finally:
            if fd is not None:
                os.close(fd)

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        return await self._run(f"copy {src!r} to {dst!r}", self._copy, src, dst)

    async def copy_blind(self, src: str, dst: str) -> None:
        await self.copy(src, dst)  # the metadata comes with the copy here

    def _compose(self, dst: str, parts: list[str], content_type: str | None) -> ObjectMeta:
        self._path(dst)
        opened: list[int | None] = []
        try:
            for part in parts:  # open every part first: a missing one fails before writing
                opened.append(self._open(part)[0])
            return self._write_from(dst, opened, content_type, {})
        finally:
            for fd in opened:
                if fd is not None:
                    os.close(fd)

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        return await self._run(f"compose {dst!r}", self._compose, dst, parts, content_type)

    # -- deleting ------------------------------------------------------------

    def _delete_paths(self, keys: list[str]) -> None:
        paths = [(key, self._path(key)) for key in keys]  # validate all before deleting any
        with self._lock:
            for key, path in paths:
                directory = os.path.dirname(path)
                if not self._within(directory):
                    continue
                try:
                    if stat.S_ISREG(os.lstat(path).st_mode):
                        os.unlink(path)
                    elif not key.endswith("/"):
                        continue  # a folder or symlink: not the object "key"
                except (FileNotFoundError, NotADirectoryError):
                    if not key.endswith("/"):
                        continue
                # Without its marker (or as the marker itself) an empty folder goes,
                # and so do the parents it leaves empty, as on an object store.
                self._prune(directory)

    def _prune(self, directory: str) -> None:
        while directory != self._base and directory.startswith(self._base + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return  # not empty (or already gone, or not ours to remove)
            directory = os.path.dirname(directory)

    async def delete(self, key: str) -> None:
        await self._run(f"delete {key!r}", self._delete_paths, [key])

    async def delete_many(self, keys: list[str]) -> None:
        await self._run(f"delete {len(keys)} objects", self._delete_paths, keys)

    # -- listing -------------------------------------------------------------

    def _scan(self, dir_key: str) -> tuple[list[tuple[str, os.DirEntry[str]]], bool]:
        """The listable entries of a folder, sorted by key, and whether it is a marker."""
        directory = self._dir_path(dir_key)
        if not self._within(directory):  # a symlinked folder leads outside the root
            return [], False
        entries: list[tuple[str, os.DirEntry[str]]] = []
        seen_any = False
        explicit = False
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    seen_any = True
                    name = entry.name
                    if name == MARKER_FILE:
                        explicit = entry.is_file(follow_symlinks=False)
                    if name.startswith(RESERVED_SEGMENT_PREFIX):
                        continue
                    if entry.is_symlink():  # never followed: it may lead outside the root
                        self._leave_out(entry, f"{dir_key}{name}", "a symlink, not followed")
                        continue
                    try:
                        name.encode()
                    except UnicodeEncodeError:  # no key can name it
                        self._leave_out(entry, f"{dir_key}{name}", "its name is not UTF-8")
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        entries.append((f"{dir_key}{name}/", entry))
                    elif entry.is_file(follow_symlinks=False):
                        entries.append((f"{dir_key}{name}", entry))
        except (FileNotFoundError, NotADirectoryError):
            return [], False
        entries.sort(key=lambda e: e[0])  # str order is UTF-8 byte order, as on Swift and S3
        return entries, bool(dir_key) and (explicit or not seen_any)

    def _leave_out(self, entry: os.DirEntry[str], key: str, why: str) -> None:
        path = os.fsencode(entry.path).decode("utf-8", "backslashreplace")
        if path not in self.unlisted:
            self.log.debug("%s: left out of listings: %s", path, why)
            self.unlisted[path] = (key, why)

    def _walk(
        self, dir_key: str, prefix: str, descend: bool
    ) -> Iterator[tuple[str, ObjectMeta | None]]:
        """(key, meta) of objects and, when not descending, (folder key, None), in key order."""
        entries, is_marker = self._scan(dir_key)
        if is_marker and dir_key.startswith(prefix):
            try:
                fd, meta = self._open(dir_key)
            except NotFound:
                pass  # removed meanwhile
            else:
                if fd is not None:
                    os.close(fd)
                yield dir_key, self._without_metadata(meta)
        for key, entry in entries:
            if key.endswith("/"):
                if key.startswith(prefix):
                    if descend:
                        yield from self._walk(key, prefix, descend)
                    else:
                        yield key, None
                elif prefix.startswith(key):
                    yield from self._walk(key, prefix, descend)
            elif key.startswith(prefix):
                try:
                    st = entry.stat(follow_symlinks=False)
                    info = _read_info(entry.path) if self._use_xattrs else None
                except FileNotFoundError:
                    continue  # deleted meanwhile
                yield key, self._meta(key, st, info, metadata=False)

    @staticmethod
    def _without_metadata(meta: ObjectMeta) -> ObjectMeta:
        return ObjectMeta(
            meta.key,
            meta.size,
            meta.last_modified,
            meta.etag,
            meta.content_type,
            etag_is_md5=meta.etag_is_md5,
        )

    def _listing(
        self, prefix: str, delimiter: str | None
    ) -> Iterator[tuple[str, ObjectMeta | None]]:
        """A listing in key order: (key, meta) for objects, (common prefix, None)."""
        start = prefix[: prefix.rfind("/") + 1]  # the deepest folder the prefix names
        last_common = None
        # With "/" folders are the common prefixes, so only one folder is read.
        for key, meta in self._walk(start, prefix, descend=delimiter != "/"):
            cut = key.find(delimiter, len(prefix)) if delimiter and meta else -1
            if cut < 0:
                yield key, meta
            elif (common := key[: cut + len(delimiter or "")]) != last_common:
                last_common = common
                yield common, None

    async def list(
        self, prefix: str = "", *, delimiter: str | None = "/"
    ) -> AsyncIterator[ListPage]:
        if delimiter == "":
            raise InvalidRequest("the listing delimiter must be None or a non-empty string")
        if not prefix_can_match(self.prefix + prefix):
            yield ListPage([], [])
            return
        entries = self._listing(prefix, delimiter)
        size = max(1, self.page_size)
        pending: list[Any] = []
        while True:
            batch = await self._run(
                f"list {prefix!r}", lambda n: list(islice(entries, n)), size + 1 - len(pending)
            )
            pending += batch
            page, pending = pending[:size], pending[size:]
            yield ListPage(
                [meta for _, meta in page if meta is not None],
                [key for key, meta in page if meta is None],
            )
            if not pending:
                return

    async def connect(self) -> None:
        """Nothing to reach: the data is here."""

    async def close(self) -> None:
        """Nothing to release: every file is closed after each call."""
