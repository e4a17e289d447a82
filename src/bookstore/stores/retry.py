"""The one retry policy: which failures deserve another try, and how long to wait first.

Stores turn their client's exceptions into ``bookstore.errors`` in one place; a failure
worth retrying comes out of that place as ``Transient`` (an ``Unavailable`` that knows
the server's ``Retry-After``). ``RetryPolicy.run`` retries exactly those, with capped
exponential backoff and jitter, and gives up with a plain ``Unavailable``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import anyio
from traitlets import Float, Int, Unicode, validate
from traitlets.config import LoggingConfigurable

from ..errors import Unavailable
from .keys import normalize_prefix

T = TypeVar("T")

#: HTTP statuses worth retrying: rate limiting (429, and Swift's ratelimit middleware's
#: 498) and every 5xx except the two that say "this server will never do that"
#: (501 Not Implemented, 505 Version Not Supported).
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 498, *range(500, 600)} - {501, 505})


def is_retryable_status(status: int | None) -> bool:
    return status in RETRYABLE_STATUSES


class Transient(Unavailable):
    """A failure that may pass if retried (connection error, 5xx, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Retry ``retry_on`` failures up to ``max_attempts`` tries in all."""

    max_attempts: int = 5
    base_delay: float = 0.25  # first backoff; doubles each try
    max_delay: float = 8.0  # cap of the exponential backoff
    max_retry_after: float = 30.0  # cap of a server's Retry-After
    retry_on: tuple[type[BaseException], ...] = (Transient,)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # "Equal jitter": at least half the backoff, so retries stay spread out
        # even when many clients failed at the same instant.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str = "request",
        log: logging.Logger | None = None,
    ) -> T:
        """Await ``attempt()`` until it succeeds, fails for good, or tries run out."""
        tries = 0
        while True:
            tries += 1
            try:
                return await attempt()
            except self.retry_on as exc:
                if tries >= self.max_attempts:
                    raise Unavailable(f"{exc} (gave up after {tries} attempts)") from exc
                pause = self.delay(tries, getattr(exc, "retry_after", None))
                if log is not None:
                    log.info("%s failed (%s); retry %d in %.2fs", what, exc, tries, pause)
            await anyio.sleep(pause)


class RemoteStoreSettings(LoggingConfigurable):
    """What every networked store is configured with: where (location + prefix), how
    long to wait, and how to retry. Subclasses name their location trait."""

    #: The trait the store URL's first part fills: "container" (Swift), "bucket" (S3).
    location_trait = "container"

    prefix = Unicode("", help="Key prefix, e.g. 'alice/'; a trailing '/' is added.").tag(
        config=True
    )
    timeout = Float(60.0, help="Seconds to wait for a connection, or for an answer.").tag(
        config=True
    )
    retries = Int(4, help="Retries of a request that failed for a transient reason.").tag(
        config=True
    )
    retry_backoff = Float(0.25, help="Seconds before the first retry; doubles each retry.").tag(
        config=True
    )
    retry_max_backoff = Float(8.0, help="Cap of the retry backoff, seconds.").tag(config=True)
    max_retry_after = Float(30.0, help="Cap of a server's Retry-After, seconds.").tag(config=True)

    @validate("prefix")
    def _valid_prefix(self, proposal: Any) -> str:
        return normalize_prefix(proposal["value"])

    @classmethod
    def from_url(
        cls, location: str, prefix: str = "", *, parent: Any = None, **options: Any
    ) -> Any:
        """``swift://notebooks/alice`` -> container (or bucket) "notebooks", prefix "alice/"."""
        if location:
            options.setdefault(cls.location_trait, location)
        if prefix:
            options.setdefault("prefix", prefix)
        return cls(parent=parent, **options)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retries + 1,
            base_delay=self.retry_backoff,
            max_delay=self.retry_max_backoff,
            max_retry_after=self.max_retry_after,
        )
