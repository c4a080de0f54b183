"""Freshdesk emulation over real loopback HTTP: auth, pages + Link, incremental, writes, merge."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY
from sandbox.server import SandboxServer
from sandbox.world import generate_people

FD_AUTH = (SANDBOX_FRESHDESK_API_KEY, "X")


@pytest.fixture
def fd(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    base = sandbox.base_url("freshdesk") + "/api/v2"
    with httpx.Client(base_url=base, auth=FD_AUTH, timeout=10) as client:
        yield client


def _contacts(sandbox: SandboxServer, n: int, start_ms: int = 1_700_000_000_000) -> None:
    data = sandbox.state.freshdesk
    with sandbox.state.lock, data.contacts.bulk():
        for i in range(n):
            data.create_contact({"email": f"c{i}@corp.io", "name": f"C {i}"}, start_ms + i * 1000)


def test_bad_credentials_are_401_in_freshdesk_shape(
    sandbox: SandboxServer, fd: httpx.Client
) -> None:
    response = httpx.get(sandbox.base_url("freshdesk") + "/api/v2/contacts", auth=("nope", "X"))
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "You have to be logged in to perform this action.",
    }


def test_pages_follow_link_header_until_absent(sandbox: SandboxServer, fd: httpx.Client) -> None:
    _contacts(sandbox, 65)
    seen: list[int] = []
    url: str | None = "/contacts?per_page=30"
    pages = 0
    while url:
        response = fd.get(url)
        assert response.status_code == 200
        assert int(response.headers["x-ratelimit-remaining"]) < int(
            response.headers["x-ratelimit-total"]
        )
        assert response.headers["x-ratelimit-used-currentrequest"] == "1"
        seen.extend(c["id"] for c in response.json())
        link = response.headers.get("link")
        url = link.split(";")[0].strip("<>") if link else None
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 65


def test_per_page_above_100_is_a_validation_error(fd: httpx.Client) -> None:
    response = fd.get("/contacts", params={"per_page": 101})
    assert response.status_code == 400
    body = response.json()
    assert body["description"] == "Validation failed"
    assert body["errors"][0]["field"] == "per_page"
    assert body["errors"][0]["code"] == "invalid_value"


def test_contacts_updated_since_is_inclusive_and_ordered(
    sandbox: SandboxServer, fd: httpx.Client
) -> None:
    _contacts(sandbox, 10)
    response = fd.get("/contacts", params={"_updated_since": "2023-11-14T22:13:25Z"})
    emails = [c["email"] for c in response.json()]
    assert emails == [f"c{i}@corp.io" for i in range(5, 10)]


def test_create_duplicate_email_is_409_and_lookup_by_email(fd: httpx.Client) -> None:
    created = fd.post("/contacts", json={"name": "Jane", "email": "Jane@Acme.io"})
    assert created.status_code == 201
    assert created.json()["email"] == "jane@acme.io"
    dup = fd.post("/contacts", json={"name": "Jane 2", "email": "jane@acme.io"})
    assert dup.status_code == 409
    assert dup.json() == {
        "description": "Validation failed",
        "errors": [
            {"field": "email", "message": "It should be a unique value", "code": "duplicate_value"}
        ],
    }
    found = fd.get("/contacts", params={"email": "JANE@acme.io"}).json()
    assert [c["id"] for c in found] == [created.json()["id"]]
    search = fd.get("/search/contacts", params={"query": "\"email:'jane@acme.io'\""}).json()
    assert search["total"] == 1
    assert search["results"][0]["id"] == created.json()["id"]


def test_contact_needs_an_identity_field_and_rejects_unknown_fields(fd: httpx.Client) -> None:
    missing = fd.post("/contacts", json={"name": "Nobody"})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "missing_field"
    unknown = fd.post("/contacts", json={"name": "X", "email": "x@y.io", "shoe_size": 9})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0] == {
        "field": "shoe_size",
        "message": "Unexpected/invalid field in request",
        "code": "invalid_field",
    }


def test_merge_deletes_secondaries_and_moves_tickets(fd: httpx.Client) -> None:
    primary = fd.post("/contacts", json={"name": "P", "email": "p@corp.io"}).json()
    secondary = fd.post("/contacts", json={"name": "S", "email": "s@home.net"}).json()
    ticket = fd.post(
        "/tickets", json={"subject": "Help", "description": "x", "requester_id": secondary["id"]}
    ).json()
    merged = fd.post(
        "/contacts/merge",
        json={"primary_contact_id": primary["id"], "secondary_contact_ids": [secondary["id"]]},
    )
    assert merged.status_code == 204
    assert fd.get(f"/contacts/{secondary['id']}").status_code == 404
    assert fd.get(f"/tickets/{ticket['id']}").json()["requester_id"] == primary["id"]
    assert "s@home.net" in fd.get(f"/contacts/{primary['id']}").json()["other_emails"]


def test_ticket_from_unknown_email_creates_the_requester(fd: httpx.Client) -> None:
    ticket = fd.post(
        "/tickets",
        json={
            "subject": "Hi",
            "description": "d",
            "email": "new@else.where",
            "priority": 2,
            "status": 2,
        },
    )
    assert ticket.status_code == 201
    requester = fd.get(f"/contacts/{ticket.json()['requester_id']}").json()
    assert requester["email"] == "new@else.where"
    bad = fd.post("/tickets", json={"subject": "Hi", "email": "a@b.io", "status": 9})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


def test_tickets_default_to_last_30_days_and_updated_since_pages(
    sandbox: SandboxServer, fd: httpx.Client
) -> None:
    now = sandbox.state.now_ms()
    data = sandbox.state.freshdesk
    with sandbox.state.lock:
        requester = data.create_contact({"email": "r@corp.io"}, now)
        for i in range(40):
            created = now - (40 - i) * 86_400_000
            data.create_ticket(
                {"subject": f"t{i}", "requester_id": requester["id"]},
                created,
                created_ms=created,
                seeding=True,
            )
    recent = fd.get("/tickets", params={"per_page": 100}).json()
    assert len(recent) == 29  # created within the last 30 days only
    assert recent[0]["subject"] == "t39"  # newest first by default
    since = "1970-01-01T00:00:00Z"
    first = fd.get(
        "/tickets",
        params={
            "updated_since": since,
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": 25,
        },
    )
    assert len(first.json()) == 25
    assert 'rel="next"' in first.headers["link"]
    second = fd.get(first.headers["link"].split(";")[0].strip("<>")).json()
    assert [t["subject"] for t in first.json() + second] == [f"t{i}" for i in range(40)]


def test_bulk_update_applies_to_every_ticket(fd: httpx.Client) -> None:
    ids = [
        fd.post("/tickets", json={"subject": f"s{i}", "email": "b@corp.io"}).json()["id"]
        for i in range(3)
    ]
    job = fd.post(
        "/tickets/bulk_update", json={"bulk_action": {"ids": ids, "properties": {"status": 4}}}
    )
    assert job.status_code == 202
    assert job.json()["job_id"]
    assert {fd.get(f"/tickets/{i}").json()["status"] for i in ids} == {4}


def test_rate_limit_429_with_retry_after(sandbox: SandboxServer, fd: httpx.Client) -> None:
    control(sandbox, "POST", "/rate_limits", {"tool": "freshdesk", "max": 2, "interval_ms": 60_000})
    try:
        assert fd.get("/companies").status_code == 200
        assert fd.get("/companies").status_code == 200
        limited = fd.get("/companies")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["x-ratelimit-remaining"] == "0"
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "freshdesk", "max": 400})


def test_company_name_unique_and_fault_renderer(sandbox: SandboxServer, fd: httpx.Client) -> None:
    assert fd.post("/companies", json={"name": "Acme", "domains": ["acme.io"]}).status_code == 201
    assert fd.post("/companies", json={"name": "ACME"}).status_code == 409
    control(sandbox, "POST", "/faults", {"tool": "freshdesk", "kind": "503", "path": "/companies"})
    faulted = fd.get("/companies")
    assert faulted.status_code == 503
    assert "message" in faulted.json()


def test_seed_render_and_load(sandbox: SandboxServer, fd: httpx.Client) -> None:
    from sandbox.freshdesk import seed as freshdesk_seed

    world = generate_people(400, 3)
    seed = freshdesk_seed.render(world, random.Random(1))
    again = freshdesk_seed.render(world, random.Random(1))
    assert seed.streams == again.streams
    share = len({v for k, v in seed.truth.items() if k.startswith("freshdesk:contacts:")}) / 400
    assert 0.15 < share < 0.35
    strangers = [
        c for c in seed.streams["contacts"] if f"freshdesk:contacts:{c['id']}" not in seed.truth
    ]
    assert strangers, "some requesters exist nowhere else"
    freshdesk_seed.load(sandbox.state, seed)
    listed = fd.get("/contacts", params={"per_page": 100}).json()
    assert len(listed) == min(100, len(seed.streams["contacts"]))
    one = seed.streams["tickets"][0]
    assert fd.get(f"/tickets/{one['id']}").json()["requester_id"] == one["requester_id"]


def test_ticket_stats_come_with_include_stats_and_follow_status_changes(
    fd: httpx.Client,
) -> None:
    asker = fd.post("/contacts", json={"name": "A", "email": "a@corp.io"}).json()
    body = {"subject": "Help", "description": "x", "requester_id": asker["id"], "status": 2}
    ticket = fd.post("/tickets", json=body).json()
    assert "stats" not in fd.get(f"/tickets/{ticket['id']}").json()
    assert fd.get(f"/tickets/{ticket['id']}?include=stats").json()["stats"]["resolved_at"] is None
    resolved = fd.put(f"/tickets/{ticket['id']}", json={"status": 4}).json()
    stats = fd.get(f"/tickets/{ticket['id']}?include=stats").json()["stats"]
    assert stats["resolved_at"] == resolved["updated_at"]
    assert stats["reopened_at"] is None
    fd.put(f"/tickets/{ticket['id']}", json={"status": 2})
    listed = fd.get("/tickets", params={"include": "stats", "updated_since": "2000-01-01"}).json()
    (row,) = [t for t in listed if t["id"] == ticket["id"]]
    assert row["stats"]["resolved_at"] == stats["resolved_at"]  # kept when reopened
    assert row["stats"]["reopened_at"] == row["updated_at"]
