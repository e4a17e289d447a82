"""What a sharing backend does, and the small pure pieces every backend shares.

A *share* makes one file readable by anyone holding a link, without Jupyter:

- ``signed``: an expiring link signed with a secret only Bookstore knows (Swift
  TempURL, S3 presigned URL) to a *snapshot* of the file inside the store;
- ``public``: a copy *published* where anonymous reads are allowed but listing is
  not (a public Swift container, a CDN, an S3 bucket or prefix with a read-only policy).

Either way the link shows the file as it was when shared. ``ShareBackend`` is the
storage-specific half (copy, sign, publish, revoke); ``bookstore.sharing.service``
does the rest (ids, snapshots, the index of shares) the same way for every backend.
"""

from __future__ import annotations

import math
import mimetypes
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .. import errors

ShareKind = Literal["signed", "public"]
KINDS: tuple[ShareKind, ...] = ("signed", "public")

#: Content type of a shared notebook: browsers show JSON, they download x-ipynb+json.
NOTEBOOK_LINK_TYPE = "application/json; charset=utf-8"
DEFAULT_VIEWER = "https://nbviewer.org/"


def link_content_type(path: str) -> str:
    """What a shared copy of ``path`` is served as."""
    if path.lower().endswith(".ipynb"):
        return NOTEBOOK_LINK_TYPE
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class SharingNotSupported(errors.InvalidRequest):
    """This store (or this kind of share on it) cannot make links."""


class InvalidShare(errors.InvalidRequest):
    """A share that cannot be made as asked: unknown kind, bad lifetime, a folder."""


@dataclass(frozen=True)
class Share:
    """One share of one file, as recorded in the store and shown to people."""

    id: str
    path: str  # the Jupyter path of the shared file
    kind: ShareKind
    url: str  # the link: works for anyone, no credentials
    viewer_url: str | None  # the same through nbviewer (notebooks only)
    created: datetime
    expires: datetime | None  # None: until unshared
    size: int
    location: str  # where the shared copy is: a store key (signed) or a backend location

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["created"] = self.created.isoformat()
        out["expires"] = self.expires.isoformat() if self.expires else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Share:
        expires = data.get("expires")
        return cls(
            id=data["id"],
            path=data["path"],
            kind=data["kind"],
            url=data["url"],
            viewer_url=data.get("viewer_url"),
            created=datetime.fromisoformat(data["created"]),
            expires=datetime.fromisoformat(expires) if expires else None,
            size=int(data.get("size", 0)),
            location=data["location"],
        )


@runtime_checkable
class ShareBackend(Protocol):
    """The storage-specific half of sharing. Keys are the store's keys."""

    #: Longest signed link the storage accepts (S3: 7 days), or None.
    max_signed_expiry: timedelta | None

    async def snapshot(self, src: str, dst: str, *, expires: datetime | None) -> int:
        """Copy ``src`` to ``dst`` in the store, typed for browsers; returns its size.

        A backend that can may also make ``dst`` vanish by itself at ``expires``.
        """
        ...

    async def sign(self, key: str, expires: datetime) -> str:
        """A URL that GETs ``key`` without credentials until ``expires``."""
        ...

    async def public_link(self, location: str) -> str:
        """The URL the public copy at ``location`` is (or will be) read at."""
        ...

    async def publish(self, src: str, location: str) -> tuple[str, int]:
        """Copy ``src`` to the public ``location`` (``<share-id>/<name>``): (URL, size)."""
        ...

    async def unpublish(self, location: str) -> None:
        """Delete the public copy at ``location``; absent is fine."""
        ...

    async def rotate(self) -> None:
        """Replace the signing secret: every signed link made so far stops working."""
        ...

    async def close(self) -> None: ...


# --- durations ----------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_BAD_DURATION = "bad duration {!r}: use e.g. 30m, 1h, 7d, 1d12h or a number of seconds"
#: The longest lifetime any signed link may have, whatever is configured: a link meant to
#: last longer is a public one (revocable), and beyond this timestamps overflow.
MAX_LIFETIME = timedelta(days=3650)


def parse_duration(value: str | float | timedelta) -> timedelta:
    """``"30m"``, ``"1h"``, ``"7d"``, ``"1d12h"``, ``"2w"`` or seconds -> a timedelta
    from 1 second to ``MAX_LIFETIME``; InvalidShare for anything else."""
    if isinstance(value, timedelta):
        seconds: float = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value  # an int may be too big for a float: compared as it is
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isascii() and text.isdigit():  # isdigit alone takes "²"
            seconds = int(text)
        elif _DURATION.fullmatch(text):
            seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
        else:
            raise InvalidShare(_BAD_DURATION.format(value))
    else:
        raise InvalidShare(_BAD_DURATION.format(value))
    if not (isinstance(seconds, int) or math.isfinite(seconds)):  # NaN, Infinity (JSON)
        raise InvalidShare(_BAD_DURATION.format(value))
    if seconds < 1:  # less is already gone by the time the link is made
        raise InvalidShare(f"a link's lifetime must be 1 second or more, not {value!r}")
    if seconds > MAX_LIFETIME.total_seconds():
        raise InvalidShare(
            f"a link's lifetime is at most {format_duration(MAX_LIFETIME)} (10 years), "
            f"not {value!r}; make a public link for one that lasts until unshared"
        )
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest ``parse_duration`` spelling: 604800 s -> ``"7d"``."""
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


# --- nbviewer -----------------------------------------------------------------------------


def viewer_url(url: str, base: str = DEFAULT_VIEWER) -> str:
    """``url`` as an nbviewer link: ``{base}url/HOST/PATH?QUERY`` (``urls/`` for https).

    nbviewer takes the URL without its scheme and passes the query string on, so a
    signed link stays signed. ``base`` may be a self-hosted nbviewer.
    """
    parts = urlsplit(url)
    route = "urls" if parts.scheme == "https" else "url"
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}/{route}/{parts.netloc}{parts.path}{query}"
