"""The fault switchboard: every kind, matching by tool/method/path, count and clearing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import HS_AUTH, MC_AUTH, control, fresh

from sandbox.credentials import SANDBOX_MAILCHIMP_LIST_ID
from sandbox.faults import Fault, FaultBoard
from sandbox.server import SandboxServer

CONTACTS = "/crm/v3/objects/contacts"
MEMBERS = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members"


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH, timeout=10) as c:
        yield c
    control(sandbox, "DELETE", "/faults")


@pytest.fixture
def mc(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("mailchimp"), auth=MC_AUTH, timeout=10) as c:
        yield c
    control(sandbox, "DELETE", "/faults")


def _arm(sandbox: SandboxServer, **fault: object) -> None:
    control(sandbox, "POST", "/faults", fault)


def test_429_with_retry_after_fires_count_times(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(
        sandbox, tool="hubspot", kind="429", path="/contacts$", method="GET", count=2, retry_after=3
    )
    assert hs.post(CONTACTS, json={"properties": {"email": "a@x.io"}}).status_code == 201
    for _ in range(2):
        limited = hs.get(CONTACTS)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
        assert limited.json()["errorType"] == "RATE_LIMIT"
    assert hs.get(CONTACTS).status_code == 200
    assert control(sandbox, "GET", "/faults") == []


def test_429_without_retry_after(mc: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="mailchimp", kind="429")
    limited = mc.get(MEMBERS)
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert limited.json()["title"] == "Too Many Requests"


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_use_vendor_bodies(
    hs: httpx.Client, mc: httpx.Client, sandbox: SandboxServer, kind: str
) -> None:
    _arm(sandbox, tool="hubspot", kind=kind)
    _arm(sandbox, tool="mailchimp", kind=kind)
    hubspot_error = hs.get(CONTACTS)
    mailchimp_error = mc.get(MEMBERS)
    assert hubspot_error.status_code == mailchimp_error.status_code == int(kind)
    assert hubspot_error.json()["status"] == "error"
    assert mailchimp_error.json()["status"] == int(kind)
    assert mailchimp_error.headers["content-type"].startswith("application/problem+json")


def test_fault_is_scoped_to_tool_and_method(
    hs: httpx.Client, mc: httpx.Client, sandbox: SandboxServer
) -> None:
    _arm(sandbox, tool="hubspot", kind="500", method="POST", count=None)
    assert hs.get(CONTACTS).status_code == 200
    assert mc.get(MEMBERS).status_code == 200
    assert hs.post(f"{CONTACTS}/search", json={}).status_code == 500
    assert hs.post(f"{CONTACTS}/search", json={}).status_code == 500  # count None: sticky
    control(sandbox, "DELETE", "/faults")
    assert hs.post(f"{CONTACTS}/search", json={}).status_code == 200


def test_slow_then_normal(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="hubspot", kind="slow", delay=0.2)
    response = hs.get(CONTACTS)
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.2


def test_timeout_holds_longer_than_client_timeout(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    _arm(sandbox, tool="hubspot", kind="timeout", delay=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sandbox.base_url("hubspot") + CONTACTS, headers=HS_AUTH, timeout=0.3)
    control(sandbox, "DELETE", "/faults")


def test_reset_drops_connection(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    _arm(sandbox, tool="mailchimp", kind="reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(sandbox.base_url("mailchimp") + MEMBERS, auth=MC_AUTH, timeout=5)
    assert httpx.get(sandbox.base_url("mailchimp") + MEMBERS, auth=MC_AUTH).status_code == 200


def test_malformed_json_is_truncated(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="hubspot", kind="malformed_json")
    response = hs.get(CONTACTS)
    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|delimiter"):
        response.json()
    assert hs.get(CONTACTS).json() == {"results": []}


def test_partial_batch_hubspot(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="hubspot", kind="partial_batch", path="/batch/upsert", every=2)
    inputs = [{"id": f"p{i}@x.io", "idProperty": "email", "properties": {}} for i in range(4)]
    response = hs.post(f"{CONTACTS}/batch/upsert", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 2
    assert sorted(r["properties"]["email"] for r in body["results"]) == ["p0@x.io", "p2@x.io"]


def test_partial_batch_mailchimp(mc: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="mailchimp", kind="partial_batch", every=3)
    members = [{"email_address": f"m{i}@corp.io", "status": "subscribed"} for i in range(6)]
    body = mc.post(f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}", json={"members": members}).json()
    assert body["error_count"] == 2
    assert body["total_created"] == 4
    assert {e["email_address"] for e in body["errors"]} == {"m2@corp.io", "m5@corp.io"}


def test_faults_are_logged_with_status(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool="hubspot", kind="503")
    hs.get(CONTACTS, params={"limit": 5})
    log = control(sandbox, "GET", "/requests?tool=hubspot")
    assert log[-1]["status"] == 503
    assert log[-1]["query"] == "limit=5"


def test_unknown_fault_kind_rejected(sandbox: SandboxServer) -> None:
    response = httpx.post(
        f"{sandbox.url}/_sandbox/faults", json={"tool": "hubspot", "kind": "fire"}
    )
    assert response.status_code == 400
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(tool="hubspot", kind="fire")


def test_board_first_match_wins_and_is_consumed() -> None:
    board = FaultBoard()
    board.add(Fault(tool="x", kind="500", path="^/a"))
    board.add(Fault(tool="x", kind="503"))
    assert board.take("y", "GET", "/a") is None
    first = board.take("x", "GET", "/a/b")
    assert first is not None
    assert first.kind == "500"
    second = board.take("x", "GET", "/a/b")
    assert second is not None
    assert second.kind == "503"
    assert board.take("x", "GET", "/a/b") is None
