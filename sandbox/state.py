"""Everything the running sandbox holds, behind one lock.

The server runs on its own thread while tests read and poke the data, so every access to the
vendor data goes through `SandboxState.lock`. Handlers hold it only for in-memory work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.aircall.store import AircallData
from sandbox.brevo.store import BrevoData
from sandbox.faults import FaultBoard
from sandbox.freshdesk.store import FreshdeskData
from sandbox.hubspot.store import HubSpotData
from sandbox.intercom.store import IntercomData
from sandbox.mailchimp.store import MailchimpData
from sandbox.pipedrive.store import PipedriveData, TokenLimiter
from sandbox.ratelimit import ConcurrencyGate, WindowLimiter
from sandbox.requestlog import RequestLog
from sandbox.salesforce.store import SalesforceData
from sandbox.timefmt import ms_of
from sandbox.zendesk.store import ZendeskData

__all__ = ["SandboxState", "default_limits"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def default_limits() -> dict[str, Any]:
    """Every vendor's rate limiter as the sandbox starts (and is reset to)."""
    limits: dict[str, Any] = {
        "hubspot": WindowLimiter(190, 10_000, daily=1_000_000),
        "hubspot-search": WindowLimiter(5, 1_000, daily=1_000_000),
        "mailchimp": ConcurrencyGate(10),
        # Salesforce: org-wide rolling 24-hour API allocation (Enterprise, ~100k + per seat).
        "salesforce": WindowLimiter(100_000, 86_400_000, daily=100_000_000),
        # Pipedrive: 80 requests per 2 s burst (api_token, Professional); daily tokens.
        "pipedrive": TokenLimiter(80, 2_000, daily=300_000),
        "brevo": WindowLimiter(10, 1_000, daily=10_000_000),
        "brevo-crm": WindowLimiter(100, 3_600_000, daily=10_000_000),
        "zendesk": WindowLimiter(700, 60_000, daily=100_000_000),  # Enterprise plan
        "zendesk-incremental": WindowLimiter(10, 60_000, daily=100_000_000),
        "freshdesk": WindowLimiter(400, 60_000),  # Pro plan, per minute
        "intercom": WindowLimiter(1666, 10_000),  # 10,000/min per app in 10 s windows
        "aircall": WindowLimiter(60, 60_000),  # help centre says 60/min, API ref 120
    }
    limits["hubspot-search"].enabled = False
    limits["brevo-crm"].enabled = False
    return limits


class SandboxState:
    """The in-memory world: vendor data, faults, rate limits and the request log."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.hubspot = HubSpotData()
        self.mailchimp = MailchimpData()
        self.brevo = BrevoData()
        self.zendesk = ZendeskData()
        self.freshdesk = FreshdeskData()
        self.intercom = IntercomData()
        self.aircall = AircallData()
        self.salesforce = SalesforceData()
        self.pipedrive = PipedriveData()
        self.faults = FaultBoard()
        self.requests = RequestLog()
        self.truth: dict[str, str] = {}  # seeded ground truth (sandbox.world)
        self.limits: dict[str, Any] = default_limits()

    def now_ms(self) -> int:
        return ms_of(self.clock())

    def reset(self) -> None:
        """Empty every store, clear faults, the request log and rate counters."""
        with self.lock:
            self.hubspot.clear()
            self.mailchimp.clear()
            self.salesforce.clear()
            self.pipedrive.clear()
            self.brevo.clear()
            self.zendesk.clear()
            self.freshdesk.clear()
            self.intercom.clear()
            self.aircall.clear()
        self.faults.clear()
        self.requests.clear()
        self.truth.clear()
        self.limits.clear()  # back to the defaults: a test's tightened or lifted limit ends here
        self.limits.update(default_limits())

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
