"""The one retry policy for every vendor call (tenacity).

Built once and wrapped around the transport by :mod:`connectors.http`, never sprinkled as
decorators over call sites. Retries 408, 429, 5xx, timeouts and connection errors; waits the
vendor's ``Retry-After`` (seconds or HTTP-date) when given, else a capped, jittered exponential
backoff; stops after ``max_attempts`` tries or ``max_total_delay`` seconds of waiting. When it
gives up it hands back the last response (so the caller classifies it) or re-raises the last
transport exception.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import tenacity

__all__ = [
    "RETRY_STATUSES",
    "RetrySettings",
    "build_retrying",
    "is_retryable_exception",
    "pause",
    "retry_after_seconds",
    "sleeper",
]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _utcnow() -> datetime:
    return datetime.now(UTC)


sleeper: Callable[[float], None] = time.sleep
"""The process-wide wait behind the default policy: tests swap it for a recorder."""


def pause(seconds: float) -> None:
    """Wait through ``sleeper``: the retry policy's and the rate limiter's one seam."""
    sleeper(seconds)


@dataclass(frozen=True)
class RetrySettings:
    """Knobs of the policy; tests pass ``sleep`` to record waits instead of sleeping."""

    max_attempts: int = 6
    base_wait: float = 0.5
    max_wait: float = 30.0
    max_total_delay: float = 300.0
    max_retry_after: float = 120.0
    jitter: bool = True
    sleep: Callable[[float], None] = pause
    now: Callable[[], datetime] = field(default=_utcnow)

    @classmethod
    def no_wait(
        cls, max_attempts: int = 4, sleep: Callable[[float], None] | None = None
    ) -> RetrySettings:
        """Settings for tests: same decisions, zero backoff, and an optional recording sleep."""
        return cls(
            max_attempts=max_attempts,
            base_wait=0.0,
            max_wait=0.0,
            jitter=False,
            sleep=sleep or (lambda _seconds: None),
        )


def retry_after_seconds(
    headers: Mapping[str, str], now: Callable[[], datetime] = _utcnow
) -> float | None:
    """Seconds asked for by ``Retry-After`` (delta-seconds or HTTP-date); None if absent/invalid."""
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def is_retryable_exception(exc: BaseException) -> bool:
    """Timeouts and broken connections are worth another try; protocol misuse is not."""
    return isinstance(
        exc,
        httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError,
    )


def _should_retry(state: tenacity.RetryCallState) -> bool:
    outcome = state.outcome
    if outcome is None:
        return False
    if outcome.failed:
        exc = outcome.exception()
        return exc is not None and is_retryable_exception(exc)
    response = outcome.result()
    return isinstance(response, httpx.Response) and response.status_code in RETRY_STATUSES


def _make_wait(settings: RetrySettings) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if isinstance(response, httpx.Response):
                asked = retry_after_seconds(response.headers, settings.now)
                if asked is not None:
                    return min(asked, settings.max_retry_after)
        exponential = settings.base_wait * (2 ** max(0, state.attempt_number - 1))
        capped = min(settings.max_wait, exponential)
        return random.uniform(capped / 2, capped) if settings.jitter else capped

    return wait


def _give_up(state: tenacity.RetryCallState) -> object:
    """Return the last response, or re-raise the last exception, once retries are spent."""
    assert state.outcome is not None
    return state.outcome.result()


def build_retrying(settings: RetrySettings | None = None) -> tenacity.Retrying:
    """The policy as a ``tenacity.Retrying``; call it with the function that sends one request."""
    settings = settings or RetrySettings()
    return tenacity.Retrying(
        retry=_should_retry,
        wait=_make_wait(settings),
        stop=tenacity.stop_after_attempt(settings.max_attempts)
        | tenacity.stop_after_delay(settings.max_total_delay),
        sleep=settings.sleep,
        reraise=True,
        retry_error_callback=_give_up,
    )
