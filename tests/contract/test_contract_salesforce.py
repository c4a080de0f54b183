"""Salesforce contract: the sandbox's REST answers match the project's hand-written spec.

Salesforce publishes no OpenAPI for the core REST API, so the spec is
``sandbox/specs/salesforce.openapi.yaml``: HAND-WRITTEN for revsync from the REST API Developer
Guide (not a vendor file), covering only the endpoints the sandbox serves and connectors use.
It lives in the project (not in ``../shared``), so this test never skips for a missing folder.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openapi_harness import (
    ContractViolation,
    recording_client,
    require_specs,
    validate_exchange,
    validate_response,
)

from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from sandbox.server import SandboxServer

SPEC = "sandbox/specs/salesforce.openapi.yaml"
API = "/services/data/v62.0"
AUTH = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
pytestmark = require_specs(SPEC)

Exchanges = list[tuple[httpx.Request, httpx.Response]]


def _control(server: SandboxServer, method: str, path: str, body: object = None) -> None:
    httpx.request(method, f"{server.url}/_sandbox{path}", json=body, timeout=60).raise_for_status()


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    _control(sandbox, "POST", "/reset")
    _control(sandbox, "POST", "/seed", {"people": 1500, "seed": 5, "tools": ["salesforce"]})
    yield sandbox
    _control(sandbox, "DELETE", "/faults")


def _server(sandbox: SandboxServer) -> str:
    return sandbox.base_url("salesforce") + API


def _session(server: SandboxServer) -> Exchanges:
    """A connector's day: page a query, queryAll, get, create, upsert, collections, limits."""
    exchanges: Exchanges = []
    with recording_client(exchanges, base_url=_server(server), headers=AUTH, timeout=30) as sf:
        soql = "SELECT Id, Email, Account.Name, SystemModstamp FROM Contact ORDER BY SystemModstamp"
        page = sf.get(
            "/query", params={"q": soql}, headers={"Sforce-Query-Options": "batchSize=200"}
        ).json()
        assert page["done"] is False
        sf.get(page["nextRecordsUrl"].removeprefix(API))
        contact_id = page["records"][0]["Id"]
        sf.delete(f"/sobjects/Contact/{contact_id}")
        sf.get(
            "/queryAll", params={"q": "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true"}
        )
        sf.get(f"/sobjects/Contact/{contact_id}")  # 404 ENTITY_IS_DELETED
        other = page["records"][1]["Id"]
        sf.get(f"/sobjects/Contact/{other}")
        sf.get(f"/sobjects/Contact/{other}", params={"fields": "Id,Email"})
        sf.patch(f"/sobjects/Contact/{other}", json={"Title": "CTO"})
        sf.post("/sobjects/Contact", json={"LastName": "Contract", "Email": "c@acme.io"})
        sf.post("/sobjects/Contact", json={"Email": "no-last-name@acme.io"})  # 400 required
        by_key = "/sobjects/Contact/Revsync_Unified_Id__c/u-contract"
        sf.patch(by_key, json={"LastName": "Up"})  # 201
        sf.patch(by_key, json={"Title": "VP"})  # 200
        sf.get(by_key)
        sf.patch("/sobjects/Contact/Nope__c/x", json={"LastName": "X"})  # 404 not external
        for name in ("A", "B"):
            sf.post("/sobjects/Account", json={"Name": name, "Revsync_Unified_Id__c": "o-dup"})
        sf.patch("/sobjects/Account/Revsync_Unified_Id__c/o-dup", json={"Name": "C"})  # 300
        good = {"attributes": {"type": "Contact"}, "LastName": "Good"}
        bad = {"attributes": {"type": "Contact"}, "Email": "missing-last-name@acme.io"}
        created = sf.post("/composite/sobjects", json={"allOrNone": False, "records": [good, bad]})
        new_id = created.json()[0]["id"]
        sf.post("/composite/sobjects", json={"allOrNone": True, "records": [good, bad]})
        sf.patch(
            "/composite/sobjects",
            json={"records": [{"attributes": {"type": "Contact"}, "id": new_id, "Title": "X"}]},
        )
        sf.get("/composite/sobjects/Contact", params={"ids": new_id, "fields": "Id,LastName"})
        contact = {"attributes": {"type": "Contact"}}
        upserts = [
            {**contact, "Revsync_Unified_Id__c": "u-contract", "Title": "SVP"},
            {**contact, "Revsync_Unified_Id__c": "u-new", "LastName": "New"},
            {**contact, "LastName": "No key"},
        ]
        sf.patch("/composite/sobjects/Contact/Revsync_Unified_Id__c", json={"records": upserts})
        sf.delete("/composite/sobjects", params={"ids": new_id})
        sf.get("/limits")
        sf.get("/query", params={"q": "SELECT Id FROM Nope"})  # 400 INVALID_TYPE
        sf.get("/query/01gdoesnotexist-2000")  # 400 INVALID_QUERY_LOCATOR
        _control(server, "POST", "/faults", {"tool": "salesforce", "kind": "500", "count": 1})
        sf.get("/limits")
    with httpx.Client(base_url=_server(server), timeout=10) as bare:
        anonymous = bare.get("/limits")  # 401 INVALID_SESSION_ID
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_exchange_matches_the_hand_written_spec(seeded: SandboxServer) -> None:
    exchanges = _session(seeded)
    statuses = {response.status_code for _, response in exchanges}
    assert {200, 201, 204, 300, 400, 401, 404, 500} <= statuses
    collection = [r for q, r in exchanges if q.url.path.endswith("/composite/sobjects")]
    assert any(
        not item["success"] and item["errors"][0]["statusCode"]
        for r in collection
        if r.request.method == "POST"
        for item in r.json()
    )
    failures: list[str] = []
    for request, response in exchanges:
        try:
            validate_exchange(SPEC, request, response, server_base=_server(seeded))
        except ContractViolation as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)


def test_the_validator_rejects_a_drifted_record(seeded: SandboxServer) -> None:
    """The check can fail: a collection result whose ``success`` became a string is rejected."""
    response = httpx.Response(
        200,
        json=[{"id": None, "success": "yes", "errors": []}],
        request=httpx.Request("POST", _server(seeded) + "/composite/sobjects"),
    )
    with pytest.raises(ContractViolation, match="success"):
        validate_response(SPEC, response.request, response, server_base=_server(seeded))


def test_the_validator_rejects_a_non_array_error(seeded: SandboxServer) -> None:
    """Salesforce errors are arrays; a HubSpot-style object body is a violation."""
    response = httpx.Response(
        404,
        json={"message": "not found", "errorCode": "NOT_FOUND"},
        request=httpx.Request("GET", _server(seeded) + "/sobjects/Contact/003000000000000AAA"),
    )
    with pytest.raises(ContractViolation):
        validate_response(SPEC, response.request, response, server_base=_server(seeded))
