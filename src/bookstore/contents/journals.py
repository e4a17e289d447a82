"""Rename journals: what a rename is moving, which server moves it, and whether that
server is still at it.

Object stores have no rename: a folder rename copies, then deletes, object by object.
Its journal (``.bookstore/renames/<id>.json``) lets whoever comes next finish a rename
left half done. Servers can share a prefix (a JupyterHub user's named servers), and a
rename that two of them run at once can lose objects: one deletes the sources the
other is still copying, and the other's roll-back deletes the copies. So a running
rename rewrites its journal every ``HEARTBEAT`` seconds, and another server takes a
journal over only when its owner is provably gone (an earlier life of this process, or
a pid no longer running on this host) or the journal has not changed for ``STALE``
seconds. Until then that server answers 409 for the rename's folders.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio

from .. import errors
from ..stores.base import ObjectMeta, Store

#: Seconds between two rewrites of a running rename's journal.
HEARTBEAT = 20.0
#: Seconds a journal of another server's rename may stay unchanged before it is taken over.
STALE = 90.0
#: A journal whose store time is this much older than our clock is abandoned at once
#: (clocks disagree by seconds or minutes, not by this much).
ANCIENT = timedelta(hours=1)


@dataclass(frozen=True)
class Owner:
    """The server running a rename: its host, its pid, and that process's run."""

    host: str
    pid: int
    run: str

    @classmethod
    def new(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex)

    def gone(self, me: Owner) -> bool:
        """Known to have stopped, as seen from ``me`` (a run of this process or host)."""
        if self.host != me.host:
            return False  # nothing to ask: only its heartbeat tells
        if self.pid == me.pid:
            return self.run != me.run  # this process's earlier life (a restarted container)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # another user's process: running
            return False
        return False


@dataclass(frozen=True)
class Journal:
    key: str
    moves: list[tuple[str, str]]
    paths: list[str]  # the rename's own two paths: 409 while it is unfinished
    owner: Owner | None  # None: written by a Bookstore that did not record owners

    def encode(self, beat: int = 0) -> bytes:
        body: dict = {"moves": self.moves, "paths": self.paths, "beat": beat}
        if self.owner is not None:
            body["owner"] = {"host": self.owner.host, "pid": self.owner.pid, "run": self.owner.run}
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, key: str, raw: bytes) -> Journal:
        """ValueError, TypeError or KeyError for anything that is not a journal."""
        body = json.loads(raw)
        moves = [(str(a), str(b)) for a, b in body["moves"]]
        paths = [str(p) for p in body.get("paths") or []]
        owner = body.get("owner")
        if owner is not None:
            owner = Owner(str(owner["host"]), int(owner["pid"]), str(owner["run"]))
        return cls(key, moves, paths, owner)


class Watch:
    """Which journals of other servers' renames have been seen to change, and when
    (on this server's monotonic clock: store and host clocks may disagree)."""

    def __init__(self, me: Owner) -> None:
        self.me = me
        self._changed: dict[str, tuple[str, float]] = {}  # key -> (etag, when seen to change)

    def abandoned(self, journal: Journal, meta: ObjectMeta) -> bool:
        """Whether ``journal`` is left for whoever comes next to finish."""
        owner = journal.owner
        if owner is None or owner.run == self.me.run or owner.gone(self.me):
            return True
        if datetime.now(UTC) - meta.last_modified > ANCIENT:
            return True
        now = time.monotonic()
        etag, since = self._changed.get(journal.key, (None, now))
        if etag != meta.etag:
            self._changed[journal.key] = (meta.etag, now)
            return False
        return now - since >= STALE

    def keep_only(self, keys: set[str]) -> None:
        """Forget the journals that are gone (their renames ended)."""
        for key in self._changed.keys() - keys:
            del self._changed[key]


@asynccontextmanager
async def heartbeat(store: Store, journal: Journal, log: logging.Logger) -> AsyncIterator[None]:
    """Rewrite ``journal`` every ``HEARTBEAT`` seconds while the block runs."""

    async def beat() -> None:
        for n in itertools.count(1):
            await anyio.sleep(HEARTBEAT)
            # Never cut short: a rewrite still in flight could land after the delete
            # that ends the rename, and bring its journal back.
            with anyio.CancelScope(shield=True):
                try:
                    await store.put(journal.key, journal.encode(n))
                except errors.StoreError as exc:
                    log.warning("Could not renew the rename journal %s: %s", journal.key, exc)

    with errors.one_error():  # the block's own error, not a group of one
        async with anyio.create_task_group() as tg:
            tg.start_soon(beat)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
