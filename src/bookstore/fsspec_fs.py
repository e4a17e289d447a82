"""``bookstore://path``: data next to notebooks, through the same store and credentials.

An fsspec filesystem over the Store protocol, so pandas, xarray, pyarrow, dask...
read and write the files a notebook sits beside::

    df = pandas.read_csv("bookstore://project/data.csv")
    df.to_parquet("bookstore://project/clean.parquet")

Paths are keys relative to the configured store: ``storage_options={"store_url":
...}``, else ``$BOOKSTORE_STORE_URL`` (which ``bookstore.kernels`` sets for
kernels: a location, never a secret), else ``c.BookstoreContentsManager.store_url``
from the user's Jupyter config. Credentials come from that config and the
environment exactly as for the server (``bookstore.settings``).

Folders are prefixes plus the same ``a/`` markers the contents manager makes;
``.bookstore/`` at the root (checkpoints) is hidden and read-only. Reads stream
forward through the object (``open`` never holds it whole); writes go to a
spooled temporary file and are put, streamed, on close: the object appears
whole or not at all.
"""

from __future__ import annotations

import mimetypes
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, contextmanager
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from fsspec.asyn import AsyncFileSystem, sync
from fsspec.spec import AbstractBufferedFile
from traitlets.config import Config

from . import errors
from .settings import configured_store_url, jupyter_config
from .stores.base import ObjectMeta, Store, list_all
from .stores.registry import open_store

RESERVED = ".bookstore"
DIRECTORY_CONTENT_TYPE = "application/x-directory"
CHUNK = 1 << 20
#: Bytes of a file being written kept in memory before spilling to a temporary file.
SPOOL_MEMORY = 8 << 20


@contextmanager
def _os_errors(path: str) -> Iterator[None]:
    """Store errors as the builtin exceptions fsspec users catch."""
    try:
        yield
    except errors.NotFound as exc:
        raise FileNotFoundError(2, str(exc), path) from exc
    except errors.AlreadyExists as exc:
        raise FileExistsError(17, str(exc), path) from exc
    except (errors.PermissionDenied, errors.Unauthenticated) as exc:
        raise PermissionError(13, str(exc), path) from exc
    except errors.InvalidRequest as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except errors.StoreError as exc:
        raise OSError(5, str(exc), path) from exc


