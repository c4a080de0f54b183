"""Client-side rate limiting driven by the vendor's own signals.

Vendors differ in kind: some count requests in a rolling window and say in headers how many are
left and how long the window is; others send no headers at all and cap simultaneous
connections. Each tool declares its facts as a
:class:`RateLimitPolicy`; one :class:`RateLimiter` per client reads the headers after every
response, pauses *before* the limit is hit (when few calls remain, it waits for the window to
roll) and honours ``Retry-After`` for every caller sharing the client.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from connectors.retry import pause, retry_after_seconds

__all__ = ["RateLimitHeaders", "RateLimitPolicy", "RateLimiter", "remaining_from_usage"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitHeaders:
    """Names of the headers a vendor uses; None where it has no such header.

    ``used_of_limit`` names a header that reports both counts in one value, ``used/limit``,
    optionally after a label (``api-usage=25/15000``): the calls left are ``limit - used``.
    ``reset_seconds`` says how many seconds the window has left; ``reset_at`` when it ends, as
    a UNIX time in seconds.
    """

    limit: str | None = None
    remaining: str | None = None
    interval_ms: str | None = None
    reset_seconds: str | None = None
    reset_at: str | None = None
    used_of_limit: str | None = None


@dataclass(frozen=True)
class RateLimitPolicy:
    """A tool's rate-limit facts, as data.

    ``min_remaining``: pause once the window has this many calls or fewer left.
    ``default_interval``: window length in seconds when the vendor does not say.
    """

    headers: RateLimitHeaders | None = None
    max_concurrency: int | None = None
    min_remaining: int = 2
    default_interval: float = 10.0


class RateLimiter:
    """Gate every request: :meth:`acquire` before it, :meth:`observe` and :meth:`release` after."""

    def __init__(
        self,
        policy: RateLimitPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = pause,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = (
            threading.BoundedSemaphore(policy.max_concurrency) if policy.max_concurrency else None
        )
        self._blocked_until = 0.0
        self._window_start: float | None = None
        self._last_remaining: int | None = None

    def acquire(self) -> None:
        """Take a connection slot and wait out any pause the vendor's signals asked for."""
        if self._slots is not None:
            self._slots.acquire()
        with self._lock:
            delay = self._blocked_until - self._clock()
        if delay > 0:
            logger.info("rate limiter pausing %.2fs before the next request", delay)
            self._sleep(delay)

    def release(self) -> None:
        """Give the connection slot back."""
        if self._slots is not None:
            self._slots.release()

    def observe(self, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from one response: Retry-After on 429/503, else the remaining-calls headers."""
        now = self._clock()
        with self._lock:
            if status_code in (429, 503):
                asked = retry_after_seconds(headers)
                if asked is not None:
                    self._block(now + asked)
            names = self.policy.headers
            if names is None:
                return
            remaining = _int_header(headers, names.remaining)
            if remaining is None:
                remaining = remaining_from_usage(headers.get(names.used_of_limit or ""))
            if remaining is None:
                return
            if self._last_remaining is None or remaining > self._last_remaining:
                self._window_start = now  # a fresh window began at (or before) this response
            self._last_remaining = remaining
            if remaining > self.policy.min_remaining:
                return
            reset = _float_header(headers, names.reset_seconds)
            if reset is not None:
                self._block(now + reset)
                return
            reset_at = _float_header(headers, names.reset_at)
            if reset_at is not None:
                # Clocks differ: never wait longer than one window for a reset time.
                left = min(max(reset_at - self._wall(), 0.0), self.policy.default_interval)
                self._block(now + left)
                self._last_remaining = None
                return
            interval_ms = _float_header(headers, names.interval_ms)
            interval = (
                interval_ms / 1000 if interval_ms is not None else self.policy.default_interval
            )
            start = self._window_start if self._window_start is not None else now
            self._block(start + interval)
            # the next response after the pause belongs to a new window
            self._last_remaining = None

    def _block(self, until: float) -> None:
        self._blocked_until = max(self._blocked_until, until)


_USED_OF_LIMIT = re.compile(r"(\d+)\s*/\s*(\d+)")


def remaining_from_usage(value: str | None) -> int | None:
    """Calls left from a ``used/limit`` value (``api-usage=25/15000`` -> 14975); None when the
    value holds no such pair. Several comma-separated pairs: the first one counts."""
    if not value:
        return None
    match = _USED_OF_LIMIT.search(value)
    if match is None:
        return None
    used, limit = int(match[1]), int(match[2])
    return max(limit - used, 0)


def _int_header(headers: Mapping[str, str], name: str | None) -> int | None:
    value = _float_header(headers, name)
    return int(value) if value is not None else None


def _float_header(headers: Mapping[str, str], name: str | None) -> float | None:
    if name is None:
        return None
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
