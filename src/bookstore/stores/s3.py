"""S3Store: the Store protocol on S3-compatible object storage, through obstore.

How it fits together:

- **Client**: one obstore store (Rust, async, its own connection pool) per S3Store,
  built on first use from the traits. Nothing here blocks the event loop and no
  worker threads are involved. obstore's own retry loop is off (``max_retries=0``):
  ``retry.RetryPolicy`` is the one policy, as for Swift.
- **Folder markers**: obstore's paths cannot end in ``/`` (it PUTs ``a/b/`` as ``a/b``
  and lists the key ``a/b/`` as ``a/b``), so the marker ``a/b/`` is stored as the
  object ``a/b/.bookstore-dir``, the name LocalStore gives its marker files. Other S3
  tools then see the folder ``a/b/`` holding one small hidden object. Folders made by
  those tools (a zero-byte ``a/b/`` key) are listed as folders too, and as the marker
  when their own folder is listed (HEAD tells them from empty files in recursive
  listings), and copied as empty markers, but obstore cannot read or delete them.
- **Conditional writes**: ``create`` is ``If-None-Match: *``, one at a time per key
  in this process (Swift's s3api checks it before reading the body, so racing creates
  can all win there). ``IfMatch`` is sent as ``If-Match`` (AWS since 2024, MinIO,
  Ceph RGW); a server that answers 501 (Swift's s3api) is remembered, and ``IfMatch``
  then becomes HEAD, compare, PUT under the same per-key lock: atomic within this
  process, with a one-round-trip window against writers elsewhere.
- **Bodies**: bytes and streams up to ``part_size`` go in one PUT (ETag = MD5 of the
  bytes). Longer streams are a multipart upload fed part by part, at most
  ``upload_concurrency`` parts in flight; a body that fails, or a caller that is
  cancelled, aborts the upload before put() returns.
- **Errors**: ``_errors()`` is the one place where obstore's exceptions become
  ``bookstore.errors``; messages carry the S3 status and error code, never a
  credential or a response body.

``GCSStore`` (``gs://``) and ``AzureStore`` (``az://``) reuse all of this through
``obstore.store.from_url``; they are not tested here.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    InvalidPathError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from traitlets import Bool, Enum, Float, Int, Unicode, default, validate

from ..errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StoreError,
    Unauthenticated,
    Unavailable,
)
from .base import (
    Body,
    IfMatch,
    ListPage,
    ObjectMeta,
    PutMode,
    check_content_type,
    check_metadata,
    compose_by_streaming,
    each,
)
from .keys import (
    DEFAULT_CONTENT_TYPE,
    RESERVED_SEGMENT_PREFIX,
    check_key,
    etag_matches,
    is_reserved,
    prefix_can_match,
)
from .local import MARKER_FILE
from .retry import RemoteStoreSettings, Transient, is_retryable_status

T = TypeVar("T")
#: HEADs in flight at once for a listing batch's empty objects.
EMPTY_HEADS = 16

#: S3's smallest multipart part (all but the last).
MIN_PART_SIZE = 5 << 20
#: obstore reads these attribute names case-insensitively as HTTP headers, so a user
#: metadata key spelled like one would silently become that header.
_ATTRIBUTE_NAMES = frozenset(
    {
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-type",
        "storage-class",
    }
)
_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
#: A single-part upload's ETag, the MD5 of its bytes (a multipart one's ends in -<parts>).
_MD5_ETAG = re.compile(r"[0-9a-fA-F]{32}")
#: S3 error codes that mean "these credentials are wrong", as opposed to "not allowed".
_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
#: S3 error codes for a body that arrived other than it was signed or summed (SigV4 signs
#: its SHA-256): nothing was stored, and another try may well pass.
_DAMAGED_CODES = frozenset({"XAmzContentSHA256Mismatch", "BadDigest"})
#: S3 error codes that say "try again later" (AWS's advice for each).
_RETRYABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown"})
#: obstore's message for a key a DeleteObjects answer (HTTP 200) lists as an <Error>.
_DELETE_REFUSED = re.compile(r"DeleteObjects request failed for key .*\(code: ([^)\s]{1,64})\)")
_NO_OBSTORE_RETRIES = {"max_retries": 0}


class _ServerLacks(InvalidRequest):
    """The server does not implement what was asked (HTTP 501, or obstore can't)."""


class _Abandoned(Exception):
    """Raised into a multipart body whose caller was cancelled, so obstore aborts it."""


@dataclass
class _Upload:
    size: int = 0
    body_error: BaseException | None = None
    rest_done: bool = False  # the caller's iterator ended or raised: nothing to close
    abandoned: bool = False
    pulling: anyio.CancelScope | None = None
    sending: anyio.CancelScope | None = None


class ObstoreStore(RemoteStoreSettings):
    """Objects in one bucket, under an optional prefix, through an obstore client.

    Settings here apply to ``S3Store``, ``GCSStore`` and ``AzureStore`` alike.
    """

    #: For messages: "S3", "GCS", "Azure".
    kind = "S3"

    location_trait = "bucket"

    bucket = Unicode("notebooks", config=True, help="The bucket (container) holding the objects.")
    page_size = Int(1000, config=True, help="Most entries (objects + prefixes) in a listing page.")
    etags_are_md5 = Bool(
        True,
        config=True,
        help="Whether single-part objects' ETags are the MD5 of their bytes. False for "
        "buckets encrypted with SSE-KMS or SSE-C, whose ETags are not: transfers then read "
        "objects to compare and check them instead of trusting their ETags.",
    )
    request_timeout = Float(
        3600.0,
        config=True,
        help="Seconds one whole request may take, body included (a streamed download too).",
    )
    part_size = Int(
        6 << 20,
        config=True,
        help="Bytes per multipart part; a streamed body up to this size is one plain PUT.",
    )
    upload_concurrency = Int(
        1, config=True, help="Parts of one multipart upload in flight (memory ~ parts x size)."
    )
    if_match = Enum(
        ["auto", "server", "emulate"],
        "auto",
        config=True,
        help="IfMatch writes: 'server' sends If-Match; 'emulate' is HEAD, compare, PUT "
        "(for servers that ignore If-Match); 'auto' sends If-Match and emulates "
        "after a 501 answer.",
    )

    @validate("page_size", "upload_concurrency")
    def _at_least_one(self, proposal: Any) -> int:
        return max(1, proposal["value"])

    @validate("part_size")
    def _valid_part_size(self, proposal: Any) -> int:
        return max(MIN_PART_SIZE, proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._client: Any = None
        self._ready_lock = anyio.Lock()
        self._closed = False
        self._server_if_match = self.if_match != "emulate"
        self._locks: dict[str, tuple[anyio.Lock, list[int]]] = {}
        self._retry = self.retry_policy()

    # --- what subclasses provide ------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the bucket lives, for messages (never a credential)."""
        return "?"

    def _build_client(self) -> Any:
        """The obstore store for ``bucket``; raises obstore errors or ValueError."""
        raise NotImplementedError

    def _client_options(self, *, allow_http: bool = False) -> dict[str, Any]:
        return {
            "allow_http": allow_http,
            "connect_timeout": timedelta(seconds=self.timeout),
            "read_timeout": timedelta(seconds=self.timeout),
            "timeout": timedelta(seconds=self.request_timeout),
        }

    @property
    def description(self) -> str:
        return f"{self.kind} bucket {self.bucket!r} (prefix {self.prefix!r}) at {self.location}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"

    # --- protocol ---------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectMeta:
        name = self._name(key)
        # A GET with head=True is a HEAD whose answer keeps the attributes (content
        # type, user metadata), which obstore's own head() drops.
        got = await self._call(
            "read", key, lambda c: obstore.get_async(c, name, options={"head": True})
        )
        return _meta(key, got.meta, got.attributes, self.etags_are_md5)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        name = self._name(key)

        async def op(c: Any) -> tuple[ObjectMeta, bytes]:
            got = await obstore.get_async(c, name)
            data = bytes(await got.bytes_async())
            return _meta(key, got.meta, got.attributes, self.etags_are_md5), data

        return await self._call("read", key, op)

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        if chunk_size < 1:
            raise InvalidRequest(f"chunk_size must be positive, not {chunk_size}")
        name = self._name(key)
        got = await self._call("read", key, lambda c: obstore.get_async(c, name))
        # obstore's chunks are *at least* min_chunk_size: cut them down to the contract's.
        return _meta(key, got.meta, got.attributes, self.etags_are_md5), self._chunks(
            key, got.stream(min_chunk_size=chunk_size), chunk_size
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
        """Write ``key``; see ``Store.put`` and the module docstring for the modes.

        A stream longer than ``part_size`` with ``create`` or ``IfMatch`` is checked
        with a HEAD before its multipart upload (obstore sends no condition with
        multipart): such writes have the emulated ``IfMatch``'s window.
        """
        name = self._name(key)
        meta = check_metadata(metadata)
        if clash := sorted(_ATTRIBUTE_NAMES.intersection(meta)):
            raise InvalidRequest(f"{self.kind} reserves these metadata names as headers: {clash}")
        if not (mode in ("create", "overwrite") or isinstance(mode, IfMatch)):
            raise InvalidRequest(f"unknown put mode {mode!r}")
        ctype = check_content_type(content_type)
        attributes = {"Content-Type": ctype, **meta}

        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            etag = await self._put_bytes(key, name, body, mode, attributes)
            size = len(body)
        elif isinstance(data, AsyncIterable):
            first, rest = await _read_ahead(data, self.part_size)
            if rest is None:
                body = b"".join(first)
                etag = await self._put_bytes(key, name, body, mode, attributes)
                size = len(body)
            else:
                etag, size = await self._put_large(key, name, first, rest, mode, attributes)
        else:
            raise TypeError(f"put() needs bytes or an async iterable of bytes, not {type(data)}")
        # S3 keeps Last-Modified to the second and a PUT answer doesn't carry it.
        when = datetime.now(UTC).replace(microsecond=0)
        vouched = self.etags_are_md5 and _is_md5(etag)
        return ObjectMeta(key, size, when, etag, ctype, meta, etag_is_md5=vouched)

    async def delete(self, key: str) -> None:
        name = self._name(key)
        await self._ready()  # a missing bucket is an error, not an absent key
        try:
            await self._call("delete", key, lambda c: obstore.delete_async(c, name))
        except NotFound:
            pass

    async def delete_many(self, keys: list[str]) -> None:
        names = [self._name(k) for k in dict.fromkeys(keys)]  # validate all before any goes
        if not names:
            return
        await self._ready()
        # One DeleteObjects request per 1000 keys; S3 reports absent keys as deleted.
        try:
            await self._call(
                "delete", f"{len(names)} objects", lambda c: obstore.delete_async(c, names)
            )
        except NotFound:
            pass

    async def list(
        self, prefix: str = "", *, delimiter: str | None = "/"
    ) -> AsyncIterator[ListPage]:
        if delimiter == "":
            raise InvalidRequest("the listing delimiter must be None or a non-empty string")
        full = self.prefix + prefix
        if not prefix_can_match(full):
            yield ListPage([], [])
            return
        if delimiter == "/":
            entries = await self._folder(full)
            if not entries:
                yield ListPage([], [])
            for start in range(0, len(entries), self.page_size):
                objects: list[ObjectMeta] = []
                prefixes: list[str] = []
                for entry in entries[start : start + self.page_size]:
                    if isinstance(entry, str):
                        prefixes.append(entry)
                    else:
                        objects.append(entry)
                yield ListPage(objects, prefixes)
            return
        # Recursive, or another delimiter: stream every key, roll up here.
        objects, prefixes = [], []
        yielded = False
        last_rolled: str | None = None
        async for meta in self._walk(full):
            if delimiter is not None:
                cut = meta.key.find(delimiter, len(prefix))
                if cut >= 0:
                    rolled = meta.key[: cut + len(delimiter)]
                    if rolled == last_rolled:
                        continue
                    last_rolled = rolled
                    prefixes.append(rolled)
                else:
                    objects.append(meta)
            else:
                objects.append(meta)
            if len(objects) + len(prefixes) == self.page_size:
                yield ListPage(objects, prefixes)
                yielded = True
                objects, prefixes = [], []
        if objects or prefixes or not yielded:
            yield ListPage(objects, prefixes)

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        await self.copy_blind(src, dst)
        return await self.head(dst)  # obstore's copy returns nothing

    async def copy_blind(self, src: str, dst: str) -> None:
        src_name, dst_name = self._name(src), self._name(dst)
        # CopyObject keeps the content type and user metadata (MetadataDirective COPY).
        try:
            await self._call("copy", src, lambda c: obstore.copy_async(c, src_name, dst_name))
        except NotFound:
            # A folder another S3 tool made (a zero-byte "src" key) can't be read
            # through obstore: its copy is an empty marker.
            if not (src.endswith("/") and await self._lists_marker(src)):
                raise
            await self.put(dst, b"")

    async def _lists_marker(self, folder: str) -> bool:
        entries = await self._folder(self.prefix + folder)  # the marker sorts first
        return bool(entries) and isinstance(entries[0], ObjectMeta) and entries[0].key == folder

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        """Streamed through Bookstore: S3 concatenates server-side only parts >= 5 MiB
        (UploadPartCopy), which obstore does not expose."""
        self._name(dst)
        return await compose_by_streaming(
            self, dst, parts, content_type=content_type or DEFAULT_CONTENT_TYPE
        )

    async def connect(self) -> None:
        await self._ready()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        used, self._client = self._client is not None, None
        if used:
            # obstore's tokio threads finish each call a moment after Python sees its
            # result; a process that exits right then can abort in their GIL hand-off
            # (PyO3/pyo3-async-runtimes#40). A short pause lets them settle.
            await anyio.sleep(0.02)

    # --- writes -----------------------------------------------------------------------------

    async def _put_bytes(
        self, key: str, name: str, body: bytes, mode: PutMode, attributes: dict[str, str]
    ) -> str | None:
        async def send(mode: Any) -> str | None:
            result = await self._call(
                "write",
                key,
                lambda c: obstore.put_async(
                    c, name, body, attributes=attributes, mode=mode, use_multipart=False
                ),
            )
            return _unquote(result.get("e_tag"))

        if mode == "create":
            # s3api checks If-None-Match before it reads the body, so racing creates
            # can all win there; one at a time per key, at least this process is safe.
            async with self._update_lock(name):
                return await send(mode)
        if mode == "overwrite":
            return await send(mode)
        if self._server_if_match:
            try:
                return await send({"e_tag": f'"{mode.etag.strip(chr(34))}"'})
            except _ServerLacks:
                if self.if_match == "server":
                    raise
                self._server_if_match = False
                self.log.info(
                    "%s ignores If-Match on PUT: IfMatch writes are now HEAD, compare, PUT",
                    self.location,
                )
        async with self._update_lock(name):
            await self._check_mode(key, mode)
            return await send("overwrite")

    async def _put_large(
        self,
        key: str,
        name: str,
        first: deque[bytes],
        rest: AsyncIterator[bytes],
        mode: PutMode,
        attributes: dict[str, str],
    ) -> tuple[str | None, int]:
        state = _Upload()

        async def pull() -> bytes | None:
            # obstore awaits each pull in an asyncio task of its own: a cancelled caller
            # cancels this scope, the body raises, and obstore aborts the upload.
            if state.abandoned:
                raise _Abandoned
            with anyio.CancelScope() as state.pulling:
                try:
                    return bytes(await anext(rest))
                except StopAsyncIteration:
                    state.rest_done = True
                    return None
                except BaseException:
                    state.rest_done = True
                    raise
                finally:
                    state.pulling = None
            raise _Abandoned  # the scope was cancelled (and swallowed it)

        async def body() -> AsyncIterator[bytes]:
            try:
                while first:
                    chunk = first.popleft()
                    state.size += len(chunk)
                    yield chunk
                while (chunk := await pull()) is not None:
                    if chunk:
                        state.size += len(chunk)
                        yield chunk
            except GeneratorExit:  # obstore stopped reading: its own error tells why
                raise
            except BaseException as exc:  # the caller's body broke: obstore aborts the upload
                state.body_error = exc
                raise

        async def send(outcome: list[Any], done: anyio.Event) -> None:
            # Shielded: obstore drops, and does not abort, an upload whose call is
            # cancelled; a cancelled caller breaks the body instead (see pull).
            with anyio.CancelScope(shield=True) as state.sending:
                try:
                    outcome.append(
                        await self._call(
                            "write",
                            key,
                            lambda c: obstore.put_async(
                                c,
                                name,
                                body(),
                                attributes=attributes,
                                use_multipart=True,
                                chunk_size=self.part_size,
                                max_concurrency=self.upload_concurrency,
                            ),
                            retry=False,  # a consumed stream can't be sent again
                        )
                    )
                except Exception as exc:
                    outcome.append(exc)
                finally:
                    done.set()
            if state.sending.cancelled_caught:
                self.log.warning(
                    "%s: the abort of a cancelled multipart upload took over %ss; its "
                    "parts may be left (a bucket lifecycle rule removes them)",
                    self._where(key),
                    self.timeout,
                )

        async def upload() -> str | None:
            outcome: list[Any] = []
            done = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(send, outcome, done)
                try:
                    await done.wait()
                except anyio.get_cancelled_exc_class():
                    state.abandoned = True
                    if state.pulling is not None:
                        state.pulling.cancel()
                    if state.sending is not None:
                        state.sending.deadline = anyio.current_time() + self.timeout
                    raise  # once the task group has waited for the abort
            result = outcome[0]
            if isinstance(result, BaseException):
                if state.body_error is not None:
                    raise state.body_error from None
                raise result
            return _unquote(result.get("e_tag"))

        try:
            if mode == "overwrite":
                return await upload(), state.size
            async with self._update_lock(name):
                await self._check_mode(key, mode)
                return await upload(), state.size
        finally:
            if not state.rest_done and hasattr(rest, "aclose"):
                # Still running only if a pull outlived the abort's deadline: the
                # caller's cancellation, not that, is what to report.
                with suppress(RuntimeError):
                    await rest.aclose()

    async def _check_mode(self, key: str, mode: PutMode) -> None:
        """Check ``create``/``IfMatch`` with a HEAD, for writes the server can't check."""
        try:
            current = await self.head(key)
        except NotFound:
            if isinstance(mode, IfMatch):
                raise NotFound(f"{self._where(key)}: not found (nothing to update)") from None
            return
        if mode == "create":
            raise AlreadyExists(f"{self._where(key)} already exists")
        if isinstance(mode, IfMatch) and not etag_matches(current.etag, mode.etag):
            raise PreconditionFailed(
                f"{self._where(key)} changed: its ETag is {current.etag}, not {mode.etag}"
            )

    @asynccontextmanager
    async def _update_lock(self, name: str) -> AsyncIterator[None]:
        """One check-then-write per key at a time in this store."""
        lock, users = self._locks.setdefault(name, (anyio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[name]

    # --- reads ------------------------------------------------------------------------------

    async def _chunks(self, key: str, stream: Any, chunk_size: int) -> AsyncIterator[bytes]:
        while True:
            with self._errors("read", key):
                try:
                    block = await anext(stream)
                except StopAsyncIteration:
                    return
            view = memoryview(block)
            for start in range(0, len(view), chunk_size):
                yield bytes(view[start : start + chunk_size])

    async def _folder(self, full: str) -> list[ObjectMeta | str]:
        """One folder level under ``full`` (which may end mid-name), sorted, markers mapped.

        obstore's list_with_delimiter reads every page of the folder and only lists
        whole folders, so a partial name lists its folder and filters.
        """
        folder = full[: full.rfind("/") + 1]
        listing = await self._call(
            "list",
            full or "/",
            lambda c: obstore.list_with_delimiter_async(c, folder.rstrip("/") or None),
        )
        entries: dict[str, ObjectMeta | str] = {}
        for raw in listing["common_prefixes"]:
            name = raw + "/"
            if name.startswith(full) and not is_reserved(name[len(self.prefix) :]):
                entries[name] = name[len(self.prefix) :]
        for obj in listing["objects"]:
            path = obj["path"]
            if folder and path == folder[:-1]:
                name = folder  # a zero-byte "folder/" key made by another S3 tool
            elif path == folder + MARKER_FILE:
                name = folder
            else:
                name = path
            if name.startswith(full) and not is_reserved(name[len(self.prefix) :]):
                entries[name] = _listed(name[len(self.prefix) :], obj, self.etags_are_md5)
        return [entries[name] for name in sorted(entries, key=str.encode)]

    async def _walk(self, full: str) -> AsyncIterator[ObjectMeta]:
        """Every object whose key starts with ``full``, in key order, markers mapped.

        A marker ``d/`` is stored as ``d/.bookstore-dir`` but sorts before any key
        under ``d/``, including the few that sort before ``.bookstore-dir`` (names
        starting with a space or one of ``!"#$%&'()*+,-``): when such a key comes
        first, one HEAD tells whether ``d/`` has a marker to list before it.
        """
        folder = full[: full.rfind("/") + 1]
        cut = len(self.prefix)
        seen: set[str] = set()  # markers already listed
        checked: set[str] = set()  # folders whose marker was looked up
        previous = ""

        async def first_batch(c: Any) -> tuple[Any, list[Any]]:
            stream = obstore.list(c, folder.rstrip("/") or None, chunk_size=self.page_size)
            return stream, await anext(stream, [])

        stream, batch = await self._call("list", full or "/", first_batch)
        while batch:
            # An empty object listed as "path" may be another tool's "path/" folder key
            # (obstore drops the slash): a HEAD tells, for the whole batch side by side.
            empty = [
                o["path"]
                for o in batch
                if o["size"] == 0
                and o["path"].startswith(full)
                and not o["path"].endswith(MARKER_FILE)
            ]
            there = await each(self._exists, empty, limit=EMPTY_HEADS)
            folder_keys = {p for p, found in zip(empty, there, strict=True) if not found}
            for obj in batch:
                path = obj["path"]
                if path.encode() <= previous.encode() or (folder and path == folder[:-1]):
                    name = path + "/"  # a "path/" key made by another tool, listed as "path"
                elif path.endswith("/" + MARKER_FILE) or path == MARKER_FILE:
                    name = path[: -len(MARKER_FILE)]
                elif path in folder_keys:
                    name = path + "/"  # listed as "path" but not there: a "path/" key
                else:
                    name = path
                previous = max(previous, path, key=str.encode)
                if not name.startswith(full) or name in seen or is_reserved(name[cut:]):
                    continue
                # Folders from the listing's own down to this key's, outermost first.
                slash = name.find("/", max(len(folder) - 1, 0))
                while 0 <= slash < len(name) - 1:
                    parent = name[: slash + 1]
                    if parent not in checked and parent.startswith(full) and len(parent) > cut:
                        checked.add(parent)
                        if name[slash + 1 :].encode() < MARKER_FILE.encode():
                            try:
                                marker = await self.head(parent[cut:])
                            except NotFound:
                                pass
                            else:
                                seen.add(parent)
                                yield ObjectMeta(
                                    marker.key,
                                    marker.size,
                                    marker.last_modified,
                                    marker.etag,
                                    etag_is_md5=marker.etag_is_md5,
                                )
                    slash = name.find("/", slash + 1)
                if name.endswith("/"):
                    seen.add(name)
                    checked.add(name)
                yield _listed(name[cut:], obj, self.etags_are_md5)
            with self._errors("list", full or "/"):
                batch = await anext(stream, [])

    async def _exists(self, name: str) -> bool:
        """Whether the object ``name`` (no marker mapping) is there."""
        try:
            await self._call(
                "read", name[len(self.prefix) :], lambda c: obstore.head_async(c, name)
            )
        except NotFound:
            return False
        return True

    # --- plumbing ---------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        """The object name of ``key``: prefixed, and a marker's hidden object."""
        check_key(key)
        name = self.prefix + key
        return name + MARKER_FILE if name.endswith("/") else name

    def _where(self, key: str | None) -> str:
        place = f"{self.kind} bucket {self.bucket!r}"
        if key is None:
            return place
        return f"{key!r} in {place}" + (f" (prefix {self.prefix!r})" if self.prefix else "")

    async def _ready(self) -> Any:
        """The obstore client; on first use, check that the bucket is there."""
        if self._client is not None:
            return self._client
        if self._closed:
            raise Unavailable(f"{self.description} is closed")
        async with self._ready_lock:
            if self._client is None:
                with self._errors("configure", None):
                    client = self._build_client()
                # A listing that matches nothing: the cheapest request that fails
                # with NoSuchBucket, and with 403 when the credentials are no good.
                probe = f"{self.prefix}{RESERVED_SEGMENT_PREFIX}probe"

                async def once() -> Any:
                    with self._errors("check", None):
                        return await obstore.list_with_delimiter_async(client, probe)

                await self._retry.run(once, what=f"check {self.description}", log=self.log)
                self._client = client
        return self._client

    async def _call(
        self,
        action: str,
        key: str | None,
        op: Callable[[Any], Awaitable[T]],
        *,
        retry: bool = True,
    ) -> T:
        """``await op(client)`` with errors translated, retried if ``retry``."""
        client = await self._ready()

        async def once() -> T:
            with self._errors(action, key):
                return await op(client)

        if not retry:
            return await once()
        return await self._retry.run(once, what=f"{self.kind} {action} {key or ''}", log=self.log)

    @contextmanager
    def _errors(self, action: str, key: str | None) -> Iterator[None]:
        """The one translation of obstore's exceptions into bookstore errors.

        The error raised does not carry obstore's as its cause: that text may echo the
        server's answer, and S3's SignatureDoesNotMatch answer quotes the signed request
        with its session token; a logged traceback would show it.
        """
        try:
            with self._translated(action, key):
                yield
        except StoreError as exc:
            if not isinstance(exc.__cause__ or exc.__context__, StoreError | None):
                exc.__cause__ = exc.__context__ = None
                exc.__suppress_context__ = True
            raise

    @contextmanager
    def _translated(self, action: str, key: str | None) -> Iterator[None]:
        where = self._where(key)
        try:
            yield
        except StoreError:
            raise
        except (NotFoundError, FileNotFoundError) as exc:
            if _code(exc) == "NoSuchBucket":
                raise NotFound(self._no_bucket()) from exc
            raise NotFound(f"{where}: not found") from exc
        except (AlreadyExistsError, FileExistsError) as exc:
            raise AlreadyExists(f"{where} already exists") from exc
        except (PreconditionError, NotModifiedError) as exc:
            raise PreconditionFailed(f"cannot {action} {where}: it changed") from exc
        except UnauthenticatedError as exc:
            raise Unauthenticated(f"{self.location} rejected the credentials") from exc
        except PermissionDeniedError as exc:
            raise self._denied(exc, action, where) from exc
        except NotSupportedError as exc:
            raise _ServerLacks(f"cannot {action} {where}: not supported here") from exc
        except (InvalidPathError, ValueError) as exc:
            # obstore parses names itself: control characters and the like fail here.
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise InvalidRequest(f"cannot {action} {where}: {detail}") from exc
        except BaseError as exc:
            raise self._status_error(exc, action, where) from exc
        except (TimeoutError, ConnectionError) as exc:
            raise Transient(
                f"cannot {action} {where}: {self.location} is unreachable ({type(exc).__name__})"
            ) from exc

    def _status_error(self, exc: BaseError, action: str, where: str) -> StoreError:
        text = str(exc)
        found, code = _STATUS.search(text), _code(exc)
        if found is None and code is None:  # no answer at all: refused, reset, timed out
            return Transient(
                f"cannot {action} {where}: {self.location} is unreachable ({_first_line(text)})"
            )
        # No status but a code: a 200 that says no (a DeleteObjects <Error> entry).
        status = int(found.group(1)) if found else None
        said = " ".join(str(x) for x in (status, code) if x)
        message = f"cannot {action} {where}: {self.kind} said {said}"
        if code == "NoSuchBucket":
            return NotFound(self._no_bucket())
        # AWS answers 400 to an expired or malformed session token.
        if status in (401, 403) or code in _CREDENTIAL_CODES or code == "AccessDenied":
            return self._denied(exc, action, where)
        if status is None:
            return Transient(message) if code in _RETRYABLE_CODES else Unavailable(message)
        if status == 404:
            return NotFound(message)
        if code in _DAMAGED_CODES:
            return Transient(
                f"cannot {action} {where}: the upload was corrupted on the way ({self.kind}'s "
                "SHA-256 of what it received differs from what was sent); nothing was stored"
            )
        if status in (409, 412):  # 409: AWS's ConditionalRequestConflict
            return PreconditionFailed(message)
        if status == 501:
            return _ServerLacks(message)
        if is_retryable_status(status):
            return Transient(message)
        if 400 <= status < 500:
            return InvalidRequest(message)
        return Unavailable(message)

    def _denied(self, exc: BaseException, action: str, where: str) -> StoreError:
        code = _code(exc)
        if code in _CREDENTIAL_CODES:
            return Unauthenticated(
                f"{self.location} rejected the credentials ({code}) when asked to {action} {where}"
            )
        # A HEAD's 403 has no body to say which: name both causes.
        return PermissionDenied(
            f"cannot {action} {where}: access denied"
            + (f" ({code})" if code else " (wrong credentials, or not allowed)")
        )

    def _no_bucket(self) -> str:
        return (
            f"{self.kind} bucket {self.bucket!r} does not exist at {self.location}; "
            "Bookstore does not create buckets: create it with your provider's tools"
        )


class S3Store(ObstoreStore):
    """Objects in one S3 bucket (AWS, MinIO, Ceph RGW, Swift's s3api, ...)."""

    kind = "S3"

    endpoint_url = Unicode(
        config=True,
        help="S3 endpoint, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL_S3, "
        "$AWS_ENDPOINT_URL, else AWS). http:// endpoints are allowed as given.",
    )
    region = Unicode(
        config=True, help="Region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)."
    )
    access_key_id = Unicode(
        "", config=True, help="Access key; empty: the AWS chain (environment, web identity, ...)."
    )
    secret_access_key = Unicode("", config=True, help="Secret key. Never logged.")
    session_token = Unicode("", config=True, help="Session token for temporary credentials.")
    profile = Unicode(
        "",
        config=True,
        help="A profile of ~/.aws/config and ~/.aws/credentials (needs boto3 installed).",
    )
    virtual_hosted_style = Bool(
        False,
        config=True,
        help="Address buckets as BUCKET.host (AWS's style) instead of host/BUCKET (path "
        "style, which MinIO, Ceph and Swift expect by default).",
    )

    @default("endpoint_url")
    def _endpoint_default(self) -> str:
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL", "")

    @default("region")
    def _region_default(self) -> str:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    @property
    def location(self) -> str:
        return self.endpoint_url or f"AWS ({self.region})"

    @validate("endpoint_url", "region", "access_key_id", "secret_access_key", "session_token")
    def _strip(self, proposal: Any) -> str:
        return proposal["value"].strip()  # a value pasted with its newline

    def _check_settings(self) -> None:
        """What obstore would panic on, on every request, said once (never the value)."""
        for trait in ("access_key_id", "session_token"):  # sent as headers
            if not all(" " <= c < "\x7f" for c in getattr(self, trait)):
                raise InvalidRequest(
                    f"S3Store.{trait} holds a character an HTTP header cannot carry"
                )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.region):
            raise InvalidRequest(f"S3Store.region {self.region!r} is not a region name")
        if self.endpoint_url:
            url = urlsplit(self.endpoint_url)
            try:
                url.port  # noqa: B018 - raises on a port that is not a number
                valid = url.scheme.lower() in ("http", "https") and bool(url.hostname)
            except ValueError:
                valid = False
            if not valid or not self.endpoint_url.isprintable() or " " in self.endpoint_url:
                raise InvalidRequest(
                    f"S3Store.endpoint_url {self.endpoint_url!r} is not http(s)://host[:port]"
                )

    def _build_client(self) -> Any:
        from obstore.store import S3Store as ObstoreS3

        self._check_settings()

        config: dict[str, Any] = {
            "region": self.region,
            "virtual_hosted_style_request": self.virtual_hosted_style,
        }
        if self.endpoint_url:
            config["endpoint"] = self.endpoint_url
        provider = None
        if self.access_key_id or self.secret_access_key:
            config["access_key_id"] = self.access_key_id
            config["secret_access_key"] = self.secret_access_key
            if self.session_token:
                config["session_token"] = self.session_token
        elif self.profile:
            provider = self._profile_provider()
        return ObstoreS3(
            self.bucket,
            client_options=self._client_options(
                allow_http=self.endpoint_url.lower().startswith("http://")
            ),
            retry_config=_NO_OBSTORE_RETRIES,
            credential_provider=provider,
            **config,
        )

    def _profile_provider(self) -> Any:
        # obstore reads the environment and web identity itself, but not ~/.aws files.
        try:
            import boto3
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError as exc:
            raise InvalidRequest(
                f"S3Store.profile = {self.profile!r} needs boto3 to read ~/.aws: "
                "pip install boto3 (or set access_key_id/secret_access_key)"
            ) from exc
        return Boto3CredentialProvider(boto3.Session(profile_name=self.profile))


class GCSStore(ObstoreStore):
    """Objects in a Google Cloud Storage bucket (``gs://``); credentials from the
    environment (GOOGLE_APPLICATION_CREDENTIALS, ...). Not tested here."""

    kind = "GCS"

    @property
    def location(self) -> str:
        return f"gs://{self.bucket}"

    def _build_client(self) -> Any:
        from obstore.store import from_url

        return from_url(
            f"gs://{self.bucket}",
            client_options=self._client_options(),
            retry_config=_NO_OBSTORE_RETRIES,
        )


class AzureStore(ObstoreStore):
    """Blobs in an Azure Storage container (``az://``); account and credentials from the
    environment (AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY, ...). Not tested here."""

    kind = "Azure"

    @property
    def location(self) -> str:
        return f"az://{self.bucket}"

    def _build_client(self) -> Any:
        from obstore.store import from_url

        return from_url(
            f"az://{self.bucket}",
            client_options=self._client_options(),
            retry_config=_NO_OBSTORE_RETRIES,
        )


# --- helpers -------------------------------------------------------------------------------


async def _read_ahead(
    data: AsyncIterable[bytes], limit: int
) -> tuple[deque[bytes], AsyncIterator[bytes] | None]:
    """Chunks of ``data`` until it ends (then ``None``) or passes ``limit`` bytes (then
    the iterator with the rest)."""
    chunks: deque[bytes] = deque()
    size = 0
    it = aiter(data)
    async for chunk in it:
        if chunk:
            chunks.append(bytes(chunk))
            size += len(chunk)
            if size > limit:
                return chunks, it
    return chunks, None


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _is_md5(etag: str | None) -> bool:
    return etag is not None and _MD5_ETAG.fullmatch(etag) is not None


def _code(exc: BaseException) -> str | None:
    found = _CODE.search(str(exc)) or _DELETE_REFUSED.search(str(exc))
    return found.group(1) if found else None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else "no detail"


def _meta(
    key: str, meta: Mapping[str, Any], attributes: Mapping[str, str], vouch: bool
) -> ObjectMeta:
    etag = _unquote(meta.get("e_tag"))
    return ObjectMeta(
        key=key,
        size=int(meta["size"]),
        last_modified=meta["last_modified"].astimezone(UTC),
        etag=etag,
        content_type=attributes.get("Content-Type"),
        metadata={k.lower(): v for k, v in attributes.items() if k.lower() not in _ATTRIBUTE_NAMES},
        etag_is_md5=vouch and _is_md5(etag),
    )


def _listed(key: str, obj: Mapping[str, Any], vouch: bool) -> ObjectMeta:
    """A listing entry: S3 listings carry no content type or user metadata. An empty
    entry's ETag is not vouched for: through Swift's S3 API, a DLO lists as its empty
    manifest (its HEAD has the real size)."""
    etag, size = _unquote(obj.get("e_tag")), int(obj["size"])
    return ObjectMeta(
        key=key,
        size=size,
        last_modified=obj["last_modified"].astimezone(UTC),
        etag=etag,
        etag_is_md5=vouch and _is_md5(etag) and (size > 0 or key.endswith("/")),
    )
