"""Aircall emulation over real loopback HTTP (no official Python SDK exists to run instead)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import (
    SANDBOX_AIRCALL_API_ID,
    SANDBOX_AIRCALL_API_TOKEN,
    SANDBOX_AIRCALL_OAUTH_TOKEN,
)
from sandbox.server import SandboxServer
from sandbox.world import generate_people

AC_AUTH = (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)


@pytest.fixture
def ac(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("aircall") + "/v1", auth=AC_AUTH, timeout=10) as c:
        yield c


def _contacts(sandbox: SandboxServer, n: int, start_s: int = 1_700_000_000) -> None:
    data = sandbox.state.aircall
    with sandbox.state.lock, data.contacts.bulk():
        for i in range(n):
            body = {
                "first_name": f"F{i}",
                "created_at": start_s + i,
                "phone_numbers": [{"id": i, "label": "Work", "value": f"+1415555{i:04d}"}],
            }
            data.create_contact(body, start_s + i, seeding=True)


def test_basic_and_bearer_auth_and_401_body(sandbox: SandboxServer, ac: httpx.Client) -> None:
    url = sandbox.base_url("aircall") + "/v1/users"
    denied = httpx.get(url, auth=("x", "y"))
    assert denied.status_code == 401
    assert set(denied.json()) == {"error", "troubleshoot"}
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {SANDBOX_AIRCALL_OAUTH_TOKEN}"})
    assert bearer.status_code == 200
    assert int(bearer.headers["x-aircallapi-limit"]) == 60
    assert int(bearer.headers["x-aircallapi-reset"]) > 1_700_000_000


def test_pages_with_meta_links_and_max_50(sandbox: SandboxServer, ac: httpx.Client) -> None:
    _contacts(sandbox, 120)
    first = ac.get("/contacts", params={"per_page": 80}).json()
    meta = first["meta"]
    assert meta["per_page"] == 50
    assert meta["count"] == 50
    assert meta["total"] == 120
    assert meta["previous_page_link"] is None
    assert meta["next_page_link"].startswith("https://api.aircall.io/v1/contacts?")
    seen = [c["id"] for c in first["contacts"]]
    page = 2
    while True:
        body = ac.get("/contacts", params={"per_page": 50, "page": page}).json()
        seen.extend(c["id"] for c in body["contacts"])
        if body["meta"]["next_page_link"] is None:
            break
        page += 1
    assert len(seen) == len(set(seen)) == 120


def test_from_to_and_order(sandbox: SandboxServer, ac: httpx.Client) -> None:
    _contacts(sandbox, 20)
    body = ac.get(
        "/contacts", params={"from": 1_700_000_005, "to": 1_700_000_009, "order": "desc"}
    ).json()
    assert [c["first_name"] for c in body["contacts"]] == ["F9", "F8", "F7", "F6", "F5"]
    assert body["meta"]["total"] == 5


def test_10000_record_cap_says_use_from_to(ac: httpx.Client) -> None:
    response = ac.get("/calls", params={"per_page": 50, "page": 201})
    assert response.status_code == 400
    assert "from and to" in response.json()["troubleshoot"]


def test_contact_create_update_with_post_search_delete(ac: httpx.Client) -> None:
    missing = ac.post("/contacts", json={"first_name": "No phone"})
    assert missing.status_code == 400
    assert "phone_numbers" in missing.json()["troubleshoot"]
    created = ac.post(
        "/contacts",
        json={
            "first_name": "Ann",
            "phone_numbers": [{"label": "Work", "value": "+14155550199"}],
            "emails": [{"label": "Work", "value": "ann@corp.io"}],
        },
    )
    assert created.status_code == 201
    contact = created.json()["contact"]
    updated = ac.post(f"/contacts/{contact['id']}", json={"last_name": "Lee", "phone_numbers": []})
    assert updated.json()["contact"]["last_name"] == "Lee"
    assert updated.json()["contact"]["phone_numbers"][0]["value"] == "+14155550199"
    by_phone = ac.get("/contacts/search", params={"phone_number": "+1 (415) 555-0199"}).json()
    assert [c["id"] for c in by_phone["contacts"]] == [contact["id"]]
    by_email = ac.get("/contacts/search", params={"email": "ANN@corp.io"}).json()
    assert by_email["meta"]["total"] == 1
    assert ac.delete(f"/contacts/{contact['id']}").status_code == 204
    assert ac.get(f"/contacts/{contact['id']}").status_code == 404


def test_rate_limit_429(sandbox: SandboxServer, ac: httpx.Client) -> None:
    control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "max": 1})
    try:
        ac.get("/users")
        limited = ac.get("/users")
        assert limited.status_code == 429
        assert limited.headers["x-aircallapi-remaining"] == "0"
        assert set(limited.json()) == {"error", "troubleshoot"}
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "max": 60})


def test_seeded_calls_have_contact_user_direction(sandbox: SandboxServer, ac: httpx.Client) -> None:
    from sandbox.aircall import seed as aircall_seed

    world = generate_people(500, 9)
    seed = aircall_seed.render(world, random.Random(4))
    assert seed.streams == aircall_seed.render(world, random.Random(4)).streams
    contacts = seed.streams["contacts"]
    assert 0.2 < len(contacts) / 500 < 0.4
    assert any(not c["emails"] for c in contacts), "phone-only contacts exist"
    aircall_seed.load(sandbox.state, seed)
    control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "max": 10_000})
    try:
        calls = []
        page = 1
        while True:
            body = ac.get("/calls", params={"per_page": 50, "page": page}).json()
            calls.extend(body["calls"])
            if not body["meta"]["next_page_link"]:
                break
            page += 1
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "max": 60})
    assert len(calls) == len(seed.streams["calls"])
    assert [c["started_at"] for c in calls] == sorted(c["started_at"] for c in calls)
    assert any(c["contact"] is None for c in calls)
    known = next(c for c in calls if c["contact"] is not None)
    assert known["direction"] in ("inbound", "outbound")
    assert known["number"]["digits"].startswith("+")
    assert ac.get(f"/calls/{known['id']}").json()["call"]["id"] == known["id"]


def test_a_lowered_cap_refuses_the_page_past_it_and_placed_calls_are_listed(
    sandbox: SandboxServer, ac: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sandbox.state.aircall
    monkeypatch.setattr(data, "max_records", 50)
    with sandbox.state.lock:
        placed = [data.place_call(f"+1415555{i:04d}", 1_700_000_000 + i) for i in range(60)]
        withheld = data.place_call("anonymous", 1_700_000_100, user_id=None, duration=5)
    assert ac.get("/calls", params={"per_page": 50, "page": 1}).status_code == 200
    refused = ac.get("/calls", params={"per_page": 50, "page": 2})
    assert refused.status_code == 400
    assert "more than 50 records" in refused.json()["troubleshoot"]
    window = ac.get("/calls", params={"from": 1_700_000_010, "to": 1_700_000_019}).json()
    assert [c["id"] for c in window["calls"]] == [c["id"] for c in placed[10:20]]
    call = ac.get(f"/calls/{withheld['id']}").json()["call"]
    assert call["raw_digits"] == "anonymous"
    assert call["answered_at"] is None
    assert call["missed_call_reason"] == "no_available_agent"


def test_seeded_calls_carry_recordings_voicemails_tags_and_withheld_numbers() -> None:
    from sandbox.aircall import seed as aircall_seed

    calls = aircall_seed.render(generate_people(500, 9), random.Random(4)).streams["calls"]
    assert any(c["recording"] and c["answered_at"] for c in calls)
    assert all(c["answered_at"] is None for c in calls if c["voicemail"])
    assert any(c["voicemail"] for c in calls)
    assert any(c["tags"] for c in calls)
    assert any(c["raw_digits"] == "anonymous" for c in calls)


def test_users_and_numbers_carry_iso_8601_created_at(
    sandbox: SandboxServer, ac: httpx.Client
) -> None:
    """Aircall sends users' and numbers' ``created_at`` as ISO 8601 strings (calls: UNIX s)."""
    from sandbox.aircall import seed as aircall_seed
    from sandbox.timefmt import parse_instant_ms

    aircall_seed.load(sandbox.state, aircall_seed.render(generate_people(40, 3), random.Random(1)))
    for name in ("users", "numbers"):
        rows = ac.get(f"/{name}").json()[name]
        assert rows
        for row in rows:
            assert isinstance(row["created_at"], str)
            assert row["created_at"].endswith("Z")
            assert parse_instant_ms(row["created_at"]) > 0


def test_company_counts_the_seeded_users_and_numbers(
    sandbox: SandboxServer, ac: httpx.Client
) -> None:
    """``GET /v1/company``, the connection check of many Aircall clients."""
    from sandbox.aircall import seed as aircall_seed

    aircall_seed.load(sandbox.state, aircall_seed.render(generate_people(40, 3), random.Random(1)))
    got = ac.get("/company")
    assert got.status_code == 200
    company = got.json()["company"]
    assert company["users_count"] == ac.get("/users").json()["meta"]["total"]
    assert company["numbers_count"] == ac.get("/numbers").json()["meta"]["total"]
    assert company["name"]
