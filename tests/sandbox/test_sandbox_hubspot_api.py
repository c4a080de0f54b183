"""HubSpot emulation edge cases over raw HTTP: caps, maxima, errors, rate limits, merges."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import HS_AUTH, control, fresh

from sandbox.credentials import SANDBOX_HUBSPOT_READONLY_TOKEN
from sandbox.server import SandboxServer

CONTACTS = "/crm/v3/objects/contacts"


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH, timeout=10) as c:
        yield c


def _bulk_contacts(sandbox: SandboxServer, n: int) -> None:
    objects = sandbox.state.hubspot.contacts
    with sandbox.state.lock, objects.store.bulk():
        for i in range(n):
            objects.create({"email": f"c{i}@corp.io"}, 1_700_000_000_000 + i, seeding=True)


def _search(client: httpx.Client, after: int, limit: int = 200) -> httpx.Response:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": limit,
        "after": str(after),
    }
    return client.post(f"{CONTACTS}/search", json=body)


def test_search_pages_up_to_10000_then_400(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _bulk_contacts(sandbox, 10_050)
    near_end = _search(hs, 9_800)
    assert near_end.status_code == 200
    body = near_end.json()
    assert body["total"] == 10_050
    assert body["paging"]["next"]["after"] == "10000"
    beyond = _search(hs, 10_000)
    assert beyond.status_code == 400
    error = beyond.json()
    assert error["category"] == "VALIDATION_ERROR"
    assert error["status"] == "error"
    assert error["correlationId"]


def test_search_window_by_timestamp_gets_the_rest(hs: httpx.Client, sandbox: SandboxServer) -> None:
    _bulk_contacts(sandbox, 300)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GT",
                        "value": str(1_700_000_000_000 + 99),
                    },
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "LTE",
                        "value": "2023-11-14T22:13:20.199Z",
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        "limit": 200,
        "properties": ["email"],
    }
    page = hs.post(f"{CONTACTS}/search", json=body).json()
    assert page["total"] == 100
    assert page["results"][0]["properties"]["email"] == "c199@corp.io"
    assert page["results"][-1]["properties"]["email"] == "c100@corp.io"


def test_search_general_filters_scan(hs: httpx.Client) -> None:
    for email, city in (("a@x.io", "Paris"), ("b@x.io", "Lyon"), ("c@x.io", None)):
        props = {"email": email} | ({"city": city} if city else {})
        assert hs.post(CONTACTS, json={"properties": props}).status_code == 201
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "city", "operator": "IN", "values": ["paris", "LYON"]}]},
            {"filters": [{"propertyName": "city", "operator": "NOT_HAS_PROPERTY"}]},
        ],
        "sorts": [{"propertyName": "email", "direction": "DESCENDING"}],
        "properties": ["email"],
    }
    page = hs.post(f"{CONTACTS}/search", json=body).json()
    assert [r["properties"]["email"] for r in page["results"]] == ["c@x.io", "b@x.io", "a@x.io"]
    assert hs.post(f"{CONTACTS}/search", json={"limit": 201}).status_code == 400


@pytest.mark.parametrize("action", ["create", "update", "upsert", "read"])
def test_batch_max_is_100_inputs(hs: httpx.Client, action: str) -> None:
    inputs = [{"id": f"x{i}@corp.io", "idProperty": "email", "properties": {}} for i in range(101)]
    response = hs.post(f"{CONTACTS}/batch/{action}", json={"inputs": inputs, "properties": []})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    ok = hs.post(f"{CONTACTS}/batch/upsert", json={"inputs": inputs[:100]})
    assert ok.status_code == 200


def test_batch_create_207_counts_invalid_emails(hs: httpx.Client) -> None:
    inputs = [
        {"properties": {"email": "good@corp.io"}, "objectWriteTraceId": "t1"},
        {"properties": {"email": "bad@@corp"}, "objectWriteTraceId": "t2"},
        {"properties": {"email": "also bad"}, "objectWriteTraceId": "t3"},
    ]
    response = hs.post(f"{CONTACTS}/batch/create", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 2
    assert sorted(e["objectWriteTraceId"] for e in body["errors"]) == ["t2", "t3"]
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]


def test_upsert_duplicate_ids_rejected(hs: httpx.Client) -> None:
    inputs: list[dict[str, object]] = [
        {"id": e, "idProperty": "email", "properties": {}} for e in ("a@x.io", "A@x.io")
    ]
    assert hs.post(f"{CONTACTS}/batch/upsert", json={"inputs": inputs}).status_code == 400


def test_unknown_and_readonly_properties_rejected(hs: httpx.Client) -> None:
    unknown = hs.post(CONTACTS, json={"properties": {"email": "u@x.io", "shoe_size": "9"}})
    assert unknown.status_code == 400
    assert "PROPERTY_DOESNT_EXIST" in unknown.json()["message"]
    readonly = hs.post(CONTACTS, json={"properties": {"lastmodifieddate": "0"}})
    assert "READ_ONLY_VALUE" in readonly.json()["message"]
    option = hs.post(CONTACTS, json={"properties": {"lifecyclestage": "royalty"}})
    assert "INVALID_OPTION" in option.json()["message"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="}]
)
def test_auth_failures_are_401(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    response = httpx.get(sandbox.base_url("hubspot") + CONTACTS, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found")
    assert body["correlationId"]


def test_rate_limit_headers_and_429(hs: httpx.Client, sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/rate_limits", {"tool": "hubspot", "max": 3, "interval_ms": 60_000})
    try:
        remaining = []
        for _ in range(3):
            response = hs.get(CONTACTS)
            assert response.status_code == 200
            remaining.append(int(response.headers["X-HubSpot-RateLimit-Remaining"]))
            assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
            assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "60000"
            assert int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0
        assert remaining == [2, 1, 0]
        limited = hs.get(CONTACTS)
        assert limited.status_code == 429
        body = limited.json()
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    finally:
        control(
            sandbox, "POST", "/rate_limits", {"tool": "hubspot", "max": 190, "interval_ms": 10_000}
        )


def test_merge_hides_merged_id(hs: httpx.Client) -> None:
    a = hs.post(CONTACTS, json={"properties": {"email": "a@x.io", "firstname": "Al"}}).json()
    b = hs.post(CONTACTS, json={"properties": {"email": "b@x.io", "phone": "+1 415"}}).json()
    merged = hs.post(
        f"{CONTACTS}/merge", json={"primaryObjectId": a["id"], "objectIdToMerge": b["id"]}
    )
    assert merged.status_code == 200
    assert merged.json()["properties"]["hs_merged_object_ids"] == b["id"]
    assert hs.get(f"{CONTACTS}/{b['id']}").status_code == 404
    primary = hs.get(f"{CONTACTS}/{a['id']}", params={"properties": "phone,firstname"}).json()
    assert primary["properties"]["phone"] == "+1 415"  # blank filled from the merged record
    assert primary["properties"]["firstname"] == "Al"


def test_human_edit_bumps_modification_time(hs: httpx.Client, sandbox: SandboxServer) -> None:
    created = hs.post(CONTACTS, json={"properties": {"email": "h@x.io"}}).json()
    edited = control(
        sandbox, "PATCH", f"/hubspot/contacts/{created['id']}", {"properties": {"firstname": "Hu"}}
    )
    assert edited["properties"]["firstname"] == "Hu"
    assert edited["updatedAt"] >= created["updatedAt"]
    log = control(sandbox, "GET", "/requests?tool=hubspot")
    assert [e["path"] for e in log] == [CONTACTS]  # the edit did not go through the vendor API
    assert log[0]["headers"]["authorization"].startswith("Bearer ")


def test_archive_then_list_archived(hs: httpx.Client) -> None:
    created = hs.post(CONTACTS, json={"properties": {"email": "gone@x.io"}}).json()
    assert hs.delete(f"{CONTACTS}/{created['id']}").status_code == 204
    assert hs.get(f"{CONTACTS}/{created['id']}").status_code == 404
    archived = hs.get(CONTACTS, params={"archived": "true"}).json()
    assert [r["id"] for r in archived["results"]] == [created["id"]]
    assert archived["results"][0]["archived"] is True


def test_a_token_without_write_scopes_reads_but_gets_403_on_writes(
    sandbox: SandboxServer,
) -> None:
    fresh(sandbox)
    headers = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_READONLY_TOKEN}"}
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=headers, timeout=10) as ro:
        assert ro.get(CONTACTS).status_code == 200
        assert _search(ro, 0).status_code == 200
        refused = ro.post(
            f"{CONTACTS}/batch/upsert",
            json={"inputs": [{"id": "a@b.io", "idProperty": "email", "properties": {}}]},
        )
    assert refused.status_code == 403
    body = refused.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    assert {"status", "message", "correlationId"} <= body.keys()
