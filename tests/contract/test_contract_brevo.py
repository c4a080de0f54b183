"""Brevo contract: the sandbox's answers and requests match ``brevo.yaml``.

The spec is Brevo's own OpenAPI 3.0.1 (believed unmodified) held in a third-party repository
(see ``vendor-specs/SOURCES.md``); validated as is unless ``SPEC_PATCHES`` says otherwise.
"""

from __future__ import annotations

import httpx
from openapi_harness import (
    ContractViolation,
    recording_client,
    require_specs,
    validate_exchange,
    validate_response,
)

from sandbox.credentials import SANDBOX_BREVO_KEY
from sandbox.server import SandboxServer

SPEC = "brevo.yaml"
pytestmark = require_specs(SPEC)

Exchanges = list[tuple[httpx.Request, httpx.Response]]


def _control(server: SandboxServer, method: str, path: str, body: object = None) -> None:
    httpx.request(method, f"{server.url}/_sandbox{path}", json=body, timeout=60).raise_for_status()


def _session(server: SandboxServer, bad_requests: set[int]) -> Exchanges:
    """Page, filter, get, create, upsert, batch, lists, CRM, errors; `bad_requests` gets the
    ids of requests that are deliberately invalid (only their answer is validated)."""
    exchanges: Exchanges = []
    headers = {"api-key": SANDBOX_BREVO_KEY, "accept": "application/json"}
    base = server.base_url("brevo")
    with recording_client(exchanges, base_url=base, headers=headers, timeout=30) as bv:
        first = bv.get("/contacts", params={"limit": 50, "offset": 0, "sort": "asc"}).json()
        bv.get("/contacts", params={"limit": 50, "offset": 50, "sort": "asc"})
        bv.get("/contacts", params={"modifiedSince": "2020-01-01T00:00:00.000Z", "limit": 10})
        email = next(c["email"] for c in first["contacts"] if c.get("email"))
        bv.get(f"/contacts/{email}")
        bv.get(f"/contacts/{first['contacts'][0]['id']}")
        bv.get("/contacts/nobody@nowhere.io")  # 404
        bv.post("/contacts", json={"email": "contract@acme.io", "attributes": {"FIRSTNAME": "C"}})
        bv.post("/contacts", json={"email": "contract@acme.io"})  # 400 duplicate_parameter
        bv.post(
            "/contacts",
            json={
                "email": "contract@acme.io",
                "updateEnabled": True,
                "attributes": {"LASTNAME": "T"},
            },
        )  # 204
        bv.put("/contacts/contract@acme.io", json={"attributes": {"FIRSTNAME": "Cee"}})
        bv.post(
            "/contacts/batch",
            json={"contacts": [{"email": "contract@acme.io", "attributes": {"LASTNAME": "B"}}]},
        )
        bv.post("/contacts/batch", json={"contacts": [{"email": "ghost@nowhere.io"}]})  # 400
        lists = bv.get("/contacts/lists", params={"limit": 10}).json()
        list_id = lists["lists"][0]["id"]
        bv.get(f"/contacts/lists/{list_id}/contacts", params={"limit": 20})
        bv.post(
            f"/contacts/lists/{list_id}/contacts/add",
            json={"emails": ["contract@acme.io", "ghost@nowhere.io"]},
        )
        bv.post(f"/contacts/lists/{list_id}/contacts/remove", json={"emails": ["contract@acme.io"]})
        bv.get("/companies", params={"page": 1, "limit": 10})
        company = bv.post("/companies", json={"name": "Contract Co"}).json()
        bv.patch(f"/companies/{company['id']}", json={"name": "Contract Co 2"})
        bv.get(f"/companies/{company['id']}")
        bv.get("/crm/deals", params={"offset": 0, "limit": 10})
        deal = bv.post("/crm/deals", json={"name": "Deal"}).json()
        bv.patch(f"/crm/deals/{deal['id']}", json={"name": "Deal 2"})
        bv.delete("/contacts/contract@acme.io")
        invalid = bv.get("/contacts", params={"limit": 5000})  # 400 out_of_range
        bad_requests.add(id(invalid.request))
        _control(server, "POST", "/faults", {"tool": "brevo", "kind": "429", "count": 1})
        bv.get("/contacts")
    with httpx.Client(base_url=base, timeout=10) as bare:
        anonymous = bare.get("/contacts")  # 401
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_exchange_matches_the_spec(sandbox: SandboxServer) -> None:
    _control(sandbox, "POST", "/reset")
    _control(sandbox, "POST", "/seed", {"people": 300, "seed": 3, "tools": ["brevo"]})
    # 10 requests/s on /contacts*: the session is faster than that (the 429 is injected)
    _control(sandbox, "POST", "/rate_limits", {"tool": "brevo", "enabled": False})
    bad_requests: set[int] = set()
    try:
        exchanges = _session(sandbox, bad_requests)
    finally:
        _control(sandbox, "DELETE", "/faults")
        _control(sandbox, "POST", "/rate_limits", {"tool": "brevo", "enabled": True})
    statuses = {response.status_code for _, response in exchanges}
    assert {200, 201, 204, 400, 401, 404, 429} <= statuses
    failures: list[str] = []
    for request, response in exchanges:
        base = sandbox.base_url("brevo")
        try:
            if id(request) in bad_requests:
                validate_response(SPEC, request, response, server_base=base)
            else:
                validate_exchange(SPEC, request, response, server_base=base)
        except ContractViolation as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)
