"""Brevo v3 sandbox over real loopback HTTP: auth, paging, modifiedSince, upsert, batch, lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import SANDBOX_BREVO_KEY
from sandbox.server import SandboxServer

AUTH = {"api-key": SANDBOX_BREVO_KEY}


@pytest.fixture
def brevo(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    sandbox.state.configure_limit("brevo", max_requests=10_000)
    with sandbox.state.lock:
        sandbox.state.brevo.add_list(2, "Newsletter", sandbox.state.now_ms())
    with httpx.Client(base_url=sandbox.base_url("brevo"), headers=AUTH, timeout=10) as client:
        yield client
    sandbox.state.configure_limit("brevo", max_requests=10)


def _create(client: httpx.Client, email: str, **extra: object) -> int:
    response = client.post("/contacts", json={"email": email, **extra})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_missing_or_bad_key_is_401_key_not_found(sandbox: SandboxServer) -> None:
    base = sandbox.base_url("brevo")
    for headers in ({}, {"api-key": "xkeysib-wrong"}):
        response = httpx.get(f"{base}/contacts", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"code": "unauthorized", "message": "Key not found"}


def test_create_then_duplicate_then_upsert(brevo: httpx.Client) -> None:
    cid = _create(brevo, "Jane.Doe@Acme.io", attributes={"firstname": "Jane"})
    dup = brevo.post("/contacts", json={"email": "jane.doe@acme.io"})
    assert dup.status_code == 400
    assert dup.json()["code"] == "duplicate_parameter"
    upsert = brevo.post(
        "/contacts",
        json={"email": "jane.doe@acme.io", "updateEnabled": True, "attributes": {"LASTNAME": "D"}},
    )
    assert upsert.status_code == 204
    got = brevo.get("/contacts/jane.doe@acme.io").json()
    assert got["id"] == cid
    assert got["email"] == "jane.doe@acme.io"  # Brevo lowercases
    assert got["attributes"] == {"FIRSTNAME": "Jane", "LASTNAME": "D"}
    assert "statistics" in got


def test_identifier_types_and_404(brevo: httpx.Client) -> None:
    cid = _create(brevo, "sms@acme.io", ext_id="crm-1", attributes={"SMS": "+14155550100"})
    for ref, kind in ((str(cid), None), ("crm-1", "ext_id"), ("+14155550100", "phone_id")):
        params = {"identifierType": kind} if kind else {}
        assert brevo.get(f"/contacts/{ref}", params=params).json()["id"] == cid
    missing = brevo.get("/contacts/nobody@acme.io")
    assert missing.status_code == 404
    assert missing.json()["code"] == "document_not_found"
    assert brevo.delete(f"/contacts/{cid}").status_code == 204
    assert brevo.get(f"/contacts/{cid}").status_code == 404


def test_sms_is_unique_and_validated(brevo: httpx.Client) -> None:
    _create(brevo, "a@acme.io", attributes={"SMS": "+4420712345"})
    taken = brevo.post(
        "/contacts", json={"email": "b@acme.io", "attributes": {"SMS": "+4420712345"}}
    )
    assert taken.status_code == 400
    assert taken.json()["code"] == "duplicate_parameter"
    bad = brevo.post("/contacts", json={"email": "c@acme.io", "attributes": {"SMS": "call me"}})
    assert bad.json()["code"] == "invalid_parameter"
    assert brevo.post("/contacts", json={"email": "not-an-email"}).status_code == 400


def test_list_paging_sort_and_limit(brevo: httpx.Client) -> None:
    ids = [_create(brevo, f"p{i}@acme.io") for i in range(5)]
    desc = brevo.get("/contacts", params={"limit": 2, "offset": 0}).json()
    assert desc["count"] == 5
    assert [c["id"] for c in desc["contacts"]] == ids[::-1][:2]
    asc = brevo.get("/contacts", params={"limit": 2, "offset": 2, "sort": "asc"}).json()
    assert [c["id"] for c in asc["contacts"]] == ids[2:4]
    assert brevo.get("/contacts", params={"limit": 1001}).status_code == 400


def test_modified_since_filters_strictly_after(brevo: httpx.Client, sandbox: SandboxServer) -> None:
    first = _create(brevo, "old@acme.io")
    _create(brevo, "other@acme.io")
    modified = brevo.get(f"/contacts/{first}").json()["modifiedAt"]
    assert modified.endswith("+00:00")
    later = brevo.get("/contacts", params={"modifiedSince": modified, "sort": "asc"}).json()
    assert first not in [c["id"] for c in later["contacts"]]
    before = datetime.fromisoformat(modified) - timedelta(seconds=1)
    since = before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    everything = brevo.get("/contacts", params={"modifiedSince": since}).json()
    assert everything["count"] == 2
    assert (
        brevo.put(f"/contacts/{first}", json={"attributes": {"LASTNAME": "X"}}).status_code == 204
    )
    again = brevo.get("/contacts", params={"modifiedSince": modified}).json()
    assert first in [c["id"] for c in again["contacts"]]
    assert brevo.get("/contacts", params={"modifiedSince": "yesterday"}).status_code == 400


def test_batch_is_all_or_nothing(brevo: httpx.Client) -> None:
    a = _create(brevo, "a@acme.io")
    _create(brevo, "b@acme.io")
    bad = brevo.post(
        "/contacts/batch",
        json={
            "contacts": [
                {"email": "a@acme.io", "attributes": {"FIRSTNAME": "A"}},
                {"email": "ghost@acme.io", "attributes": {"FIRSTNAME": "G"}},
            ]
        },
    )
    assert bad.status_code == 400
    assert "contacts[1]" in bad.json()["message"]
    assert brevo.get(f"/contacts/{a}").json()["attributes"] == {}
    ok = brevo.post(
        "/contacts/batch",
        json={"contacts": [{"id": a, "attributes": {"FIRSTNAME": "A"}}, {"email": "b@acme.io"}]},
    )
    assert ok.status_code == 204
    assert brevo.get(f"/contacts/{a}").json()["attributes"] == {"FIRSTNAME": "A"}


def test_list_membership_add_remove_and_cap(brevo: httpx.Client) -> None:
    a = _create(brevo, "a@acme.io")
    added = brevo.post("/contacts/lists/2/contacts/add", json={"emails": ["a@acme.io", "x@y.io"]})
    assert added.status_code == 201
    assert added.json() == {"contacts": {"success": ["a@acme.io"], "failure": ["x@y.io"]}}
    members = brevo.get("/contacts/lists/2/contacts").json()
    assert [c["id"] for c in members["contacts"]] == [a]
    assert brevo.get("/contacts/lists").json()["lists"][0]["uniqueSubscribers"] == 1
    too_many = brevo.post("/contacts/lists/2/contacts/add", json={"ids": list(range(1, 152))})
    assert too_many.status_code == 400
    removed = brevo.post("/contacts/lists/2/contacts/remove", json={"ids": [a]})
    assert removed.json()["contacts"]["success"] == [a]
    assert brevo.get(f"/contacts/{a}").json()["listIds"] == []
    assert brevo.post("/contacts/lists/99/contacts/add", json={"ids": [a]}).status_code == 404


def test_companies_page_and_patch(brevo: httpx.Client) -> None:
    created = brevo.post("/companies", json={"name": "Acme", "attributes": {"domain": "acme.io"}})
    assert created.status_code == 200
    cid = created.json()["id"]
    brevo.post("/companies", json={"name": "Globex"})
    page = brevo.get("/companies", params={"page": 1, "limit": 1, "sort": "asc"}).json()
    assert [c["id"] for c in page["items"]] == [cid]
    patched = brevo.patch(f"/companies/{cid}", json={"attributes": {"industry": "Software"}})
    assert patched.json()["attributes"]["industry"] == "Software"
    assert brevo.get("/companies/ffffffffffffffffffffffff").status_code == 404
    deal = brevo.post("/crm/deals", json={"name": "Renewal", "linkedCompaniesIds": [cid]})
    assert deal.status_code == 201
    assert brevo.get("/crm/deals").json()["items"][0]["linkedCompaniesIds"] == [cid]


def test_rate_limit_headers_and_429(sandbox: SandboxServer, brevo: httpx.Client) -> None:
    sandbox.state.configure_limit("brevo", max_requests=2)
    first = brevo.get("/contacts")
    assert first.headers["x-sib-ratelimit-limit"] == "2"
    assert first.headers["x-sib-ratelimit-remaining"] == "1"
    assert first.headers["x-sib-ratelimit-reset"] == "1"
    brevo.get("/contacts")
    limited = brevo.get("/contacts")
    assert limited.status_code == 429
    assert limited.headers["x-sib-ratelimit-remaining"] == "0"
    assert set(limited.json()) == {"code", "message"}


def test_injected_fault_uses_brevo_error_body(sandbox: SandboxServer, brevo: httpx.Client) -> None:
    control(sandbox, "POST", "/faults", {"tool": "brevo", "kind": "503", "path": "^/contacts$"})
    failed = brevo.get("/contacts")
    assert failed.status_code == 503
    assert set(failed.json()) == {"code", "message"}
    assert brevo.get("/contacts").status_code == 200


def test_an_import_needs_rows_and_lists_and_completes_after_polls(brevo: httpx.Client) -> None:
    empty = brevo.post("/contacts/import", json={"jsonBody": [], "listIds": []})
    assert empty.status_code == 400
    assert empty.json()["code"] == "missing_parameter"
    no_list = brevo.post("/contacts/import", json={"jsonBody": [{"email": "a@b.io"}]})
    assert no_list.json()["code"] == "missing_parameter"
    bad_list = brevo.post(
        "/contacts/import", json={"jsonBody": [{"email": "a@b.io"}], "listIds": [99]}
    )
    assert bad_list.json()["code"] == "invalid_parameter"
    started = brevo.post(
        "/contacts/import",
        json={
            "jsonBody": [{"email": "A@b.io", "attributes": {"SMS": "+33612345678"}}],
            "listIds": [2],
        },
    )
    assert started.status_code == 202
    pid = started.json()["processId"]
    seen = [brevo.get(f"/processes/{pid}").json()["status"] for _ in range(2)]
    assert seen == ["in_process", "completed"]
    got = brevo.get("/contacts/a@b.io").json()
    assert (got["listIds"], got["attributes"]) == ([2], {"SMS": "+33612345678"})


def test_companies_filter_by_attribute_json_and_link_unlink(brevo: httpx.Client) -> None:
    contact = _create(brevo, "x@acme.io")
    made = brevo.post("/companies", json={"name": "Acme", "attributes": {"domain": "acme.io"}})
    brevo.post("/companies", json={"name": "Other", "attributes": {"domain": "other.io"}})
    company = made.json()["id"]
    found = brevo.get("/companies", params={"filters": '{"attributes.domain": "acme.io"}'})
    assert [c["id"] for c in found.json()["items"]] == [company]
    bad = brevo.get("/companies", params={"filters": "acme"})
    assert bad.status_code == 400
    linked = brevo.patch(f"/companies/link-unlink/{company}", json={"linkContactIds": [contact]})
    assert linked.status_code == 204
    assert brevo.get(f"/companies/{company}").json()["linkedContactsIds"] == [contact]
    wrong = brevo.patch(f"/companies/link-unlink/{company}", json={"linkContactIds": ["x"]})
    assert wrong.status_code == 400
    gone = brevo.patch("/companies/link-unlink/ffffffffffffffffffffffff", json={})
    assert gone.status_code == 404
