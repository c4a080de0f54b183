"""A header reporting ``used/limit`` in one value (``api-usage=25/15000``) drives the limiter
like a remaining-calls header does."""

from __future__ import annotations

import pytest

from connectors.ratelimit import (
    RateLimiter,
    RateLimitHeaders,
    RateLimitPolicy,
    remaining_from_usage,
)


@pytest.mark.parametrize(
    ("value", "remaining"),
    [
        ("api-usage=25/15000", 14975),
        ("25/15000", 14975),
        ("api-usage = 15000 / 15000", 0),
        ("api-usage=15010/15000", 0),  # over the allocation: nothing left, never negative
        ("api-usage=3/100, per-app-api-usage=2/50(appName=x)", 97),
        ("api-usage=unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_remaining_from_a_used_of_limit_value(value: str | None, remaining: int | None) -> None:
    assert remaining_from_usage(value) == remaining


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _policy() -> RateLimitPolicy:
    return RateLimitPolicy(
        headers=RateLimitHeaders(used_of_limit="X-Usage"), min_remaining=10, default_interval=60.0
    )


def test_the_limiter_pauses_when_the_usage_header_leaves_few_calls() -> None:
    clock = _Clock()
    limiter = RateLimiter(_policy(), clock=clock, sleep=clock.sleep)
    limiter.observe(200, {"X-Usage": "api-usage=10/1000"})
    limiter.acquire()
    assert clock.sleeps == []
    clock.now += 5
    limiter.observe(200, {"X-Usage": "api-usage=991/1000"})  # 9 left, fewer than 10
    limiter.acquire()
    assert clock.sleeps == [pytest.approx(55.0)]  # until the window seen at t=50 rolls


def test_a_plain_remaining_header_wins_over_the_usage_header() -> None:
    clock = _Clock()
    policy = RateLimitPolicy(
        headers=RateLimitHeaders(remaining="X-Left", used_of_limit="X-Usage"), min_remaining=10
    )
    limiter = RateLimiter(policy, clock=clock, sleep=clock.sleep)
    limiter.observe(200, {"X-Left": "500", "X-Usage": "999/1000"})
    limiter.acquire()
    assert clock.sleeps == []


def test_a_usage_header_without_a_pair_is_ignored() -> None:
    clock = _Clock()
    limiter = RateLimiter(_policy(), clock=clock, sleep=clock.sleep)
    limiter.observe(200, {"X-Usage": "garbled"})
    limiter.acquire()
    assert clock.sleeps == []
