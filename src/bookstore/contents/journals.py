"""Rename journals: what a rename is moving, which server moves it, and whether that
server is still at it.

Object stores have no rename: a folder rename copies, then deletes, object by object.
Its journal (``.bookstore/renames/<id>.json``) lets whoever comes next finish a rename
left half done. Servers can share a prefix (a JupyterHub user's named servers), and one
rename run by two of them at once is work done twice (``bulk.move_tree`` makes it safe:
a source gone is skipped, and a roll-back keeps the copies of sources gone). So a
running rename rewrites its journal every ``HEARTBEAT`` seconds, and another server
takes a journal over only when its owner is provably gone (an earlier life of this
process, or a pid no longer running, in the same pid namespace of the same boot of the
same host) or the journal has not changed for ``STALE`` seconds; it claims it with a
conditional write (If-Match), so two servers don't take it over together. Until then
that server answers 409 for the rename's folders.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from .. import errors
from ..stores.base import IfMatch, ObjectMeta, Store

#: Seconds between two rewrites of a running rename's journal.
HEARTBEAT = 20.0
#: Seconds a journal of another server's rename may stay unchanged before it is taken over.
STALE = 90.0


@dataclass(frozen=True)
class Owner:
    """The server running a rename: its host, its pid, that process's run, and where the
    pid means something (``space``: the boot and pid namespace; empty if unknown)."""

    host: str
    pid: int
    run: str
    space: str = ""

    @classmethod
    def new(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex, _pid_space())

    def gone(self, me: Owner) -> bool:
        """Known to have stopped, as seen from ``me`` (a run of this process or host).
        Containers often share a host name and start at the same pid: only the same
        boot and pid namespace make the pid comparable."""
        if self.host != me.host or not self.space or self.space != me.space:
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


def _pid_space() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux: pids are never compared
        return ""


@dataclass(frozen=True)
class Journal:
    key: str
    moves: list[tuple[str, str]]
    paths: list[str]  # the rename's own two paths: 409 while it is unfinished
    owner: Owner | None  # None: written by a Bookstore that did not record owners

    def encode(self) -> bytes:
        """The journal's bytes, different at every call (a heartbeat must change them)."""
        body: dict = {"moves": self.moves, "paths": self.paths, "written": uuid.uuid4().hex}
        if self.owner is not None:
            o = self.owner
            body["owner"] = {"host": o.host, "pid": o.pid, "run": o.run, "space": o.space}
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, key: str, raw: bytes) -> Journal:
        """ValueError, TypeError or KeyError for anything that is not a journal."""
        body = json.loads(raw)
        moves = [(str(a), str(b)) for a, b in body["moves"]]
        paths = [str(p) for p in body.get("paths") or []]
        owner = body.get("owner")
        if owner is not None:
            space = str(owner.get("space") or "")
            owner = Owner(str(owner["host"]), int(owner["pid"]), str(owner["run"]), space)
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
        now = time.monotonic()
        seen = self._changed.get(journal.key)
        etag, since = seen if seen is not None else (object(), now)
        if etag != meta.etag:
            self._changed[journal.key] = (meta.etag, now)
            return False
        return now - since >= STALE

    def keep_only(self, keys: set[str]) -> None:
        """Forget the journals that are gone (their renames ended)."""
        for key in self._changed.keys() - keys:
            del self._changed[key]


@asynccontextmanager
async def heartbeat(
    store: Store, journal: Journal, etag: str | None, log: logging.Logger
) -> AsyncIterator[None]:
    """Rewrite ``journal`` (as written with ``etag``) every ``HEARTBEAT`` seconds while
    the block runs, each time only if it is still as this server wrote it: a journal
    gone or changed (another server took it over) is left alone."""

    async def beat() -> None:
        last = etag
        while True:
            await anyio.sleep(HEARTBEAT)
            # Never cut short: a rewrite still in flight could land after the delete
            # that ends the rename, and bring its journal back.
            with anyio.CancelScope(shield=True):
                try:
                    mode = "overwrite" if last is None else IfMatch(last)
                    last = (await store.put(journal.key, journal.encode(), mode=mode)).etag
                except (errors.PreconditionFailed, errors.NotFound):
                    log.warning("The rename journal %s was taken over", journal.key)
                    return
                except Exception as exc:  # the rename goes on; the next beat may do
                    log.warning("Could not renew the rename journal %s: %s", journal.key, exc)

    with errors.one_error():  # the block's own error, not a group of one
        async with anyio.create_task_group() as tg:
            tg.start_soon(beat)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
