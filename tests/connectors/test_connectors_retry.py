"""The one retry policy, exercised through the real client factory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.http import build_client
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings, retry_after_seconds

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CONN = Connection(
    tool="hubspot",
    base_url="https://api.hubapi.com",
    secrets={"access_token": SecretStr("pat-secret-token")},
)


def _client(handler: httpx.MockTransport, sleeps: list[float], attempts: int = 4) -> httpx.Client:
    settings = RetrySettings(
        max_attempts=attempts,
        base_wait=1.0,
        max_wait=8.0,
        jitter=False,
        sleep=sleeps.append,
        now=lambda: NOW,
    )
    return build_client(
        CONN,
        transport=handler,
        retry=settings,
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )


def _script(*responses: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    calls: list[str] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handle), calls


def test_429_waits_exactly_retry_after_seconds() -> None:
    transport, calls = _script(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"errorType": "RATE_LIMIT"}),
        httpx.Response(200, json={"ok": True}),
    )
    sleeps: list[float] = []
    response = _client(transport, sleeps).get("/crm/v3/objects/contacts")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert sleeps == [7.0]
    assert len(calls) == 2


def test_retry_after_http_date_is_converted_to_seconds() -> None:
    when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    transport, _calls = _script(
        httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json={})
    )
    sleeps: list[float] = []
    assert _client(transport, sleeps).get("/x").status_code == 200
    assert sleeps == [30.0]


def test_5xx_is_retried_with_capped_exponential_backoff_then_succeeds() -> None:
    transport, calls = _script(
        httpx.Response(500), httpx.Response(502), httpx.Response(504), httpx.Response(200, json={})
    )
    sleeps: list[float] = []
    assert _client(transport, sleeps, attempts=5).get("/x").status_code == 200
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(calls) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_not_retried(status: int) -> None:
    transport, calls = _script(httpx.Response(status, json={"message": "no"}))
    sleeps: list[float] = []
    assert _client(transport, sleeps).post("/x", json={}).status_code == status
    assert calls == ["/x"]
    assert sleeps == []


def test_timeouts_and_connection_errors_are_retried() -> None:
    transport, calls = _script(
        httpx.ConnectTimeout("slow"), httpx.ReadError("reset"), httpx.Response(200, json={})
    )
    sleeps: list[float] = []
    assert _client(transport, sleeps).get("/x").status_code == 200
    assert len(calls) == 3


def test_gives_up_after_max_attempts_and_returns_last_response() -> None:
    transport, calls = _script(httpx.Response(503, json={"message": "down"}))
    sleeps: list[float] = []
    response = _client(transport, sleeps, attempts=3).get("/x")
    assert response.status_code == 503
    assert len(calls) == 3
    assert len(sleeps) == 2


def test_gives_up_on_exceptions_by_reraising_the_last_one() -> None:
    transport, calls = _script(httpx.ConnectError("refused"))
    with pytest.raises(httpx.ConnectError):
        _client(transport, [], attempts=2).get("/x")
    assert len(calls) == 2


def test_max_wait_caps_backoff_but_not_retry_after_below_its_own_cap() -> None:
    transport, _ = _script(
        httpx.Response(500),
        httpx.Response(500),
        httpx.Response(500),
        httpx.Response(500),
        httpx.Response(429, headers={"Retry-After": "60"}),
        httpx.Response(200),
    )
    sleeps: list[float] = []
    assert _client(transport, sleeps, attempts=6).get("/x").status_code == 200
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 60.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12.0), ("0", 0.0), ("1.5", 1.5), ("nonsense", None), ("-3", 0.0)],
)
def test_retry_after_parsing(value: str, expected: float | None) -> None:
    assert retry_after_seconds({"Retry-After": value}) == expected


def test_retry_after_in_the_past_means_no_wait() -> None:
    past = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds({"retry-after": past}, now=lambda: NOW) == 0.0
    assert retry_after_seconds({}) is None
