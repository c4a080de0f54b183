"""Per-tool request budgets: sliding-window counters and a concurrency gate.

Vendors limit in different ways (HubSpot: requests per rolling 10 s per token plus a daily
budget; Mailchimp: simultaneous connections per key). Tools own their headers and 429 bodies;
this module only counts. Clocks are injectable so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["ConcurrencyGate", "LimitDecision", "WindowLimiter"]


@dataclass(frozen=True)
class LimitDecision:
    """Outcome of one counted request, with what the vendor's headers report."""

    allowed: bool
    max: int
    remaining: int
    interval_ms: int
    daily: int
    daily_remaining: int
    policy: str  # "TEN_SECONDLY_ROLLING" | "DAILY" | "" when allowed


def _utc_today() -> date:
    return datetime.now(UTC).date()


class WindowLimiter:
    """Rolling window of `max` requests per `interval_ms`, plus a daily budget, per key."""

    def __init__(
        self,
        max_requests: int,
        interval_ms: int,
        *,
        daily: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = _utc_today,
    ) -> None:
        self.max = max_requests
        self.interval_ms = interval_ms
        self.daily = daily
        self.enabled = True
        self._clock = clock
        self._today = today
        self._hits: dict[str, deque[float]] = {}
        self._daily_used: dict[str, int] = {}
        self._day = today()
        self._lock = threading.Lock()

    def configure(
        self,
        max_requests: int | None = None,
        interval_ms: int | None = None,
        daily: int | None = None,
    ) -> None:
        with self._lock:
            if max_requests is not None:
                self.max = max_requests
            if interval_ms is not None:
                self.interval_ms = interval_ms
            if daily is not None:
                self.daily = daily

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._daily_used.clear()

    window_policy = "TEN_SECONDLY_ROLLING"
    """The policy named when the rolling window, not the daily budget, refuses a request."""

    def hit(self, key: str, cost: int = 1) -> LimitDecision:
        """Count one request for `key` unless over budget; rejected requests are not counted.

        The request takes one place in the window and `cost` units of the daily budget.
        """
        with self._lock:
            today = self._today()
            if today != self._day:
                self._day = today
                self._daily_used.clear()
            now = self._clock()
            window = self._hits.setdefault(key, deque())
            horizon = now - self.interval_ms / 1000.0
            while window and window[0] <= horizon:
                window.popleft()
            used_today = self._daily_used.get(key, 0)
            policy = ""
            if self.enabled and used_today + cost > self.daily:
                policy = "DAILY"
            elif self.enabled and len(window) >= self.max:
                policy = self.window_policy
            if not policy:
                window.append(now)
                used_today += cost
                self._daily_used[key] = used_today
            if not self.enabled:
                # A lifted budget counts nothing: its headers say every call is still left, so
                # a client pacing itself by them never waits.
                window.clear()
                self._daily_used.pop(key, None)
                used_today = 0
            return LimitDecision(
                allowed=not policy,
                max=self.max,
                remaining=max(0, self.max - len(window)),
                interval_ms=self.interval_ms,
                daily=self.daily,
                daily_remaining=max(0, self.daily - used_today),
                policy=policy,
            )


class ConcurrencyGate:
    """At most `max` requests in flight per key (Mailchimp's 10 simultaneous connections)."""

    def __init__(self, max_inflight: int) -> None:
        self.max = max_inflight
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        with self._lock:
            n = self._inflight.get(key, 0)
            if n >= self.max:
                return False
            self._inflight[key] = n + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            n = self._inflight.get(key, 0) - 1
            if n <= 0:
                self._inflight.pop(key, None)
            else:
                self._inflight[key] = n

    def inflight(self, key: str) -> int:
        with self._lock:
            return self._inflight.get(key, 0)

    def reset(self) -> None:
        with self._lock:
            self._inflight.clear()
