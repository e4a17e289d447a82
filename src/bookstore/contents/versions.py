"""Times that move whenever the stored bytes change, and what we last saved.

Swift and S3 keep whole-second times, but clients decide "changed on the server"
by comparing ``last_modified``: JupyterLab's "File changed" dialog, and
jupyter-collaboration, which polls every second and saves a second after each
edit. A write by someone else within the second of our own save would look like
no change at all, and the next autosave would silently overwrite it.

``VersionClock`` remembers, per path, the ETag it last reported and the time it
gave it. A different ETag always gets a later time (within the store's second, when
the store's clock has not moved), so a time comparison is an ETag comparison. An
older store time with another ETag is a stale read from a lagging replica.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..stores.base import ObjectMeta

TICK = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Seen:
    etag: str
    stored: datetime  # the store's own time for that version
    reported: datetime  # what we told clients
    at: float  # when (time.monotonic()) the store last said so


class VersionClock:
    """Per-path ``last_modified`` for clients; bounded (least recently used go first)."""

    def __init__(self, size: int = 8192, now: Callable[[], datetime] | None = None) -> None:
        self._size = size
        self._now = now or (lambda: datetime.now(UTC))
        self._seen: OrderedDict[str, Seen] = OrderedDict()

    def observe(
        self, path: str, meta: ObjectMeta, *, written: bool = False
    ) -> tuple[datetime, bool]:
        """The time to report for ``meta`` at ``path``, and whether its bytes differ
        from the version reported before (False the first time a path is seen).
        ``written``: ``meta`` answers our own write, so it is the newest whatever its
        time says (an S3 PUT answer carries none; the store's own may be later)."""
        prev = self._seen.get(path)
        if not meta.etag:
            return meta.last_modified, False
        stale = prev is not None and meta.last_modified < prev.stored
        if stale and not written:
            return prev.reported, False  # a lagging replica: keep what we said
        reported = self._time(prev, meta)
        stored = max(meta.last_modified, prev.stored) if prev else meta.last_modified
        self._seen[path] = Seen(meta.etag, stored, reported, time.monotonic())
        self._seen.move_to_end(path)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return reported, prev is not None and prev.etag != meta.etag

    def peek(self, path: str, meta: ObjectMeta) -> datetime:
        """The time ``observe`` would report, remembering nothing (for listings)."""
        prev = self._seen.get(path)
        if prev is not None and meta.etag and meta.last_modified < prev.stored:
            return prev.reported
        return self._time(prev, meta)

    def _time(self, prev: Seen | None, meta: ObjectMeta) -> datetime:
        if prev is None or not meta.etag:
            return meta.last_modified
        if prev.etag == meta.etag:
            # Same bytes: no change to report, whatever time this answer carries.
            return prev.reported
        earliest = max(meta.last_modified, prev.reported + TICK)
        if meta.last_modified.microsecond:
            return earliest  # the store's time is precise: nothing to estimate
        # A whole-second store time: the write happened within that second, no later
        # than now. Our clock places it there, so two saves 0.6 s apart look 0.6 s apart
        # to JupyterLab's time check (it allows 0.5 s), not one millisecond.
        latest = meta.last_modified + timedelta(seconds=1) - TICK
        return min(max(earliest, self._now()), max(earliest, latest))

    def known(self, path: str) -> Seen | None:
        return self._seen.get(path)

    def forget(self, path: str) -> None:
        """Drop ``path`` and everything under it (deleted or renamed away)."""
        path = path.strip("/")
        below = f"{path}/"
        for key in [k for k in self._seen if k == path or k.startswith(below)]:
            del self._seen[key]


class RecentBytes:
    """The bytes this server last saved or read per path, by ETag, within a byte budget.

    Two uses. Opening a notebook this server just saved or opened costs a HEAD, not a
    download: the ETag says whether these bytes are still what the store holds. And
    when another writer replaces a file this server saved (say, under an open
    collaboration room, which then reloads), the manager keeps the version we saved
    as a checkpoint, so neither side's edits vanish silently.
    """

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        # path -> (etag, bytes, saved by us)
        self._data: OrderedDict[str, tuple[str, bytes, bool]] = OrderedDict()

    def keep(self, path: str, etag: str | None, data: bytes, *, saved: bool) -> None:
        self.drop(path)
        # One big file must not push out everything else: a quarter of the budget at most.
        if not etag or len(data) > self._budget // 4:
            return
        self._data[path] = (etag, data, saved)
        self._used += len(data)
        while self._used > self._budget:
            _, (_, old, _) = self._data.popitem(last=False)
            self._used -= len(old)

    def etag(self, path: str) -> str | None:
        kept = self._data.get(path)
        return kept[0] if kept else None

    def get(self, path: str, etag: str | None, *, saved: bool = False) -> bytes | None:
        """The bytes kept for ``path`` if its ETag is ``etag`` (``saved``: only ours)."""
        kept = self._data.get(path)
        if kept is None or kept[0] != etag or (saved and not kept[2]):
            return None
        self._data.move_to_end(path)
        return kept[1]

    def drop(self, path: str) -> None:
        kept = self._data.pop(path, None)
        if kept:
            self._used -= len(kept[1])

    def forget(self, path: str) -> None:
        path = path.strip("/")
        below = f"{path}/"
        for key in [k for k in self._data if k == path or k.startswith(below)]:
            self.drop(key)
