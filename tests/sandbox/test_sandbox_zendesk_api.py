"""Zendesk sandbox over loopback HTTP: auth, cursors, incremental exports, jobs, merge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import (
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
    SANDBOX_ZENDESK_OAUTH_TOKEN,
)
from sandbox.server import SandboxServer

AUTH = (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)


@pytest.fixture
def zd(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    sandbox.state.configure_limit("zendesk-incremental", max_requests=10_000)
    sandbox.state.zendesk.recent_exclusion_s = 0
    base = sandbox.base_url("zendesk") + "/api/v2"
    with httpx.Client(base_url=base, auth=AUTH, timeout=10) as client:
        yield client
    sandbox.state.zendesk.recent_exclusion_s = 60
    sandbox.state.configure_limit("zendesk-incremental", max_requests=10)


def _user(client: httpx.Client, name: str, email: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/users.json", json={"user": {"name": name, "email": email, **extra}})
    assert response.status_code == 201, response.text
    return response.json()["user"]  # type: ignore[no-any-return]


def test_auth_token_oauth_and_401(sandbox: SandboxServer) -> None:
    base = sandbox.base_url("zendesk") + "/api/v2/users.json"
    assert httpx.get(base, auth=AUTH).status_code == 200
    bearer = {"Authorization": f"Bearer {SANDBOX_ZENDESK_OAUTH_TOKEN}"}
    assert httpx.get(base, headers=bearer).status_code == 200
    for auth in ((SANDBOX_ZENDESK_EMAIL, SANDBOX_ZENDESK_API_TOKEN), ("x/token", "nope")):
        denied = httpx.get(base, auth=auth)
        assert denied.status_code == 401
        assert denied.json() == {"error": "Couldn't authenticate you"}


def test_duplicate_email_is_record_invalid(zd: httpx.Client) -> None:
    _user(zd, "Jane", "Jane@Acme.io")
    dup = zd.post("/users", json={"user": {"name": "J", "email": "jane@acme.io"}})
    assert dup.status_code == 422
    body = dup.json()
    assert body["error"] == "RecordInvalid"
    assert body["details"]["email"][0]["error"] == "DuplicateValue"
    missing = zd.get("/users/99.json")
    assert missing.status_code == 404
    assert missing.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_cursor_pagination_walks_every_user_once(zd: httpx.Client) -> None:
    ids = [_user(zd, f"U{i}", f"u{i}@acme.io")["id"] for i in range(5)]
    seen: list[int] = []
    page = zd.get("/users", params={"page[size]": 2}).json()
    while True:
        seen += [u["id"] for u in page["users"]]
        if not page["meta"]["has_more"]:
            break
        page = zd.get(page["links"]["next"]).json()
    assert seen == ids
    offset = zd.get("/users", params={"per_page": 2, "page": 3}).json()
    assert [u["id"] for u in offset["users"]] == ids[4:]
    assert offset["count"] == 5
    assert zd.get("/users", params={"per_page": 100, "page": 101}).status_code == 400


def test_create_or_update_matches_email_then_external_id(zd: httpx.Client) -> None:
    first = zd.post("/users/create_or_update", json={"user": {"name": "A", "email": "a@acme.io"}})
    assert first.status_code == 201
    uid = first.json()["user"]["id"]
    again = zd.post(
        "/users/create_or_update.json",
        json={"user": {"name": "A2", "email": "A@acme.io", "external_id": "crm-1"}},
    )
    assert again.status_code == 200
    assert again.json()["user"]["id"] == uid
    by_ext = zd.post(
        "/users/create_or_update", json={"user": {"name": "A3", "external_id": "CRM-1"}}
    )
    assert by_ext.json()["user"]["id"] == uid
    assert by_ext.json()["user"]["name"] == "A3"


def test_create_many_is_a_job_that_advances_per_poll(zd: httpx.Client) -> None:
    _user(zd, "Taken", "taken@acme.io")
    users = [{"name": f"N{i}", "email": f"n{i}@acme.io"} for i in range(3)]
    users.append({"name": "T", "email": "taken@acme.io"})
    job = zd.post("/users/create_many.json", json={"users": users}).json()["job_status"]
    assert job["status"] == "queued"
    assert zd.get("/users/search", params={"query": "email:n0@acme.io"}).json()["count"] == 0
    statuses = []
    while job["status"] != "completed":
        job = zd.get(f"/job_statuses/{job['id']}.json").json()["job_status"]
        statuses.append(job["status"])
    assert statuses == ["working", "completed"]
    assert job["total"] == 4
    assert job["progress"] == 4
    results = job["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[3]["success"] is False
    assert results[3]["error"] == "RecordInvalid"
    assert zd.get("/users/search", params={"query": "email:n0@acme.io"}).json()["count"] == 1
    too_many = zd.post("/users/create_many", json={"users": users * 26})
    assert too_many.status_code == 400


def test_merge_moves_identities_and_tickets(zd: httpx.Client) -> None:
    keep = _user(zd, "Jane Doe", "jane@acme.io")
    gone = _user(zd, "Jane", "jane.doe@gmail.com")
    ticket = zd.post(
        "/tickets",
        json={"ticket": {"subject": "Hi", "comment": {"body": "x"}, "requester_id": gone["id"]}},
    ).json()["ticket"]
    merged = zd.put(f"/users/{gone['id']}/merge", json={"user": {"id": keep["id"]}})
    assert merged.status_code == 200
    assert merged.json()["user"]["id"] == keep["id"]
    old = zd.get(f"/users/{gone['id']}").json()["user"]
    assert old["active"] is False
    found = zd.get("/users/search", params={"query": "email:jane.doe@gmail.com"}).json()
    assert [u["id"] for u in found["users"]] == [keep["id"]]
    assert zd.get(f"/tickets/{ticket['id']}").json()["ticket"]["requester_id"] == keep["id"]
    listed = [u["id"] for u in zd.get("/users").json()["users"]]
    assert gone["id"] not in listed
    agent = _user(zd, "Agent", "agent@acme.io", role="agent")
    assert (
        zd.put(f"/users/{agent['id']}/merge", json={"user": {"id": keep["id"]}}).status_code == 403
    )


def test_ticket_with_unknown_requester_email_creates_end_user(zd: httpx.Client) -> None:
    created = zd.post(
        "/tickets",
        json={
            "ticket": {
                "subject": "Help",
                "comment": {"body": "please"},
                "requester": {"email": "stranger@nowhere.net", "name": "Stranger"},
            }
        },
    )
    assert created.status_code == 201
    requester = created.json()["ticket"]["requester_id"]
    assert zd.get(f"/users/{requester}").json()["user"]["email"] == "stranger@nowhere.net"
    blank = zd.post("/tickets", json={"ticket": {"subject": "x", "requester_id": requester}})
    assert blank.status_code == 422


def test_incremental_cursor_export_and_end_of_stream(
    sandbox: SandboxServer, zd: httpx.Client
) -> None:
    ids = [_user(zd, f"U{i}", f"u{i}@acme.io")["id"] for i in range(3)]
    page = zd.get("/incremental/users/cursor.json", params={"start_time": 0, "per_page": 2}).json()
    assert [u["id"] for u in page["users"]] == ids[:2]
    assert page["end_of_stream"] is False
    page = zd.get(page["after_url"]).json()
    assert [u["id"] for u in page["users"]] == ids[2:]
    assert page["end_of_stream"] is True
    zd.put(f"/users/{ids[0]}", json={"user": {"name": "Changed"}})
    resumed = zd.get("/incremental/users/cursor", params={"cursor": page["after_cursor"]}).json()
    assert [u["name"] for u in resumed["users"]] == ["Changed"]
    assert zd.get("/incremental/users/cursor", params={"cursor": "garbage!"}).status_code == 400
    recent = sandbox.state.now_ms() // 1000 - 10
    too_recent = zd.get("/incremental/tickets/cursor", params={"start_time": recent})
    assert too_recent.status_code == 400
    assert "start_time" in too_recent.json()["description"]


def test_a_deleted_ticket_404s_but_stays_in_the_export_as_deleted(zd: httpx.Client) -> None:
    requester = _user(zd, "Asker", "asker@acme.io")
    made = [
        zd.post(
            "/tickets",
            json={
                "ticket": {
                    "subject": f"T{i}",
                    "comment": {"body": "Help"},
                    "requester_id": requester["id"],
                }
            },
        ).json()["ticket"]
        for i in range(2)
    ]
    gone, kept = made[0]["id"], made[1]["id"]
    assert zd.delete(f"/tickets/{gone}").status_code == 204

    assert zd.get(f"/tickets/{gone}").status_code == 404
    assert zd.delete(f"/tickets/{gone}").status_code == 404
    assert [t["id"] for t in zd.get("/tickets").json()["tickets"]] == [kept]
    page = zd.get("/incremental/tickets/cursor", params={"start_time": 0}).json()
    status = {t["id"]: t["status"] for t in page["tickets"]}
    assert status[gone] == "deleted"
    assert status[kept] != "deleted"


def test_incremental_excludes_the_last_minute(sandbox: SandboxServer, zd: httpx.Client) -> None:
    _user(zd, "Fresh", "fresh@acme.io")
    sandbox.state.zendesk.recent_exclusion_s = 60
    page = zd.get("/incremental/users/cursor", params={"start_time": 0}).json()
    assert page["users"] == []
    assert page["end_of_stream"] is True


def test_incremental_organizations_is_time_based(zd: httpx.Client) -> None:
    for name in ("Acme", "Globex"):
        assert zd.post("/organizations", json={"organization": {"name": name}}).status_code == 201
    dup = zd.post("/organizations", json={"organization": {"name": "acme"}})
    assert dup.status_code == 422
    page = zd.get("/incremental/organizations.json", params={"start_time": 0}).json()
    assert [o["name"] for o in page["organizations"]] == ["Acme", "Globex"]
    assert page["end_of_stream"] is True
    assert f"start_time={page['end_time']}" in page["next_page"]


def test_incremental_budget_is_ten_per_minute(sandbox: SandboxServer, zd: httpx.Client) -> None:
    sandbox.state.configure_limit("zendesk-incremental", max_requests=2)
    for _ in range(2):
        ok = zd.get("/incremental/users/cursor", params={"start_time": 0})
        assert ok.status_code == 200
        assert "x-rate-limit" in ok.headers
        assert "ratelimit-remaining" in ok.headers
    limited = zd.get("/incremental/users/cursor", params={"start_time": 0})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"] == "APIRateLimitExceeded"
    assert zd.get("/users").status_code == 200


def test_injected_429_has_retry_after(sandbox: SandboxServer, zd: httpx.Client) -> None:
    control(
        sandbox,
        "POST",
        "/faults",
        {"tool": "zendesk", "kind": "429", "path": "/users", "retry_after": 7},
    )
    limited = zd.get("/users")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["error"] == "APIRateLimitExceeded"


def test_solving_a_ticket_stamps_its_metric_set_sideloaded_by_the_export(
    zd: httpx.Client,
) -> None:
    requester = _user(zd, "Asker", "asker@acme.io")
    body = {
        "ticket": {"subject": "T", "comment": {"body": "Help"}, "requester_id": requester["id"]}
    }
    ticket = zd.post("/tickets", json=body).json()["ticket"]
    assert zd.get(f"/tickets/{ticket['id']}/metrics").json()["ticket_metric"]["solved_at"] is None
    solved = zd.put(f"/tickets/{ticket['id']}", json={"ticket": {"status": "solved"}}).json()
    metric = zd.get(f"/tickets/{ticket['id']}/metrics").json()["ticket_metric"]
    assert metric["ticket_id"] == ticket["id"]
    assert metric["solved_at"] == solved["ticket"]["updated_at"]

    start = {"start_time": 0}
    plain = zd.get("/incremental/tickets/cursor", params=start).json()
    assert "metric_sets" not in plain
    export = zd.get("/incremental/tickets/cursor", params={**start, "include": "metric_sets"})
    sets = export.json()["metric_sets"]
    assert [(m["ticket_id"], m["solved_at"]) for m in sets] == [(ticket["id"], metric["solved_at"])]
