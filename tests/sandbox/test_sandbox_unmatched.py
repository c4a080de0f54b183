"""Every vendor answers an unknown path and an unknown method on a known path in its own JSON
error shape, over real HTTP, never the router's plain-text "Not Found"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sandbox_testkit import HS_AUTH, MC_AUTH

from sandbox.credentials import (
    SANDBOX_AIRCALL_API_ID,
    SANDBOX_AIRCALL_API_TOKEN,
    SANDBOX_BREVO_KEY,
    SANDBOX_FRESHDESK_API_KEY,
    SANDBOX_INTERCOM_TOKEN,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.server import SandboxServer


@dataclass(frozen=True)
class Vendor:
    """A vendor's base path, credentials, one served path, and its error-body check."""

    name: str
    base: str
    client: dict[str, Any]
    known: str
    shaped: Callable[[Any, int], bool]
    content_type: str = "application/json"


def _hubspot(b: Any, status: int) -> bool:
    return b["status"] == "error" and {"message", "correlationId", "category"} <= b.keys()


def _salesforce(b: Any, status: int) -> bool:
    code = "NOT_FOUND" if status == 404 else "METHOD_NOT_ALLOWED"
    return isinstance(b, list) and b[0]["errorCode"] == code and bool(b[0]["message"])


def _mailchimp(b: Any, status: int) -> bool:
    return b["status"] == status and {"type", "title", "detail", "instance"} <= b.keys()


def _pipedrive(b: Any, status: int) -> bool:
    return b["success"] is False and b["errorCode"] == status and bool(b["error"])


def _code_message(b: Any, status: int) -> bool:
    return set(b) == {"code", "message"} and bool(b["message"])


def _zendesk(b: Any, status: int) -> bool:
    return b["error"] == "InvalidEndpoint" and bool(b["description"])


def _intercom(b: Any, status: int) -> bool:
    return b["type"] == "error.list" and {"code", "message"} <= b["errors"][0].keys()


def _aircall(b: Any, status: int) -> bool:
    return set(b) == {"error", "troubleshoot"}


VENDORS = [
    Vendor("hubspot", "", {"headers": HS_AUTH}, "/crm/v3/objects/contacts", _hubspot),
    Vendor("mailchimp", "", {"auth": MC_AUTH}, "/lists", _mailchimp, "application/problem+json"),
    Vendor(
        "salesforce",
        "/services/data/v62.0",
        {"headers": {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}},
        "/sobjects",
        _salesforce,
    ),
    Vendor(
        "pipedrive",
        "",
        {"headers": {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}},
        "/api/v2/persons",
        _pipedrive,
    ),
    Vendor("brevo", "", {"headers": {"api-key": SANDBOX_BREVO_KEY}}, "/contacts", _code_message),
    Vendor(
        "zendesk",
        "/api/v2",
        {"auth": (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)},
        "/users",
        _zendesk,
    ),
    Vendor(
        "freshdesk",
        "/api/v2",
        {"auth": (SANDBOX_FRESHDESK_API_KEY, "X")},
        "/contacts",
        _code_message,
    ),
    Vendor(
        "intercom",
        "",
        {"headers": {"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}"}},
        "/contacts",
        _intercom,
    ),
    Vendor(
        "aircall",
        "/v1",
        {"auth": (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)},
        "/contacts",
        _aircall,
    ),
]


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
@pytest.mark.parametrize(
    ("method", "where", "status"), [("GET", "unknown", 404), ("PATCH", "known", 405)]
)
def test_unmatched_requests_get_the_vendor_error(
    sandbox: SandboxServer, vendor: Vendor, method: str, where: str, status: int
) -> None:
    path = vendor.known if where == "known" else "/no/such/endpoint"
    with httpx.Client(base_url=sandbox.base_url(vendor.name) + vendor.base, **vendor.client) as c:
        got = c.request(method, path)
    assert got.status_code == status
    assert got.headers["content-type"].startswith(vendor.content_type)
    assert vendor.shaped(got.json(), status), got.text
    if status == 405:
        assert got.headers.get("allow"), "a 405 names the methods the path serves"
