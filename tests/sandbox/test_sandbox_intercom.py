"""Intercom emulation over real loopback HTTP: version header, cursors, day-granular search."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.server import SandboxServer
from sandbox.world import generate_people

IC_HEADERS = {"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}", "Intercom-Version": "2.16"}
DAY = 86_400


@pytest.fixture
def ic(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("intercom"), headers=IC_HEADERS, timeout=10) as c:
        yield c


def _bulk(sandbox: SandboxServer, n: int, start_s: int, step_s: int) -> None:
    data = sandbox.state.intercom
    with sandbox.state.lock, data.contacts.bulk():
        for i in range(n):
            t = start_s + i * step_s
            data.create_contact({"role": "user", "email": f"u{i}@corp.io"}, t, created_s=t)


def test_auth_and_version_errors(sandbox: SandboxServer, ic: httpx.Client) -> None:
    url = sandbox.base_url("intercom") + "/contacts"
    unauth = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert unauth.status_code == 401
    body = unauth.json()
    assert body["type"] == "error.list"
    assert body["request_id"]
    assert body["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
    bad = ic.get("/contacts", headers={"Intercom-Version": "9.9"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "error.list"
    ok = ic.get("/contacts", headers={"Intercom-Version": "2.11"})
    assert ok.headers["intercom-version"] == "2.11"
    assert int(ok.headers["x-ratelimit-reset"]) > 1_700_000_000
    assert int(ok.headers["x-ratelimit-remaining"]) < int(ok.headers["x-ratelimit-limit"])


def test_list_cursor_walks_every_contact_once(sandbox: SandboxServer, ic: httpx.Client) -> None:
    _bulk(sandbox, 320, 1_700_000_000, 60)
    seen: list[str] = []
    params: dict[str, Any] = {"per_page": 150}
    while True:
        page = ic.get("/contacts", params=params).json()
        assert page["type"] == "list"
        assert page["total_count"] == 320
        seen.extend(c["id"] for c in page["data"])
        nxt = (page.get("pages") or {}).get("next")
        if not nxt:
            break
        params = {"per_page": 150, "starting_after": nxt["starting_after"]}
    assert len(seen) == len(set(seen)) == 320
    assert ic.get("/contacts", params={"per_page": 151}).status_code == 400


def test_search_updated_at_is_matched_by_calendar_day(
    sandbox: SandboxServer, ic: httpx.Client
) -> None:
    day0 = 1_699_920_000  # 2023-11-14T00:00:00Z
    _bulk(sandbox, 4, day0 + 3600, DAY // 2)  # 01:00, 13:00 day0; 01:00, 13:00 day1
    body = {
        "query": {"field": "updated_at", "operator": ">", "value": day0 + 7200},
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    found = ic.post("/contacts/search", json=body).json()
    # `>` on a date field starts at the next day: the 13:00 contact of day0 is not returned.
    assert [c["email"] for c in found["data"]] == ["u2@corp.io", "u3@corp.io"]
    nested = {
        "query": {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": "=", "value": day0},
                {"field": "email", "operator": "=", "value": "U1@corp.io"},
            ],
        },
    }
    assert [c["email"] for c in ic.post("/contacts/search", json=nested).json()["data"]] == [
        "u1@corp.io"
    ]
    bad = ic.post(
        "/contacts/search", json={"query": {"field": "updated_at", "operator": ">=", "value": day0}}
    )
    assert bad.status_code == 400
    assert bad.json()["type"] == "error.list"


def test_search_pages_with_cursor(sandbox: SandboxServer, ic: httpx.Client) -> None:
    _bulk(sandbox, 120, 1_700_000_000, 100)
    query = {"field": "updated_at", "operator": ">", "value": 0}
    body: dict[str, Any] = {
        "query": query,
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": 50},
    }
    got: list[int] = []
    while True:
        page = ic.post("/contacts/search", json=body).json()
        got.extend(c["updated_at"] for c in page["data"])
        nxt = page["pages"].get("next")
        if not nxt:
            break
        body["pagination"] = {"per_page": 50, "starting_after": nxt["starting_after"]}
    assert len(got) == 120
    assert got == sorted(got)


def test_duplicate_user_409_and_lead_merge(ic: httpx.Client) -> None:
    user = ic.post(
        "/contacts", json={"role": "user", "email": "a@corp.io", "external_id": "x1"}
    ).json()
    dup = ic.post("/contacts", json={"role": "user", "email": "A@corp.io"})
    assert dup.status_code == 409
    assert dup.json()["errors"][0]["code"] == "conflict"
    lead = ic.post(
        "/contacts", json={"role": "lead", "phone": "+14155550100", "name": "Anon"}
    ).json()
    assert lead["email"] == ""
    assert lead["role"] == "lead"
    merged = ic.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merged.status_code == 200
    assert merged.json()["phone"] == "+14155550100"
    # The spec (2.16, "Merged contacts return 410 Gone"): GET of the merged-away id is a 410
    # naming the survivor in Link; writes to it find no contact.
    gone = ic.get(f"/contacts/{lead['id']}")
    assert gone.status_code == 410
    assert gone.json()["errors"][0]["code"] == "contact_merged"
    assert gone.headers["Link"] == f'</contacts/{user["id"]}>; rel="canonical"'
    assert ic.put(f"/contacts/{lead['id']}", json={"name": "x"}).status_code == 404
    assert ic.get("/contacts/find_by_external_id/x1").json()["id"] == user["id"]
    wrong = ic.post("/contacts/merge", json={"from": user["id"], "into": user["id"]})
    assert wrong.status_code == 400


def test_companies_upsert_by_company_id_and_listed_once_attached(ic: httpx.Client) -> None:
    first = ic.post("/companies", json={"company_id": "acct-1", "name": "Acme"}).json()
    again = ic.post("/companies", json={"company_id": "acct-1", "name": "Acme Inc"}).json()
    assert first["id"] == again["id"]
    assert again["name"] == "Acme Inc"
    assert ic.get("/companies").json()["data"] == []  # no user attached yet: not listed
    user = ic.post("/contacts", json={"role": "user", "email": "b@acme.io"}).json()
    assert ic.post(f"/contacts/{user['id']}/companies", json={"id": first["id"]}).status_code == 200
    listed = ic.post("/companies/list").json()
    assert [c["company_id"] for c in listed["data"]] == ["acct-1"]
    scroll = ic.get("/companies/scroll").json()
    assert len(scroll["data"]) == 1
    end = ic.get("/companies/scroll", params={"scroll_param": scroll["scroll_param"]}).json()
    assert end["data"] == []


def test_rate_limit_429(sandbox: SandboxServer, ic: httpx.Client) -> None:
    control(sandbox, "POST", "/rate_limits", {"tool": "intercom", "max": 1, "interval_ms": 10_000})
    try:
        ic.get("/contacts")
        limited = ic.get("/contacts")
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["code"] == "rate_limit_exceeded"
        assert limited.headers["x-ratelimit-remaining"] == "0"
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "intercom", "max": 1666})


def test_seed_has_users_with_external_ids_and_leads_without_email(
    sandbox: SandboxServer, ic: httpx.Client
) -> None:
    from sandbox.intercom import seed as intercom_seed

    world = generate_people(600, 5)
    seed = intercom_seed.render(world, random.Random(2))
    rows = seed.streams["contacts"]
    assert 0.15 < len(rows) / 600 < 0.35
    assert any(r["role"] == "lead" and not r.get("email") for r in rows)
    assert all(r.get("external_id") for r in rows if r["role"] == "user")
    intercom_seed.load(sandbox.state, seed)
    page = ic.get("/contacts", params={"per_page": 150}).json()
    assert page["total_count"] == len(rows)
    assert ic.get("/companies", params={"per_page": 60}).json()["total_count"] > 0


def test_users_list_the_leads_merged_into_them_when_asked(ic: httpx.Client) -> None:
    user = ic.post("/contacts", json={"role": "user", "email": "m@corp.io"}).json()
    lead = ic.post("/contacts", json={"role": "lead", "email": "m@corp.io"}).json()
    ic.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]}).raise_for_status()
    query = {"query": {"field": "email", "operator": "=", "value": "m@corp.io"}}
    plain = ic.post("/contacts/search", json=query).json()["data"]
    assert [c["id"] for c in plain] == [user["id"]]
    assert "merge_history" not in plain[0]
    asked = ic.post("/contacts/search", params={"include_merge_history": "true"}, json=query)
    (found,) = asked.json()["data"]
    assert [(h["source_contact_id"], h["source_contact_role"]) for h in found["merge_history"]] == [
        (lead["id"], "lead")
    ]
    one = ic.get(f"/contacts/{user['id']}", params={"include_merge_history": "true"}).json()
    assert one["merge_history"] == found["merge_history"]


def test_a_merged_lead_with_an_external_id_is_gone_from_find_by_external_id(
    ic: httpx.Client,
) -> None:
    user = ic.post("/contacts", json={"role": "user", "email": "n@corp.io"}).json()
    lead = ic.post("/contacts", json={"role": "lead", "external_id": "lead-7"}).json()
    ic.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]}).raise_for_status()
    gone = ic.get("/contacts/find_by_external_id/lead-7")
    assert gone.status_code == 410
    assert user["id"] in gone.headers["Link"]


def test_companies_update_by_intercom_id_keeps_company_id(ic: httpx.Client) -> None:
    made = ic.post("/companies", json={"company_id": "acct-9", "name": "Acme"}).json()
    changed = ic.put(f"/companies/{made['id']}", json={"name": "Acme Inc", "industry": "Tools"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["company_id"]) == ("Acme Inc", "acct-9")
    assert ic.get(f"/companies/{made['id']}").json()["industry"] == "Tools"
    moved = ic.put(f"/companies/{made['id']}", json={"company_id": "acct-10"})
    assert moved.status_code == 400
    assert ic.put("/companies/5ffffffffffffffffffffff0", json={"name": "x"}).status_code == 404


def test_a_contacts_companies_are_paged(ic: httpx.Client) -> None:
    # The spec's page/per_page: past the last page is empty (the SDK's pager stops on it).
    user = ic.post("/contacts", json={"role": "user", "email": "p@corp.io"}).json()
    for n in range(3):
        company = ic.post("/companies", json={"company_id": f"p{n}", "name": f"P{n}"}).json()
        ic.post(f"/contacts/{user['id']}/companies", json={"id": company["id"]})
    pages = [
        ic.get(f"/contacts/{user['id']}/companies", params={"page": p, "per_page": 2}).json()
        for p in (1, 2, 3)
    ]
    assert [len(p["companies"]) for p in pages] == [2, 1, 0]
    assert {p["total_count"] for p in pages} == {3}
    assert pages[0]["pages"]["total_pages"] == 2


def test_a_contact_is_detached_from_a_company(ic: httpx.Client) -> None:
    user = ic.post("/contacts", json={"role": "user", "email": "d@corp.io"}).json()
    company = ic.post("/companies", json={"company_id": "d1", "name": "D"}).json()
    ic.post(f"/contacts/{user['id']}/companies", json={"id": company["id"]}).raise_for_status()
    path = f"/contacts/{user['id']}/companies/{company['id']}"
    assert ic.delete(path).json()["id"] == company["id"]
    assert ic.get(f"/contacts/{user['id']}/companies").json()["companies"] == []
    assert ic.get(f"/companies/{company['id']}").json()["user_count"] == 0
    assert ic.delete(path).status_code == 404


def test_a_lead_merged_into_a_user_hands_over_its_conversations(
    sandbox: SandboxServer, ic: httpx.Client
) -> None:
    from sandbox.intercom import seed as intercom_seed

    world = generate_people(200, 5)
    intercom_seed.load(sandbox.state, intercom_seed.render(world, random.Random(2)))
    convs = ic.get("/conversations", params={"per_page": 150}).json()["conversations"]
    contact = {c["id"]: c for c in ic.get("/contacts", params={"per_page": 150}).json()["data"]}
    lead_conv = next(
        c for c in convs if contact[c["contacts"]["contacts"][0]["id"]]["role"] == "lead"
    )
    lead = lead_conv["contacts"]["contacts"][0]["id"]
    user = ic.post("/contacts", json={"role": "user", "email": "merge.target@corp.io"}).json()
    ic.post("/contacts/merge", json={"from": lead, "into": user["id"]}).raise_for_status()

    moved = ic.get(f"/conversations/{lead_conv['id']}").json()
    assert [c["id"] for c in moved["contacts"]["contacts"]] == [user["id"]]
    assert moved["updated_at"] >= lead_conv["updated_at"]
    query = {"query": {"field": "contact_ids", "operator": "=", "value": user["id"]}}
    found = ic.post("/conversations/search", json=query).json()
    assert lead_conv["id"] in {c["id"] for c in found["conversations"]}
    gone = {"query": {"field": "contact_ids", "operator": "=", "value": lead}}
    assert ic.post("/conversations/search", json=gone).json()["total_count"] == 0


def test_conversation_search_matches_dates_by_day_and_refuses_bad_queries(
    sandbox: SandboxServer, ic: httpx.Client
) -> None:
    from sandbox.intercom import seed as intercom_seed

    world = generate_people(200, 5)
    intercom_seed.load(sandbox.state, intercom_seed.render(world, random.Random(2)))
    convs = ic.get("/conversations", params={"per_page": 150}).json()["conversations"]
    newest = max(c["updated_at"] for c in convs)
    body = {"query": {"field": "updated_at", "operator": ">", "value": newest - 86_400}}
    found = ic.post("/conversations/search", json=body).json()
    day = newest - newest % 86_400
    assert {c["id"] for c in found["conversations"]} == {
        c["id"] for c in convs if c["updated_at"] >= day
    }
    bad = {"query": {"field": "updated_at", "operator": ">=", "value": 1}}
    refused = ic.post("/conversations/search", json=bad)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "parameter_invalid"
    assert ic.get("/conversations/999999").status_code == 404


def test_admins_and_tags_answer_in_intercoms_shapes(ic: httpx.Client) -> None:
    """The workspace metadata clients read first: teammates and the tag list."""
    from sandbox.intercom.seed import ADMINS

    admins = ic.get("/admins").json()
    assert admins["type"] == "admin.list"
    assert [a["id"] for a in admins["admins"]] == [str(a) for a in ADMINS]
    assert ic.get(f"/admins/{ADMINS[0]}").json()["type"] == "admin"
    missing = ic.get("/admins/1")
    assert missing.status_code == 404
    assert missing.json()["type"] == "error.list"
    assert ic.get("/tags").json() == {"type": "list", "data": []}