class BookstoreFileSystem(AsyncFileSystem):
    """fsspec over a Bookstore store; see the module docstring."""

    protocol = "bookstore"
    root_marker = ""

    def __init__(
        self,
        store_url: str | None = None,
        config_files: list[str] | None = None,
        store: Store | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._given_store = store
        self._config: Config = (
            Config() if store is not None else jupyter_config(list(config_files or []))
        )
        url = store_url or (None if store is not None else configured_store_url(self._config))
        if store is None and not url:
            raise ValueError(
                "bookstore:// needs a store: pass storage_options={'store_url': ...}, "
                "set $BOOKSTORE_STORE_URL or c.BookstoreContentsManager.store_url"
            )
        self.store_url = url or ""
        self._store_obj: Store | None = store

    # -- plumbing -------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store, opened on first use (from within the filesystem's event loop)."""
        if self._store_obj is None:
            self._store_obj = open_store(self.store_url, config=self._config)
        return self._store_obj

    def close(self) -> None:
        """Close the store's connections (the filesystem opens them again if used)."""
        store, self._store_obj = self._store_obj, self._given_store
        if store is not None and store is not self._given_store:
            sync(self.loop, store.close)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("bookstore://"):
            path = path[len("bookstore://") :]
        elif path.startswith("bookstore:"):
            path = path[len("bookstore:") :]
        return path.strip("/")

    def _key(self, path: str, *, write: bool = False) -> str:
        key = self._strip_protocol(path)
        if any(part in (".", "..") for part in key.split("/")):
            raise ValueError(f"{path}: '.' and '..' are not allowed in bookstore paths")
        if write and key.split("/", 1)[0] == RESERVED:
            raise PermissionError(13, f"{RESERVED}/ is reserved by Bookstore", path)
        return key

    def _file_info(self, meta: ObjectMeta) -> dict[str, Any]:
        return {
            "name": meta.key,
            "size": meta.size,
            "type": "file",
            "mtime": meta.last_modified,
            "etag": meta.etag,
            "content_type": meta.content_type,
        }

    @staticmethod
    def _dir_info(name: str) -> dict[str, Any]:
        return {"name": name.rstrip("/"), "size": 0, "type": "directory"}

    # -- reading --------------------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        key = self._key(path)
        if not key:
            return self._dir_info("")
        with _os_errors(path):
            try:
                return self._file_info(await self.store.head(key))
            except errors.NotFound:
                pass
            async with aclosing(self.store.list(f"{key}/", delimiter="/")) as pages:
                async for page in pages:
                    if page.objects or page.prefixes:
                        return self._dir_info(key)
                    break
        raise FileNotFoundError(2, "No such file or directory", path)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        key = self._key(path)
        prefix = f"{key}/" if key else ""
        with _os_errors(path):
            page = await list_all(self.store, prefix, delimiter="/")
        entries: list[dict[str, Any]] = []
        for sub in page.prefixes:
            if prefix or sub.rstrip("/") != RESERVED:
                entries.append(self._dir_info(sub))
        for obj in page.objects:
            if obj.key != prefix and not obj.key.endswith("/"):
                entries.append(self._file_info(obj))
        if not entries and not page.objects:  # not a folder (not even an empty one)
            info = await self._info(path)  # a file lists as itself; else FileNotFoundError
            if info["type"] == "file":
                entries = [info]
        return entries if detail else [e["name"] for e in entries]

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        key = self._key(path)
        with _os_errors(path):
            if start is None and end is None:
                _, data = await self.store.get(key)
                return data
            meta = await self.store.head(key)
            start, end = _limits(start, end, meta.size)
            reader = _Reader(self.store, key)
            try:
                return await reader.read(start, end)
            finally:
                await reader.close()

    async def _get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        local = anyio.Path(lpath)
        if await local.is_dir():
            return
        key = self._key(rpath)
        with _os_errors(rpath):
            _, chunks = await self.store.get_stream(key, chunk_size=CHUNK)
            # Into a temporary file beside lpath, renamed at the end: never half a file.
            folder = (await local.absolute()).parent
            fd, tmp = await anyio.to_thread.run_sync(
                partial(tempfile.mkstemp, dir=folder, prefix=".bookstore-get-")
            )
            try:
                with os.fdopen(fd, "wb") as f:
                    async for chunk in chunks:
                        await anyio.to_thread.run_sync(f.write, chunk)
                await anyio.Path(tmp).replace(local)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.Path(tmp).unlink(missing_ok=True)
                raise

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BookstoreFile:
        if mode not in ("rb", "wb", "xb"):
            raise NotImplementedError(f"bookstore:// files open as rb, wb or xb, not {mode!r}")
        return BookstoreFile(
            self,
            self._key(path, write="r" not in mode),
            mode,
            block_size=block_size or "default",
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    # -- writing --------------------------------------------------------------------------

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        key = self._key(path, write=True)
        with _os_errors(path):
            await self.store.put(
                key,
                bytes(value),
                mode="create" if mode == "create" else "overwrite",
                content_type=_content_type(key),
            )

    async def _put_file(
        self, lpath: str, rpath: str, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        if await anyio.Path(lpath).is_dir():
            await self._makedirs(rpath, exist_ok=True)
            return
        key = self._key(rpath, write=True)
        with _os_errors(rpath):
            await self.store.put(
                key,
                _file_chunks(lpath),
                mode="create" if mode == "create" else "overwrite",
                content_type=_content_type(key),
            )

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        key = self._key(path, write=True)
        with _os_errors(path):
            await self.store.head(key)  # fsspec expects FileNotFoundError for a missing file
            await self.store.delete(key)

    async def _rm(
        self,
        path: str | list[str],
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        paths = path if isinstance(path, list) else [path]
        doomed: list[str] = []
        for p in paths:
            key = self._key(p, write=True)
            info = await self._info(p)
            if info["type"] == "file":
                doomed.append(key)
                continue
            if not recursive:
                raise IsADirectoryError(21, "Is a directory (use recursive=True)", p)
            prefix = f"{key}/" if key else ""
            with _os_errors(p):
                listing = await list_all(self.store, prefix, delimiter=None)
            doomed += [o.key for o in listing.objects if key or o.key.split("/", 1)[0] != RESERVED]
        with _os_errors(paths[0]):
            await self.store.delete_many(doomed)

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        key = self._key(path, write=True)
        if key:
            with _os_errors(path):
                await self.store.put(f"{key}/", b"", content_type=DIRECTORY_CONTENT_TYPE)

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        try:
            info = await self._info(path)
        except FileNotFoundError:
            await self._mkdir(path)
            return
        if info["type"] != "directory":
            raise FileExistsError(17, "A file is in the way", path)
        if not exist_ok:
            raise FileExistsError(17, "Directory exists", path)


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _limits(start: int | None, end: int | None, size: int) -> tuple[int, int]:
    start = 0 if start is None else (max(0, size + start) if start < 0 else start)
    end = size if end is None else (max(0, size + end) if end < 0 else min(end, size))
    return start, max(start, end)


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 (reads below run in a worker thread)
        while chunk := await anyio.to_thread.run_sync(f.read, CHUNK):
            yield chunk


class _Reader:
    """Sequential reads of one object: ranges ahead of the last are read by streaming on;
    a range behind it starts the stream again. Only the requested range is kept."""

    def __init__(self, store: Store, key: str) -> None:
        self.store, self.key = store, key
        self._chunks: AsyncIterator[bytes] | None = None
        self._buf = bytearray()
        self._pos = 0  # offset in the object of _buf[0]
        self._eof = False

    async def _restart(self) -> None:
        await self.close()
        _, self._chunks = await self.store.get_stream(self.key, chunk_size=CHUNK)
        self._buf, self._pos, self._eof = bytearray(), 0, False

    def _drop_before(self, offset: int) -> None:
        n = min(max(0, offset - self._pos), len(self._buf))
        del self._buf[:n]
        self._pos += n

    async def read(self, start: int, end: int) -> bytes:
        if self._chunks is None or start < self._pos:
            await self._restart()
        assert self._chunks is not None
        while self._pos + len(self._buf) < end and not self._eof:
            try:
                self._buf += await self._chunks.__anext__()
            except StopAsyncIteration:
                self._eof = True
            self._drop_before(start)
        self._drop_before(start)
        out = bytes(self._buf[: max(0, end - self._pos)])
        self._drop_before(end)
        return out

    async def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class BookstoreFile(AbstractBufferedFile):
    """A file of a BookstoreFileSystem: streamed reads; writes spooled, put on close.

    A write closed while an exception is on its way out (a ``with`` block that
    raised, pandas' ``to_csv`` failing half way) is discarded: the stored object
    stays as it was instead of being replaced by the part written so far.
    """

    fs: BookstoreFileSystem

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # An exception already being handled when the file opened is not a failed write.
        self._exc_at_open = sys.exc_info()[1]
        super().__init__(*args, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        if not hasattr(self, "_reader"):
            self._reader = _Reader(self.fs.store, self.path)
        with _os_errors(self.path):
            return sync(self.fs.loop, self._reader.read, start, end)

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)

    def _upload_chunk(self, final: bool = False) -> bool:
        self.buffer.seek(0)
        while chunk := self.buffer.read(CHUNK):
            self._spool.write(chunk)
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        size = self._spool.tell()
        self._spool.seek(0)
        mode = "create" if self.mode == "xb" else "overwrite"

        async def body() -> AsyncIterator[bytes]:
            while chunk := await anyio.to_thread.run_sync(self._spool.read, CHUNK):
                yield chunk

        async def put() -> None:
            # Small files in one request (with an MD5 the store checks); big ones streamed.
            data = self._spool.read() if size <= SPOOL_MEMORY else body()
            await self.fs.store.put(
                self.path, data, mode=mode, content_type=_content_type(self.path)
            )

        try:
            with _os_errors(self.path):
                sync(self.fs.loop, put)
        finally:
            self._spool.close()

    def discard(self) -> None:
        spool = getattr(self, "_spool", None)
        if spool is not None:
            spool.close()

    def close(self) -> None:
        failing = sys.exc_info()[1]
        if (
            "r" not in self.mode
            and not self.closed
            and self.autocommit
            and failing is not None
            and failing is not getattr(self, "_exc_at_open", None)
        ):
            # Closed by a `with`/`finally` unwinding an error: the bytes are partial.
            self.discard()
            self.closed = True
            return
        try:
            super().close()
        finally:
            reader = getattr(self, "_reader", None)
            if reader is not None and self.fs is not None:
                sync(self.fs.loop, reader.close)
                del self._reader
