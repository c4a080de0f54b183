"""Injected 429s and 500s speak each vendor's error language, for all nine tools.

A client's error handling parses the vendor's body (HubSpot's ``category``, Salesforce's error
array, Intercom's ``error.list``...), so a fault rendered in the wrong shape would test the
wrong code path. Each case names the request and what that vendor's error body looks like.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import (
    SANDBOX_AIRCALL_API_ID,
    SANDBOX_AIRCALL_API_TOKEN,
    SANDBOX_BREVO_KEY,
    SANDBOX_FRESHDESK_API_KEY,
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_INTERCOM_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.requestlog import TOOL_PREFIXES
from sandbox.server import SandboxServer

Check = Callable[[httpx.Response, int], None]


def _hubspot(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["status"] == "error"
    assert isinstance(body["message"], str)
    assert body["correlationId"]
    if status == 429:
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] in ("TEN_SECONDLY_ROLLING", "DAILY", "SECONDLY")
    else:
        assert body["category"]


def _mailchimp(r: httpx.Response, status: int) -> None:
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)


def _salesforce(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert isinstance(body, list)
    assert set(body[0]) >= {"message", "errorCode"}
    expected = "REQUEST_LIMIT_EXCEEDED" if status == 429 else "UNKNOWN_EXCEPTION"
    assert body[0]["errorCode"] == expected


def _pipedrive(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["errorCode"] == status
    assert body["data"] is None


def _brevo(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == ("internal_error" if status == 500 else "bad_request")


def _zendesk(r: httpx.Response, status: int) -> None:
    body = r.json()
    if status == 429:
        assert body["error"] == "APIRateLimitExceeded"
        assert isinstance(body["description"], str)
    else:
        assert "error" in body


def _freshdesk(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert isinstance(body["message"], str)
    assert body["code"] == ("too_many_requests" if status == 429 else "internal_error")


def _intercom(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["type"] == "error.list"
    assert body["request_id"]
    code = body["errors"][0]["code"]
    assert code == ("rate_limit_exceeded" if status == 429 else "server_error")


def _aircall(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert isinstance(body["error"], str)
    assert isinstance(body["troubleshoot"], str)


# tool -> (path under the tool's base URL, request kwargs, body check)
CASES: dict[str, tuple[str, dict[str, Any], Check]] = {
    "hubspot": (
        "/crm/v3/objects/contacts",
        {"headers": {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}},
        _hubspot,
    ),
    "mailchimp": ("/lists", {"auth": ("x", SANDBOX_MAILCHIMP_KEY)}, _mailchimp),
    "salesforce": (
        "/services/data/v62.0/limits",
        {"headers": {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}},
        _salesforce,
    ),
    "pipedrive": (
        "/api/v2/persons",
        {"headers": {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}},
        _pipedrive,
    ),
    "brevo": ("/contacts", {"headers": {"api-key": SANDBOX_BREVO_KEY}}, _brevo),
    "zendesk": (
        "/api/v2/users",
        {"auth": (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)},
        _zendesk,
    ),
    "freshdesk": ("/api/v2/contacts", {"auth": (SANDBOX_FRESHDESK_API_KEY, "X")}, _freshdesk),
    "intercom": (
        "/contacts",
        {"headers": {"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}"}},
        _intercom,
    ),
    "aircall": (
        "/v1/calls",
        {"auth": (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)},
        _aircall,
    ),
}


def test_every_served_tool_has_a_case() -> None:
    assert set(CASES) == set(TOOL_PREFIXES.values())


@pytest.mark.parametrize("status", [429, 500])
@pytest.mark.parametrize("tool", sorted(CASES))
def test_injected_fault_uses_the_vendor_error_shape(
    sandbox: SandboxServer, tool: str, status: int
) -> None:
    path, kwargs, check = CASES[tool]
    fresh(sandbox)
    url = sandbox.base_url(tool) + path
    assert httpx.get(url, timeout=10, **kwargs).status_code == 200  # the request itself is fine
    fault: dict[str, Any] = {"tool": tool, "kind": str(status), "count": 1}
    if status == 429:
        fault["retry_after"] = 7
    control(sandbox, "POST", "/faults", fault)
    try:
        response = httpx.get(url, timeout=10, **kwargs)
    finally:
        control(sandbox, "DELETE", "/faults")
    assert response.status_code == status
    assert response.headers["content-type"].split(";")[0].endswith("json")
    if status == 429:
        assert response.headers["Retry-After"] == "7"
    check(response, status)
