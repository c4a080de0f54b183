"""Everything the running sandbox holds, behind one lock.

The server runs on its own thread while tests read and poke the data, so every access to the
vendor data goes through `SandboxState.lock`. Handlers hold it only for in-memory work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.faults import FaultBoard
from sandbox.hubspot_data import HubSpotData
from sandbox.mailchimp_data import MailchimpData
from sandbox.ratelimit import ConcurrencyGate, WindowLimiter
from sandbox.requestlog import RequestLog
from sandbox.timefmt import ms_of

__all__ = ["SandboxState"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxState:
    """The in-memory world: vendor data, faults, rate limits and the request log."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.hubspot = HubSpotData()
        self.mailchimp = MailchimpData()
        self.faults = FaultBoard()
        self.requests = RequestLog()
        self.limits: dict[str, Any] = {
            "hubspot": WindowLimiter(190, 10_000, daily=1_000_000),
            "hubspot-search": WindowLimiter(5, 1_000, daily=1_000_000),
            "mailchimp": ConcurrencyGate(10),
        }
        self.limits["hubspot-search"].enabled = False

    def now_ms(self) -> int:
        return ms_of(self.clock())

    def reset(self) -> None:
        """Empty every store, clear faults, the request log and rate counters."""
        with self.lock:
            self.hubspot.clear()
            self.mailchimp.clear()
        self.faults.clear()
        self.requests.clear()
        for limiter in self.limits.values():
            limiter.reset()

    def configure_limit(
        self,
        tool: str,
        *,
        max_requests: int | None = None,
        interval_ms: int | None = None,
        daily: int | None = None,
        enabled: bool | None = None,
    ) -> dict[str, Any]:
        """Tighten or relax a tool's budget (`hubspot`, `hubspot-search`, `mailchimp`)."""
        limiter = self.limits.get(tool)
        if limiter is None:
            raise KeyError(tool)
        if isinstance(limiter, ConcurrencyGate):
            if max_requests is not None:
                limiter.max = max_requests
            return {"tool": tool, "max_concurrent": limiter.max}
        limiter.configure(max_requests, interval_ms, daily)
        if enabled is not None:
            limiter.enabled = enabled
        return {
            "tool": tool,
            "max": limiter.max,
            "interval_ms": limiter.interval_ms,
            "daily": limiter.daily,
            "enabled": limiter.enabled,
        }
