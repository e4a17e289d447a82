"""SwiftStore: the Store protocol on OpenStack Swift, through python-swiftclient.

How it fits together:

- **Auth** is a seam: a ``SwiftAuth`` turns configuration into ``(storage_url, token)``.
  One token is shared by every connection; a 401 drops it, authenticates again and
  retries once; a token the auth says expires soon is replaced before it is used.
  v1.0, Keystone (v2.0, v3, clouds.yaml, OS_*) and Rackspace live in ``swift_auth``.
- **Threads**: swiftclient blocks and its ``Connection`` is not thread-safe. Every call
  checks a ``Connection`` out of a small pool and runs it in an anyio worker thread,
  at most ``workers`` at a time, so the event loop never waits on the network.
- **Errors**: ``_errors()`` is the one place where swiftclient and requests exceptions
  become ``bookstore.errors``. Failures worth retrying come out as ``retry.Transient``
  and ``retry.RetryPolicy`` retries them; swiftclient's own retry loop is switched off.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import time
import uuid
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
import requests
import urllib3.exceptions
from swiftclient.client import Connection
from swiftclient.exceptions import ClientException
from traitlets import Any as AnyTrait
from traitlets import Bool, Int, Unicode, validate

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
    is_reserved,
    prefix_can_match,
)
from .retry import RemoteStoreSettings, Transient, is_retryable_status, parse_retry_after
from .swift_auth import SwiftAuth, V1Auth, auth_from_config, renewal_due

__all__ = ["SwiftAuth", "SwiftStore", "V1Auth"]

T = TypeVar("T")

META_PREFIX = "x-object-meta-"
# Where compose keeps its short-lived SLO manifests, under the store's prefix.
TEMP_DIR = f"{RESERVED_SEGMENT_PREFIX}tmp/"
# Chunks queued between the event loop and a streaming upload's thread.
UPLOAD_QUEUE_CHUNKS = 2
# SLO serves segments under 1 MiB at 1 per second after the first 10 (its
# rate_limit_under_size / rate_limit_after_segment defaults), so a server-side
# compose of many small parts is far slower than streaming them.
SLO_SMALL_SEGMENT = 1 << 20
SLO_FREE_SMALL_SEGMENTS = 10
BULK_DELETE_BATCH = 1000
# Swift's bulk middleware deletes two objects at a time (its delete_concurrency), so a
# big delete is split into BULK_DELETE_PARALLEL requests sent side by side (more, of
# BULK_DELETE_BATCH names, past that; the worker limiter bounds them); no request names
# fewer than BULK_DELETE_MIN objects.
BULK_DELETE_PARALLEL = 4
BULK_DELETE_MIN = 100

# Transport failures: the request may not have reached Swift, or its answer was lost.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
# Configuration mistakes that no retry fixes.
_CONFIG_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.SSLError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.TooManyRedirects,
)
# A header value requests refuses to send: every RequestException is an OSError, so this
# is told apart before transport failures. Metadata and content types are checked before
# they are sent (check_metadata, check_content_type), credentials are not: a v1.0 user or
# key with a leading space or a line break (a key read from a file, newline and all).
_REFUSED_ERRORS: tuple[type[BaseException], ...] = (requests.exceptions.InvalidHeader,)
# Swift's spellings of a true header value (its config_true_value).
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
# Actions whose 404 can only mean the container itself is gone (a PUT or a listing).
_CONTAINER_ACTIONS = frozenset({"list", "write", "write manifest"})


# --- the store ---------------------------------------------------------------------------


class SwiftStore(RemoteStoreSettings):
    """Objects in one Swift container, under an optional prefix."""

    # Credentials. Unset ones come from c.SwiftStore.cloud, else the environment (OS_*,
    # then ST_*): see bookstore.stores.swift_auth for the precedence.
    cloud = Unicode("", help="Use this cloud of clouds.yaml (found as openstacksdk finds it).").tag(
        config=True
    )
    auth_url = Unicode(
        help="Auth endpoint: Keystone (e.g. https://keystone:5000/v3) or Swift v1.0 "
        "(e.g. http://host:8080/auth/v1.0)."
    ).tag(config=True)
    auth_version = Unicode(
        help="'1.0' (Swift tempauth/swauth), '2.0' or '3' (Keystone); "
        "default: from auth_url (/v3, /v2.0, /auth/v1.0) and the credentials given."
    ).tag(config=True)
    auth_type = Unicode(
        help="'rackspace' (Rackspace API key), or a keystoneauth1 plugin name such as "
        "'v3password', 'v3applicationcredential', 'v3token'; default: from the credentials."
    ).tag(config=True)
    user = Unicode(help="User name (v1.0: 'account:user').").tag(config=True)
    user_id = Unicode(help="Keystone user id (instead of user).").tag(config=True)
    key = Unicode(help="Password, v1.0 key or Rackspace API key. Never logged.").tag(config=True)
    project_name = Unicode(help="Keystone project (tenant) name.").tag(config=True)
    project_id = Unicode(help="Keystone project (tenant) id.").tag(config=True)
    user_domain_name = Unicode(help="Domain of the user (default: id 'default').").tag(config=True)
    user_domain_id = Unicode(help="Domain id of the user.").tag(config=True)
    project_domain_name = Unicode(help="Domain of the project (default: id 'default').").tag(
        config=True
    )
    project_domain_id = Unicode(help="Domain id of the project.").tag(config=True)
    application_credential_id = Unicode(help="Keystone v3 application credential id.").tag(
        config=True
    )
    application_credential_secret = Unicode(
        help="Secret of the application credential. Never logged."
    ).tag(config=True)
    token = Unicode(help="A Keystone token, exchanged for a project-scoped one. Never logged.").tag(
        config=True
    )
    region_name = Unicode(
        help="Region of the object-store endpoint in the catalog (default: the first listed)."
    ).tag(config=True)
    interface = Unicode(
        help="Catalog endpoint interface: 'public' or 'internal' (default: the cloud's, "
        "else 'public')."
    ).tag(config=True)
    storage_url = Unicode(
        "", help="Use this storage URL instead of the one auth returns (e.g. an internal endpoint)."
    ).tag(config=True)
    container = Unicode("notebooks", help="The Swift container holding the objects.").tag(
        config=True
    )
    create_container = Bool(True, help="Create the container on first use if it is missing.").tag(
        config=True
    )
    workers = Int(
        8,
        help="Swift requests in flight at once (worker threads and pooled connections); "
        "streaming uploads get as many again.",
    ).tag(config=True)
    page_size = Int(10000, help="Objects per container listing request.").tag(config=True)
    insecure = Bool(False, help="Skip TLS certificate verification.").tag(config=True)
    cacert = Unicode(
        None, allow_none=True, help="CA bundle for verifying Swift's TLS certificate."
    ).tag(config=True)
    auth = AnyTrait(
        None, allow_none=True, help="A SwiftAuth object used instead of auth_url/user/key."
    )

    #: A temporary this old belongs to an upload whose server died: uploads finish with
    #: their temporaries well within it.
    stale_temporary = timedelta(hours=1)
    #: Seconds before /info is asked again after it failed for a passing reason
    #: (without it there is no bulk delete and no SLO).
    capabilities_retry = 300.0

    @validate("workers", "page_size")
    def _at_least_one(self, proposal: Any) -> int:
        return max(1, proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._idle: list[Connection] = []
        self._streams: weakref.WeakSet[_BodyStream] = weakref.WeakSet()
        self._limiter = anyio.CapacityLimiter(self.workers)
        # A streaming upload parks a thread that waits on the event loop for its body.
        # Separate tokens keep such uploads from starving the short calls that may be
        # feeding them (compose_by_streaming reads this very store).
        self._upload_limiter = anyio.CapacityLimiter(self.workers)
        self._auth_lock = anyio.Lock()
        self._ready_lock = anyio.Lock()
        self._auth_obj: SwiftAuth | None = None
        self._url: str | None = None
        self._token: str | None = None
        self._ready = False
        self._closed = False
        self._caps: dict[str, Any] = {}
        self._caps_retry_at: float | None = None
        self._listing_limit = 10_000  # Swift's default; /info tells the cluster's
        self._retry = self.retry_policy()

    @property
    def description(self) -> str:
        where = self._url or self.storage_url or f"{self.auth_url or '?'} (not yet authenticated)"
        return f"Swift container {self.container!r} (prefix {self.prefix!r}) at {where}"

    def __repr__(self) -> str:
        return f"<SwiftStore {self.description}>"

    @property
    def _page_limit(self) -> int:
        return min(self.page_size, self._listing_limit)

    # --- protocol -------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectMeta:
        name = self._name(key)
        headers = await self._call(
            lambda c: c.head_object(self.container, name), action="read", key=key
        )
        return _meta_from_headers(key, headers)

    async def get(self, key: str) -> tuple[ObjectMeta, bytes]:
        name = self._name(key)
        headers, body = await self._call(
            lambda c: c.get_object(self.container, name), action="read", key=key
        )
        return _meta_from_headers(key, headers), body

    async def get_stream(
        self, key: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        name = self._name(key)
        await self._ensure_ready()

        def op(c: Connection) -> Any:
            return c.get_object(self.container, name, resp_chunk_size=chunk_size)

        # The connection stays checked out until the body is read or closed.
        (headers, body), conn = await self._retry.run(
            partial(self._attempt, op, action="read", key=key), what=f"read {key!r}", log=self.log
        )
        stream = _BodyStream(self, conn, body, key)
        self._streams.add(stream)
        return _meta_from_headers(key, headers), stream

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
        """Write ``key``; see ``Store.put``.

        ``IfMatch``: Swift ignores If-Match on PUT, so this is HEAD, compare, PUT. A
        writer that lands between our HEAD and our PUT is overwritten without a
        PreconditionFailed; the window is one round trip. ``create`` sends
        ``If-None-Match: *``, which Swift checks when a PUT starts: two creates whose
        uploads overlap can both succeed (the later one wins).
        """
        name = self._name(key)
        meta = check_metadata(metadata)
        ctype = check_content_type(content_type)
        headers = {f"X-Object-Meta-{k}": v for k, v in meta.items()}
        create = mode == "create"
        if create:
            headers["If-None-Match"] = "*"
        elif isinstance(mode, IfMatch):
            current = await self.head(key)
            if (current.etag or "").lower() != mode.etag.strip('"').lower():
                raise PreconditionFailed(
                    f"{self._where(key)} changed: its ETag is {current.etag}, not {mode.etag}"
                )
        elif mode != "overwrite":
            raise InvalidRequest(f"unknown put mode {mode!r}")

        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            sent: list[str] = []  # our MD5, once per try

            def op(c: Connection) -> dict[str, str]:
                if sent and isinstance(mode, IfMatch):
                    # A retry: the last try may have landed, or someone else may have
                    # written since our check. Only the version we checked, or our own
                    # body, may be replaced.
                    try:
                        now = c.head_object(self.container, name)
                    except ClientException as exc:
                        if exc.http_status == 404:
                            raise PreconditionFailed(
                                f"{self._where(key)} was deleted during the save"
                            ) from exc
                        raise
                    etag = (_unquote(now.get("etag")) or "").lower()
                    if etag == sent[-1]:
                        return now
                    if etag != mode.etag.strip('"').lower():
                        raise PreconditionFailed(f"{self._where(key)} changed during the save")
                response: dict[str, Any] = {}
                # Sending the MD5 lets Swift reject a body corrupted on the way.
                sent.append(md5 or hashlib.md5(body, usedforsecurity=False).hexdigest())
                c.put_object(
                    self.container,
                    name,
                    body,
                    etag=sent[-1],
                    content_type=ctype,
                    headers=headers,
                    response_dict=response,
                )
                return response["headers"]

            try:
                got = await self._call(op, action="write", key=key, create=create)
            except AlreadyExists:
                # A retried create whose first try landed but lost its answer finds its
                # own object: same bytes and metadata means it is ours.
                if len(sent) < 2:
                    raise
                current = await self.head(key)
                if (current.etag, dict(current.metadata)) != (sent[-1], meta):
                    raise
                return current
            size = len(body)
        else:
            # A stream can't be replayed, so check what can be checked before sending
            # it: an existing key (create), and the token (a HEAD re-authenticates).
            exists = isinstance(mode, IfMatch)  # that mode has just HEADed
            if not exists:
                try:
                    await self.head(key)
                    exists = True
                except NotFound:
                    pass
            if exists and create:
                raise AlreadyExists(f"{self._where(key)} already exists")
            if exists:
                got, size = await self._put_stream_beside(key, name, data, ctype, headers)
            else:
                got, size = await self._put_stream(key, name, data, ctype, headers, create)
        return ObjectMeta(
            key=key,
            size=size,
            last_modified=_header_time(got),
            etag=_unquote(got.get("etag")),
            content_type=ctype,
            metadata=meta,
            etag_is_md5=True,  # a plain object; Swift checked the MD5 (or we did, streamed)
        )

    async def delete(self, key: str) -> None:
        await self._delete_name(self._name(key), key)

    async def delete_many(self, keys: list[str]) -> None:
        keys = list(dict.fromkeys(keys))
        names = [self._name(k) for k in keys]
        if not names:
            return
        caps = await self._capabilities()
        bulk = caps.get("bulk_delete")
        if bulk is None:  # middleware not installed: one DELETE per key
            await each(self.delete, keys)  # keys were checked above
            return
        # Swift's bulk middleware refuses a body line longer than a container and object
        # name together (it reads at most twice that): percent-encoded long non-ASCII names
        # can exceed it, and go one DELETE each instead.
        swift = caps.get("swift") or {}
        line_max = (
            int(swift.get("max_object_name_length", 1024))
            + int(swift.get("max_container_name_length", 256))
            + 2
        )
        lines = [_bulk_line(self.container, n) for n in names]
        single = [k for k, line in zip(keys, lines, strict=True) if len(line) > line_max]
        lines = [line for line in lines if len(line) <= line_max]
        most = min(BULK_DELETE_BATCH, int(bulk.get("max_deletes_per_request", 10000)))
        size = min(most, max(BULK_DELETE_MIN, -(-len(lines) // BULK_DELETE_PARALLEL)))
        batches = [lines[i : i + size] for i in range(0, len(lines), size)]
        jobs = [partial(self._bulk_delete, b) for b in batches]
        await each(lambda job: job(), jobs + [partial(self.delete, k) for k in single])

    async def list(
        self, prefix: str = "", *, delimiter: str | None = "/"
    ) -> AsyncIterator[ListPage]:
        if delimiter is not None and len(delimiter) != 1:
            raise InvalidRequest(
                f"Swift listings need a one-character delimiter, not {delimiter!r}"
            )
        if not prefix_can_match(prefix):
            yield ListPage([], [])
            return
        marker: str | None = None
        first = True
        while True:
            page, last, count = await self._call(
                partial(self._list_page, self.prefix + prefix, delimiter, marker),
                action="list",
                key=prefix,
            )
            if count or first:
                yield page
            first = False
            if count < self._page_limit or last is None:
                return
            marker = last

    async def copy(self, src: str, dst: str) -> ObjectMeta:
        await self.copy_blind(src, dst)
        # A COPY answer has neither the size nor the content type: HEAD the copy.
        return await self.head(dst)

    async def copy_blind(self, src: str, dst: str) -> None:
        src_name, dst_name = self._name(src), self._name(dst)
        await self._call(
            lambda c: c.copy_object(self.container, src_name, f"/{self.container}/{dst_name}"),
            action="copy",
            key=src,
        )

    async def compose(
        self, dst: str, parts: list[str], *, content_type: str | None = None
    ) -> ObjectMeta:
        """Concatenate ``parts`` into ``dst`` inside Swift.

        An SLO manifest over the parts is PUT at a temporary key and COPYed to ``dst``,
        which makes ``dst`` a plain object holding the bytes; then only the manifest is
        deleted (a plain DELETE), leaving the parts for the caller. Falls back to
        streaming when SLO is off or most parts are small (SLO rate-limits those).
        """
        ctype = content_type or DEFAULT_CONTENT_TYPE
        dst_name = self._name(dst)
        metas = await each(self.head, parts)
        segments = [m for m in metas if m.size > 0]  # SLO refuses empty segments
        total = sum(m.size for m in segments)
        caps = await self._capabilities()
        max_size = int(caps.get("swift", {}).get("max_file_size", 5 << 30))
        if total > max_size:
            raise InvalidRequest(
                f"cannot compose {self._where(dst)}: {total} bytes is more than this "
                f"Swift's largest object ({max_size} bytes)"
            )
        if not segments:
            return await self.put(dst, b"", content_type=ctype)
        if len(segments) == 1:
            return await self._copy_fresh(segments[0].key, dst, ctype)
        slo = caps.get("slo")
        small = sum(1 for m in segments[:-1] if m.size < SLO_SMALL_SEGMENT)
        if slo is None or small > SLO_FREE_SMALL_SEGMENTS:
            return await compose_by_streaming(self, dst, parts, content_type=ctype)

        per_manifest = int(slo.get("max_manifest_segments", 1000))
        entries: list[dict[str, Any]] = [
            {
                "path": f"/{self.container}/{self.prefix}{m.key}",
                "etag": m.etag,
                "size_bytes": m.size,
            }
            for m in segments
        ]
        manifests: list[str] = []
        try:
            # More parts than one manifest may hold: manifests of manifests.
            while len(entries) > 1:
                level: list[dict[str, Any]] = []
                for start in range(0, len(entries), per_manifest):
                    name = f"{self.prefix}{TEMP_DIR}compose-{uuid.uuid4().hex}"
                    manifests.append(name)
                    await self._put_manifest(name, entries[start : start + per_manifest], ctype)
                    level.append({"path": f"/{self.container}/{name}"})
                entries = level
            top = manifests[-1]
            got = await self._call(
                lambda c: _copy(c, self.container, top, dst_name, {"Content-Type": ctype}),
                action="compose",
                key=dst,
            )
        finally:
            with anyio.CancelScope(shield=True):
                await self._drop_temporaries(manifests)
        if "etag" not in got or "last-modified" not in got:
            return await self.head(dst)
        # The COPY wrote the manifest's bytes out as a plain object: its ETag is their MD5.
        return ObjectMeta(
            dst, total, _header_time(got), _unquote(got["etag"]), ctype, {}, etag_is_md5=True
        )

    async def connect(self) -> None:
        await self._ensure_ready()
        await self._sweep_temporaries()  # at start only: requests never wait for it

    async def close(self) -> None:
        self._closed = True
        for stream in list(self._streams):
            stream.release(reuse=False)
        while self._idle:
            self._idle.pop().close()

    # --- plumbing: auth, pool, threads, retries ---------------------------------------------

    def _get_auth(self) -> SwiftAuth:
        if self._auth_obj is None:
            self._auth_obj = self.auth or auth_from_config(self)
        return self._auth_obj

    async def _credentials(self) -> tuple[str, str]:
        """The storage URL and the shared token, authenticating if there is none
        (or if the one there is expires soon)."""
        if self._token is None or renewal_due(self._auth_obj):
            async with self._auth_lock:  # one authentication, however many callers wait
                if self._token is None or renewal_due(self._auth_obj):
                    auth = self._get_auth()

                    def authenticate() -> tuple[str, str]:
                        with self._errors("authenticate", None):
                            return auth.authenticate()

                    url, token = await self._retry.run(
                        partial(anyio.to_thread.run_sync, authenticate, limiter=self._limiter),
                        what="authenticate",
                        log=self.log,
                    )
                    self._url, self._token = self.storage_url or url, token
        assert self._url is not None and self._token is not None
        return self._url, self._token

    def _checkout(self, url: str, token: str) -> Connection:
        if self._closed:
            raise Unavailable(f"{self.description} is closed")
        if self._idle:
            conn = self._idle.pop()
            if conn.url != url:
                conn.close()  # its HTTP session is bound to the old host
        else:
            conn = Connection(
                retries=0,  # RetryPolicy retries; swiftclient's own loop would sleep in a thread
                retry_on_ratelimit=False,
                preauthurl=url,
                preauthtoken=token,
                timeout=self.timeout,
                insecure=self.insecure,
                cacert=self.cacert,
            )
        conn.url, conn.token = url, token
        return conn

    def _checkin(self, conn: Connection, reuse: bool) -> None:
        if reuse and not self._closed and len(self._idle) < self.workers:
            self._idle.append(conn)
        else:
            conn.close()

    def _run(
        self,
        op: Callable[[Connection], T],
        conn: Connection,
        action: str,
        key: str | None,
        create: bool,
    ) -> T:
        """Worker-thread side of every call: the op, with its errors translated."""
        with self._errors(action, key, create=create):
            return op(conn)

    async def _attempt(
        self,
        op: Callable[[Connection], T],
        *,
        action: str,
        key: str | None = None,
        create: bool = False,
        limiter: anyio.CapacityLimiter | None = None,
        reauth: bool = True,
    ) -> tuple[T, Connection]:
        """One try of ``op`` on a pooled connection, re-authenticating once on a 401.

        Returns the connection with the result: the caller checks it back in.
        """
        rejected: Unauthenticated | None = None
        for _ in range(2 if reauth else 1):
            url, token = await self._credentials()
            conn = self._checkout(url, token)
            try:
                result = await anyio.to_thread.run_sync(
                    self._run, op, conn, action, key, create, limiter=limiter or self._limiter
                )
            except Unauthenticated as exc:
                self._checkin(conn, reuse=True)
                if self._token == token:  # others may have re-authenticated already
                    self._token = None
                rejected = exc
                continue
            except BaseException as exc:
                # After an HTTP error the connection is still good; after anything else
                # (transport error, cancellation mid-request) it is in an unknown state.
                self._checkin(
                    conn, reuse=isinstance(exc, StoreError) and not isinstance(exc, Unavailable)
                )
                raise
            return result, conn
        raise Unauthenticated(
            f"Swift at {self._url} rejected the token of {self._get_auth().description}"
            + (" even after re-authenticating" if reauth else "")
        ) from rejected

    async def _call(
        self,
        op: Callable[[Connection], T],
        *,
        action: str,
        key: str | None = None,
        create: bool = False,
        ensure: bool = True,
    ) -> T:
        """Run ``op(connection)`` in a worker thread, with re-auth and retries."""

        async def once() -> T:
            if ensure:
                await self._ensure_ready()  # again after a try found the container gone
            result, conn = await self._attempt(op, action=action, key=key, create=create)
            self._checkin(conn, reuse=True)
            return result

        return await self._retry.run(once, what=f"Swift {action} {key or ''}", log=self.log)

    async def _ensure_ready(self) -> None:
        """Once per store: learn the cluster's limits, make sure the container exists."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            await self._read_capabilities()
            try:
                await self._call(
                    lambda c: c.head_container(self.container), action="check", ensure=False
                )
            except NotFound as exc:
                if not self.create_container:
                    raise NotFound(
                        f"Swift container {self.container!r} does not exist at {self._url} "
                        "(create it, or set SwiftStore.create_container = True)"
                    ) from exc
                await self._call(
                    lambda c: c.put_container(self.container), action="create", ensure=False
                )
                self.log.info("Created Swift container %r at %s", self.container, self._url)
            self._ready = True

    async def _read_capabilities(self) -> None:
        try:
            self._caps = await self._call(
                lambda c: c.get_capabilities(c.url), action="read /info of", ensure=False
            )
        except StoreError as exc:  # /info can be disabled; then assume the minimum
            self.log.warning("Swift /info unavailable (%s): no bulk delete, no SLO", exc)
            self._caps = {}
            if isinstance(exc, Unavailable):  # a passing failure: ask again later
                self._caps_retry_at = time.monotonic() + self.capabilities_retry
            return
        self._caps_retry_at = None
        limit = (self._caps.get("swift") or {}).get("container_listing_limit")
        if isinstance(limit, int) and limit > 0:
            self._listing_limit = limit  # Swift refuses bigger pages with a 412

    async def _capabilities(self) -> dict[str, Any]:
        """The cluster's /info: read at start, and again after a passing failure."""
        await self._ensure_ready()
        if self._caps_retry_at is not None and time.monotonic() >= self._caps_retry_at:
            await self._read_capabilities()
        return self._caps

    async def _sweep_temporaries(self) -> None:
        """Delete the temporaries of uploads a server died in (they are never listed)."""
        stale = datetime.now(UTC) - self.stale_temporary

        def op(c: Connection) -> list[str]:
            _, entries = c.get_container(
                self.container, prefix=self.prefix + TEMP_DIR, limit=1000, full_listing=False
            )
            return [
                e["name"]
                for e in entries
                if "name" in e
                and datetime.fromisoformat(e["last_modified"]).replace(tzinfo=UTC) < stale
            ]

        try:  # one try: housekeeping must not hold up the server's start
            names, conn = await self._attempt(op, action="look for temporaries in", key=None)
        except NotFound:
            return
        except StoreError as exc:
            self.log.warning("could not look for leftover temporaries: %s", exc)
            return
        self._checkin(conn, reuse=True)
        if names:
            self.log.info("Deleting %d temporaries left by an interrupted upload", len(names))
            if self._caps.get("bulk_delete") is not None:
                try:
                    await self._bulk_delete([_bulk_line(self.container, n) for n in names])
                    return
                except StoreError as exc:
                    self.log.warning("could not delete leftover temporaries: %s", exc)
                    return
            await self._drop_temporaries(names)

    # --- plumbing: operations ---------------------------------------------------------------

    def _list_page(
        self, prefix: str, delimiter: str | None, marker: str | None, c: Connection
    ) -> tuple[ListPage, str | None, int]:
        """One listing request, turned into a page in the worker thread (big JSON)."""
        _, entries = c.get_container(
            self.container,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            limit=self._page_limit,
            full_listing=False,
        )
        cut = len(self.prefix)
        objects, prefixes = [], []
        for entry in entries:
            if "subdir" in entry:
                if not is_reserved(entry["subdir"][cut:]):
                    prefixes.append(entry["subdir"][cut:])
            elif not is_reserved(entry["name"][cut:]):
                objects.append(_meta_from_listing(entry["name"][cut:], entry))
        last = entries[-1].get("name", entries[-1].get("subdir")) if entries else None
        return ListPage(objects, prefixes), last, len(entries)

    async def _bulk_delete(self, lines: list[str]) -> None:
        """One bulk-delete request; absent objects are fine, any other failure is not."""
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain", "Accept": "application/json"}

        def op(c: Connection) -> None:
            _, raw = c.post_account(headers, query_string="bulk-delete", data=body)
            # Swift answers 200 at once and reports the outcome in the (JSON) body.
            try:
                result = json.loads(raw)
            except ValueError as exc:
                raise Transient(f"Swift bulk delete sent no JSON: {_short(raw)}") from exc
            errors = [
                (path, status)
                for path, status in result.get("Errors") or []
                if not status.startswith("404")
            ]
            if errors:
                path, status = errors[0]
                raise _status_error(
                    int(status.split()[0]),
                    f"Swift bulk delete failed for {len(errors)} object(s), e.g. {path}: {status}",
                )
            status = result.get("Response Status", "200 OK")
            if not status.startswith(("2", "404")):
                raise _status_error(int(status.split()[0]), f"Swift bulk delete failed: {status}")

        await self._call(op, action="bulk delete", key=None)

    async def _put_stream(
        self,
        key: str,
        name: str,
        chunks: AsyncIterable[bytes],
        content_type: str,
        headers: dict[str, str],
        create: bool,
    ) -> tuple[dict[str, str], int]:
        """PUT with a chunked body fed from the event loop, a few chunks at a time.

        A task on the loop pumps ``chunks`` into a small queue; swiftclient, in a worker
        thread, reads the queue through ``from_thread.run``. If the body fails or the put
        is cancelled, the thread's iterator raises, the request is cut off before its
        last chunk, and Swift stores nothing.
        """
        send, receive = anyio.create_memory_object_stream[bytes](UPLOAD_QUEUE_CHUNKS)
        state = _Upload()

        async def pump() -> None:
            with send:
                try:
                    async for chunk in chunks:
                        if chunk:
                            await send.send(bytes(chunk))
                    state.complete = True
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass  # the upload stopped reading: it failed and says why
                except Exception as exc:  # the caller's body failed: abort, re-raise below
                    state.body_error = exc
                finally:
                    if not state.complete and hasattr(chunks, "aclose"):
                        with anyio.CancelScope(shield=True):
                            await chunks.aclose()

        def body() -> Iterator[bytes]:
            while True:
                try:
                    chunk = anyio.from_thread.run(receive.receive)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    if state.complete:
                        return
                    raise _BodyAborted from None
                state.size += len(chunk)
                state.md5.update(chunk)
                yield chunk

        def op(c: Connection) -> dict[str, str]:
            response: dict[str, Any] = {}
            c.put_object(
                self.container,
                name,
                body(),
                content_type=content_type,
                headers=headers,
                response_dict=response,
            )
            return response["headers"]

        async def upload() -> None:
            try:
                state.headers, conn = await self._attempt(
                    op,
                    action="write",
                    key=key,
                    create=create,
                    limiter=self._upload_limiter,
                    reauth=False,  # a consumed stream can't be sent again
                )
                self._checkin(conn, reuse=True)
            except (_BodyAborted, StoreError) as exc:
                state.upload_error = exc
            finally:
                receive.close()
                tg.cancel_scope.cancel()  # stop a producer still waiting for its data

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            tg.start_soon(upload)
        if state.body_error is not None:
            raise state.body_error
        if isinstance(state.upload_error, _BodyAborted):
            raise Unavailable(f"upload of {self._where(key)} was cut off")
        if state.upload_error is not None:
            raise state.upload_error
        assert state.headers is not None
        # A streamed body has no ETag up front: check Swift's against what we sent, and
        # never keep (nor acknowledge) an object that differs from it.
        stored, sent = _unquote(state.headers.get("etag")), state.md5.hexdigest()
        if stored != sent:
            with anyio.CancelScope(shield=True):
                await self._delete_name(name, key)
            raise Unavailable(
                f"upload of {self._where(key)} was corrupted in transit "
                f"(stored MD5 {stored}, sent {sent}); it was not kept"
            )
        return state.headers, state.size

    async def _put_stream_beside(
        self,
        key: str,
        name: str,
        chunks: AsyncIterable[bytes],
        content_type: str,
        headers: dict[str, str],
    ) -> tuple[dict[str, str], int]:
        """Overwrite ``name`` with a stream without ever risking its current version.

        A streamed body's MD5 is known only once it is sent, so it goes to a temporary
        object first; only when Swift's ETag matches what was sent does a server-side
        COPY (metadata included) replace ``name``. A corrupted transfer leaves the
        previous version in place, and no reader ever sees the bad bytes.
        """
        temp = f"{self.prefix}{TEMP_DIR}stream-{uuid.uuid4().hex}"
        try:
            _, size = await self._put_stream(key, temp, chunks, content_type, headers, False)

            def op(c: Connection) -> dict[str, str]:
                response: dict[str, Any] = {}
                c.copy_object(
                    self.container, temp, f"/{self.container}/{name}", response_dict=response
                )
                return response["headers"]

            got = await self._call(op, action="write", key=key)
        finally:
            with anyio.CancelScope(shield=True):
                await self._drop_temporaries([temp])
        return got, size

    async def _put_manifest(self, name: str, segments: list[dict[str, Any]], ctype: str) -> None:
        manifest = json.dumps(segments).encode()  # ASCII: non-ASCII names are \u-escaped
        await self._call(
            lambda c: c.put_object(
                self.container,
                name,
                manifest,
                content_type=ctype,
                query_string="multipart-manifest=put",
            ),
            action="write manifest",
            key=name[len(self.prefix) :],
        )

    async def _copy_fresh(self, src: str, dst: str, ctype: str) -> ObjectMeta:
        """Server-side copy without the source's user metadata (compose of one part)."""
        src_name, dst_name = self._name(src), self._name(dst)
        await self._call(
            lambda c: _copy(
                c, self.container, src_name, dst_name, {"Content-Type": ctype}, fresh=True
            ),
            action="compose",
            key=dst,
        )
        return await self.head(dst)

    async def _delete_name(self, name: str, key: str) -> None:
        try:
            await self._call(
                lambda c: c.delete_object(self.container, name), action="delete", key=key
            )
        except NotFound:
            pass

    async def _drop_temporaries(self, names: list[str]) -> None:
        for name in names:
            try:
                await self._delete_name(name, name[len(self.prefix) :])
            except StoreError as exc:  # leftovers are harmless: log and go on
                self.log.warning("could not delete temporary %r: %s", name, exc)

    # --- plumbing: names and errors ---------------------------------------------------------

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _where(self, key: str | None) -> str:
        place = f"Swift container {self.container!r}"
        if key is None:
            return place
        return f"{key!r} in {place}" + (f" (prefix {self.prefix!r})" if self.prefix else "")

    @contextmanager
    def _errors(self, action: str, key: str | None, *, create: bool = False) -> Iterator[None]:
        """The one translation of swiftclient/requests failures into bookstore errors."""
        try:
            yield
        except ClientException as exc:
            raise self._client_error(exc, action, key, create) from exc
        except _CONFIG_ERRORS as exc:
            raise Unavailable(f"cannot {action} {self._where(key)}: {exc}") from exc
        except _REFUSED_ERRORS as exc:  # never str(exc): it holds the value, maybe a key
            what = "the user or key" if action == "authenticate" else "a header value"
            raise InvalidRequest(
                f"cannot {action} {self._where(key)}: the request could not be sent "
                f"({type(exc).__name__}: {what} begins with a space or holds a line break)"
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            where = self._url or self.storage_url or self.auth_url
            raise Transient(
                f"cannot {action} {self._where(key)}: Swift at {where} is unreachable "
                f"({type(exc).__name__})"
            ) from exc

    def _client_error(
        self, exc: ClientException, action: str, key: str | None, create: bool
    ) -> StoreError:
        status = exc.http_status
        reason = f"{status} {exc.http_reason or ''}".strip()
        where = self._where(key)
        if action == "authenticate":
            if status is not None and 400 <= status < 500:
                return Unauthenticated(
                    f"Swift rejected the credentials of {self._get_auth().description} ({reason})"
                )
        if status == 404 and action in _CONTAINER_ACTIONS:
            # The container was deleted under us: the retry checks it again (and
            # recreates it, or says it is missing) before trying once more.
            self._ready = False
            return Transient(f"cannot {action} {where}: the container is gone")
        if status == 404:
            return NotFound(f"{where}: not found")
        if status == 412 and create:
            return AlreadyExists(f"{where} already exists")
        if status == 401:
            return Unauthenticated(f"Swift rejected the token ({action} {where})")
        if status == 422 and action == "write":
            # We sent the body's MD5 as its ETag: the bytes changed on the way. Nothing was
            # stored; another try may well pass, and if none does it is the network's fault.
            return Transient(
                f"cannot {action} {where}: the upload was corrupted on the way (Swift's "
                "MD5 of what it received differs from what was sent); nothing was stored"
            )
        if status is None:  # swiftclient's own complaint, e.g. an unsupported URL scheme
            return Unavailable(f"cannot {action} {where}: {exc.msg}")
        if not is_retryable_status(status):
            detail = _short(exc.http_response_content)
            return _status_error(status, f"cannot {action} {where}: Swift said {reason}{detail}")
        headers = exc.http_response_headers or {}
        return Transient(
            f"cannot {action} {where}: Swift said {reason}",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )

    # --- for layers above: requests the Store protocol has no words for ---------------------

    async def call(
        self, fn: Callable[[Connection], T], *, action: str = "call", key: str | None = None
    ) -> T:
        """``fn(connection)`` in a worker thread on a pooled, authenticated connection.

        With this store's retries, re-authentication and error mapping: ``fn`` may run
        more than once and fails with ``bookstore.errors`` only. For account and
        container requests (sharing: TempURL keys, a public container); ``fn`` names
        objects itself (``self.prefix`` + key). ``action`` and ``key`` go into messages.
        """
        return await self._call(fn, action=action, key=key)


# --- helpers -------------------------------------------------------------------------------


class _BodyAborted(Exception):
    """Raised inside swiftclient's body iterator to cut an upload off."""


@dataclass
class _Upload:
    complete: bool = False
    size: int = 0
    md5: Any = field(default_factory=lambda: hashlib.md5(usedforsecurity=False))
    headers: dict[str, str] | None = None
    body_error: Exception | None = None
    upload_error: Exception | None = None


class _BodyStream:
    """A GET body read chunk by chunk in worker threads; holds its connection until done."""

    def __init__(self, store: SwiftStore, conn: Connection, body: Any, key: str) -> None:
        self._store, self._conn, self._body, self._key = store, conn, body, key

    def __aiter__(self) -> _BodyStream:
        return self

    async def __anext__(self) -> bytes:
        body = self._body
        if body is None:
            raise StopAsyncIteration
        try:
            chunk = await anyio.to_thread.run_sync(
                self._store._run,
                lambda _c: next(body, b""),
                self._conn,
                "read",
                self._key,
                False,
                limiter=self._store._limiter,
            )
        except BaseException:
            self.release(reuse=False)
            raise
        if not chunk:
            self.release(reuse=True)  # fully read: the connection is clean
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self.release(reuse=False)

    def release(self, *, reuse: bool) -> None:
        body, self._body = self._body, None
        if body is not None:
            if not reuse:
                body.close()
            self._store._checkin(self._conn, reuse)

    def __del__(self) -> None:
        if self._body is not None:  # dropped half-read: close the socket, don't pool it
            self._body = None
            self._conn.close()


def _bulk_line(container: str, name: str) -> str:
    return quote(f"/{container}/{name}")


def _copy(
    c: Connection,
    container: str,
    src: str,
    dst: str,
    headers: dict[str, str],
    *,
    fresh: bool = False,
) -> dict[str, str]:
    response: dict[str, Any] = {}
    c.copy_object(
        container,
        src,
        f"/{container}/{dst}",
        headers=headers,
        fresh_metadata=True if fresh else None,
        response_dict=response,
    )
    return response.get("headers", {})


_STATUS_ERRORS: dict[int, type[StoreError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: PreconditionFailed,  # Swift: a newer write or delete won the race
    412: PreconditionFailed,
}


def _status_error(status: int, message: str) -> StoreError:
    if is_retryable_status(status):
        return Transient(message)
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status](message)
    if 400 <= status < 500:  # 400, 411, 413, 416, 422, ...
        return InvalidRequest(message)
    return Unavailable(message)


def _short(content: Any) -> str:
    if not content:
        return ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    text = " ".join(text.replace("<", " <").split())
    return f": {text[:200]}"


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


# Times are whole seconds, rounded DOWN, from every source alike, so put, head and
# list agree on an object's time and a fresh save never looks as if from the future.


def _header_time(headers: Mapping[str, str]) -> datetime:
    if value := headers.get("x-timestamp"):  # the exact write time (HEAD, GET)
        return datetime.fromtimestamp(math.floor(float(value)), UTC)
    if value := headers.get("last-modified"):
        # Swift rounds the write time UP into Last-Modified (a PUT's answer has only this).
        return parsedate_to_datetime(value).astimezone(UTC) - timedelta(seconds=1)
    return datetime.now(UTC).replace(microsecond=0)


def _meta_from_headers(key: str, headers: Mapping[str, str]) -> ObjectMeta:
    """An object's metadata from a HEAD or GET answer (lower-case header names)."""
    # A large object's ETag is the MD5 of its segments' ETags (quoted), not of its bytes.
    large = "x-object-manifest" in headers or (
        headers.get("x-static-large-object", "").lower() in _TRUE
    )
    return ObjectMeta(
        key=key,
        size=int(headers.get("content-length", 0)),
        last_modified=_header_time(headers),
        etag=_unquote(headers.get("etag")),
        content_type=headers.get("content-type"),
        metadata={
            k[len(META_PREFIX) :]: v
            for k, v in headers.items()
            if k.lower().startswith(META_PREFIX)
        },
        etag_is_md5=not large,
    )


def _meta_from_listing(key: str, entry: Mapping[str, Any]) -> ObjectMeta:
    """An object's metadata from a container listing entry.

    An SLO manifest lists with its total size, the MD5 of its manifest as ``hash`` and
    its own ETag as ``slo_etag`` (older Swifts leave that out: such an entry passes for
    a plain object whose MD5 never matches a copy's, so it is copied again, never
    wrongly skipped).
    A DLO manifest or a symlink lists as an empty object: the ETag of an empty entry
    is not vouched for, a HEAD or a read tells. Folder markers are ours, never DLOs.
    In a versioned container, every entry is a symlink listed with its version's own
    size and hash: vouched for.
    """
    when = datetime.fromisoformat(entry["last_modified"]).replace(tzinfo=UTC, microsecond=0)
    size = int(entry["bytes"])
    # (An entry of a versioned container is a symlink to its version, listed with
    # that version's size and hash: no stand-in.)
    symlink = "symlink_path" in entry and not entry.get("version_symlink")
    stand_in = (size == 0 and not key.endswith("/")) or symlink
    return ObjectMeta(
        key=key,
        size=size,
        last_modified=when,
        etag=entry.get("hash"),
        content_type=entry.get("content_type"),
        etag_is_md5=not stand_in and "slo_etag" not in entry,
    )
