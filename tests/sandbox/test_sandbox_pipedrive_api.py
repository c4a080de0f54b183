"""Pipedrive sandbox over real HTTP: v2 cursors and updated_since, search, v1 merge, budget."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import SANDBOX_PIPEDRIVE_TOKEN
from sandbox.pipedrive.store import PERSON_REVSYNC_FIELD
from sandbox.server import SandboxServer


@pytest.fixture
def pd(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    headers = {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}
    with httpx.Client(base_url=sandbox.base_url("pipedrive"), headers=headers) as client:
        yield client


def _person(pd: httpx.Client, i: int, **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"Jane Doe{i}",
        "emails": [{"value": f"jane{i}@acme.io", "primary": True, "label": "work"}],
        **extra,
    }
    r = pd.post("/api/v2/persons", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _all(pd: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = pd.get(
            "/api/v2/persons", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        body = page.json()
        assert body["success"] is True
        out += body["data"]
        cursor = body["additional_data"].get("next_cursor")
        if cursor is None:
            return out


def test_auth_header_query_param_bearer_and_401(sandbox: SandboxServer, pd: httpx.Client) -> None:
    base = sandbox.base_url("pipedrive") + "/api/v2/persons"
    assert httpx.get(base, params={"api_token": SANDBOX_PIPEDRIVE_TOKEN}).status_code == 200
    from sandbox.credentials import SANDBOX_PIPEDRIVE_OAUTH_TOKEN

    bearer = {"Authorization": f"Bearer {SANDBOX_PIPEDRIVE_OAUTH_TOKEN}"}
    assert httpx.get(base, headers=bearer).status_code == 200
    denied = httpx.get(base, headers={"x-api-token": "nope"})
    assert denied.status_code == 401
    assert denied.json()["success"] is False
    assert denied.json()["data"] is None


def test_create_shapes_and_name_split(pd: httpx.Client) -> None:
    person = _person(pd, 1, phones=[{"value": "+1 415 555 0100"}])
    assert (person["first_name"], person["last_name"]) == ("Jane", "Doe1")
    assert person["phones"] == [{"value": "+1 415 555 0100", "primary": True, "label": "work"}]
    assert person["custom_fields"] == {PERSON_REVSYNC_FIELD: None}
    assert datetime.strptime(person["update_time"] + "+0000", "%Y-%m-%dT%H:%M:%SZ%z")
    got = pd.get(f"/api/v2/persons/{person['id']}").json()
    assert got["success"] is True
    # marketing_status comes back from writes, and from reads only when asked for
    assert got["data"] == {k: v for k, v in person.items() if k != "marketing_status"}
    bad = pd.post("/api/v2/persons", json={"emails": [{"value": "x@y.io"}]})
    assert bad.status_code == 400
    assert bad.json()["success"] is False


def test_cursor_pages_cover_everything_once(pd: httpx.Client) -> None:
    made = [_person(pd, i)["id"] for i in range(25)]
    by_id = _all(pd, {"limit": 7})
    assert [p["id"] for p in by_id] == made
    desc = _all(pd, {"limit": 7, "sort_direction": "desc"})
    assert [p["id"] for p in desc] == made[::-1]
    assert pd.get("/api/v2/persons", params={"limit": 501}).status_code == 400


def test_updated_since_sorted_by_update_time(sandbox: SandboxServer, pd: httpx.Client) -> None:
    made = [_person(pd, i)["id"] for i in range(6)]
    later = datetime.now(UTC) + timedelta(seconds=5)
    # A human edit in the future (the state's clock): only that one is "updated since".
    with sandbox.state.lock:
        entity = sandbox.state.pipedrive.persons
        rec = entity.get(made[2])
        assert rec is not None
        entity.touch(rec, int((later + timedelta(seconds=1)).timestamp() * 1000))
    since = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    got = _all(pd, {"updated_since": since, "sort_by": "update_time", "limit": 2})
    assert [p["id"] for p in got] == [made[2]]
    older = _all(pd, {"updated_until": since, "sort_by": "update_time", "limit": 2})
    assert sorted(p["id"] for p in older) == sorted(set(made) - {made[2]})
    times = [p["update_time"] for p in _all(pd, {"sort_by": "update_time", "limit": 4})]
    assert times == sorted(times)


def test_search_exact_email_v2_shape(pd: httpx.Client) -> None:
    org = pd.post("/api/v2/organizations", json={"name": "Acme"}).json()["data"]
    target = _person(pd, 7, org_id=org["id"])
    _person(pd, 77)
    r = pd.get(
        "/api/v2/persons/search",
        params={"term": "JANE7@acme.io", "fields": "email", "exact_match": "true"},
    )
    items = r.json()["data"]["items"]
    assert [i["item"]["id"] for i in items] == [target["id"]]
    assert items[0]["item"]["emails"] == ["jane7@acme.io"]
    assert items[0]["item"]["organization"]["name"] == "Acme"
    fuzzy = pd.get("/api/v2/persons/search", params={"term": "jane7", "fields": "email"})
    assert {i["item"]["id"] for i in fuzzy.json()["data"]["items"]} == {
        target["id"],
        target["id"] + 1,
    }
    assert pd.get("/api/v2/persons/search", params={"term": "j"}).status_code == 400


def test_v1_merge_keeps_merge_with_id_and_404s_the_other(pd: httpx.Client) -> None:
    away = _person(pd, 1, phones=[{"value": "555"}])
    keep = _person(pd, 2)
    r = pd.put(f"/v1/persons/{away['id']}/merge", json={"merge_with_id": keep["id"]})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["id"] == keep["id"]
    assert data["merge_what_id"] == away["id"]
    assert [e["value"] for e in data["email"]] == ["jane2@acme.io", "jane1@acme.io"]
    assert pd.get(f"/api/v2/persons/{away['id']}").status_code == 404
    merged = pd.get(f"/api/v2/persons/{keep['id']}").json()["data"]
    assert merged["name"] == "Jane Doe2"
    assert merged["phones"][0]["value"] == "555"


def test_patch_custom_field_and_delete(pd: httpx.Client) -> None:
    person = _person(pd, 1)
    r = pd.patch(
        f"/api/v2/persons/{person['id']}", json={"custom_fields": {PERSON_REVSYNC_FIELD: "u-1"}}
    )
    assert r.json()["data"]["custom_fields"][PERSON_REVSYNC_FIELD] == "u-1"
    unknown = pd.patch(f"/api/v2/persons/{person['id']}", json={"custom_fields": {"abc": 1}})
    assert unknown.status_code == 400
    assert pd.delete(f"/api/v2/persons/{person['id']}").json() == {
        "success": True,
        "data": {"id": person["id"]},
    }
    assert pd.get(f"/api/v2/persons/{person['id']}").status_code == 404
    assert _all(pd, {}) == []


def test_deals_and_org_links(pd: httpx.Client) -> None:
    org = pd.post("/api/v2/organizations", json={"name": "Acme"}).json()["data"]
    deal = pd.post("/api/v2/deals", json={"title": "Big", "org_id": org["id"], "value": 1000})
    assert deal.json()["data"]["status"] == "open"
    missing = pd.post("/api/v2/deals", json={"title": "X", "org_id": 999})
    assert missing.status_code == 400


def test_rate_limit_headers_costs_and_429(sandbox: SandboxServer, pd: httpx.Client) -> None:
    first = pd.get("/api/v2/persons")
    left = int(first.headers["x-daily-requests-left"])
    assert first.headers["x-ratelimit-limit"] == "80"
    pd.get("/api/v2/persons/search", params={"term": "ab"})
    after = int(pd.get("/api/v2/persons/1").headers["x-daily-requests-left"])
    assert left - after == 20 + 1  # search costs 20, GET one costs 1
    control(sandbox, "POST", "/rate_limits", {"tool": "pipedrive", "max": 2, "interval_ms": 60_000})
    try:
        pd.get("/api/v2/persons")
        over = pd.get("/api/v2/persons")
        assert over.status_code == 429
        assert over.json()["success"] is False
        assert over.headers["x-ratelimit-remaining"] == "0"
    finally:
        control(
            sandbox, "POST", "/rate_limits", {"tool": "pipedrive", "max": 80, "interval_ms": 2000}
        )


def test_injected_429_has_pipedrive_body(sandbox: SandboxServer, pd: httpx.Client) -> None:
    control(sandbox, "POST", "/faults", {"tool": "pipedrive", "kind": "429", "retry_after": 2})
    r = pd.get("/api/v2/persons")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.json()["success"] is False
    assert r.json()["error"] == "Request over limit"


def test_marketing_status_is_returned_when_asked_and_changes_once(pd: httpx.Client) -> None:
    made = _person(pd, 1)
    assert made["marketing_status"] == "no_consent"  # writes return it
    plain = pd.get(f"/api/v2/persons/{made['id']}").json()["data"]
    assert "marketing_status" not in plain
    asked = pd.get(f"/api/v2/persons/{made['id']}", params={"include_fields": "marketing_status"})
    assert asked.json()["data"]["marketing_status"] == "no_consent"
    listed = _all(pd, {"include_fields": "marketing_status"})
    assert all("marketing_status" in p for p in listed)

    path = f"/api/v2/persons/{made['id']}"
    first = pd.patch(path, json={"marketing_status": "unsubscribed"}).json()["data"]
    assert first["marketing_status"] == "unsubscribed"
    # One change is allowed; a later one leaves the status as it is.
    second = pd.patch(path, json={"marketing_status": "subscribed"}).json()["data"]
    assert second["marketing_status"] == "unsubscribed"
    bad = pd.patch(path, json={"marketing_status": "maybe"})
    assert bad.status_code == 400
