"""The header-driven limiter: throttle before the limit, honour Retry-After, cap connections."""

from __future__ import annotations

import threading

import httpx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.ratelimit import RateLimiter, RateLimitHeaders, RateLimitPolicy
from connectors.retry import RetrySettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _hubspot_headers(remaining: int, interval_ms: int = 10_000) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }


def _limiter(clock: FakeClock, policy: RateLimitPolicy | None = None) -> RateLimiter:
    return RateLimiter(policy or provider_for("hubspot").rate_limit, clock=clock, sleep=clock.sleep)


def test_no_pause_while_plenty_remain() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for remaining in (189, 150, 100, 3):
        limiter.acquire()
        limiter.observe(200, _hubspot_headers(remaining))
        limiter.release()
        clock.now += 0.1
    limiter.acquire()
    assert clock.sleeps == []


def test_pauses_until_the_window_rolls_when_few_remain() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.observe(200, _hubspot_headers(189))  # window starts at t=1000
    clock.now += 4.0
    limiter.observe(200, _hubspot_headers(2))  # at t=1004 only two calls left
    limiter.acquire()
    assert clock.sleeps == [6.0]  # until t=1010, the end of the 10 s window
    limiter.release()
    # the next window is fresh: no pause
    limiter.observe(200, _hubspot_headers(189))
    limiter.acquire()
    assert clock.sleeps == [6.0]


def test_interval_header_is_read_not_assumed() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.observe(200, _hubspot_headers(1, interval_ms=1000))
    limiter.acquire()
    assert clock.sleeps == [1.0]


def test_reset_seconds_header_style() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(
        headers=RateLimitHeaders(
            remaining="X-RateLimit-Remaining", reset_seconds="X-RateLimit-Reset"
        ),
        min_remaining=0,
    )
    limiter = _limiter(clock, policy)
    limiter.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "17"})
    limiter.acquire()
    assert clock.sleeps == [17.0]


def test_reset_at_header_style_waits_until_the_window_ends() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(
        headers=RateLimitHeaders(remaining="X-RateLimit-Remaining", reset_at="X-RateLimit-Reset"),
        min_remaining=2,
        default_interval=10.0,
    )
    limiter = RateLimiter(policy, clock=clock, sleep=clock.sleep, wall=lambda: 1_700_000_000.0)
    limiter.observe(200, {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1700000004"})
    limiter.acquire()
    # a reset far in the future (clock skew) waits one window at most; one past, not at all
    limiter.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000000"})
    limiter.acquire()
    limiter.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1600000000"})
    limiter.acquire()
    assert clock.sleeps == [4.0, 10.0]


def test_retry_after_on_429_blocks_every_caller() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, RateLimitPolicy())
    limiter.observe(429, {"Retry-After": "5"})
    clock.now += 2
    limiter.acquire()
    assert clock.sleeps == [3.0]


def test_concurrency_cap_blocks_the_extra_connection() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_concurrency=2))
    limiter.acquire()
    limiter.acquire()
    entered = threading.Event()

    def third() -> None:
        limiter.acquire()
        entered.set()
        limiter.release()

    worker = threading.Thread(target=third)
    worker.start()
    assert not entered.wait(0.2)  # the third connection waits for a slot
    limiter.release()
    assert entered.wait(5)
    worker.join(5)
    limiter.release()


def test_mailchimp_caps_connections_at_ten() -> None:
    assert provider_for("mailchimp").rate_limit.max_concurrency == 10
    assert provider_for("mailchimp").rate_limit.headers is None


def test_client_feeds_response_headers_to_the_limiter() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    responses = iter([_hubspot_headers(189), _hubspot_headers(1), _hubspot_headers(189)])

    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += 1.0
        return httpx.Response(200, headers=next(responses), json={})

    conn = Connection(
        tool="hubspot", base_url="https://api.hubapi.com", secrets={"access_token": SecretStr("t")}
    )
    client = build_client(
        conn, transport=httpx.MockTransport(handle), retry=RetrySettings.no_wait(), limiter=limiter
    )
    client.get("/a")
    client.get("/b")
    assert clock.sleeps == []
    # window seen starting at t=1001 (first answer); the second answer (t=1002) said only one
    # call is left, so the third request waits until t=1011.
    client.get("/c")
    assert clock.sleeps == [9.0]
