"""Intercom contract: sandbox exchanges match Intercom's official OpenAPI (``intercom.yaml``)."""

from __future__ import annotations

import httpx
from openapi_harness import recording_client, require_specs
from session_kit import Exchanges, check_all, control

from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.server import SandboxServer

SPEC = "intercom.yaml"
pytestmark = require_specs(SPEC)
HEADERS = {
    "Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}",
    "Intercom-Version": "2.16",
    "Accept": "application/json",
}


def _session(server: SandboxServer) -> Exchanges:
    exchanges: Exchanges = []
    with recording_client(exchanges, base_url=server.base_url("intercom"), headers=HEADERS) as ic:
        first = ic.get("/contacts", params={"per_page": 50}).json()
        ic.get(
            "/contacts",
            params={"per_page": 50, "starting_after": first["pages"]["next"]["starting_after"]},
        )
        ic.post(
            "/contacts/search",
            json={
                "query": {"field": "updated_at", "operator": ">", "value": 1_600_000_000},
                "pagination": {"per_page": 20},
            },
        )
        contact = first["data"][0]
        ic.get(f"/contacts/{contact['id']}")
        user = ic.post(
            "/contacts", json={"role": "user", "email": "contract@acme.io", "name": "Con"}
        )
        ic.post("/contacts", json={"role": "user", "email": "contract@acme.io"})  # 409
        ic.put(f"/contacts/{user.json()['id']}", json={"name": "Con Tract"})
        lead = ic.post("/contacts", json={"role": "lead", "name": "Lead"})
        ic.post("/contacts/merge", json={"from": lead.json()["id"], "into": user.json()["id"]})
        ic.post("/companies", json={"company_id": "c-1", "name": "Acme"})
        ic.get("/companies", params={"page": 1, "per_page": 10})
        ic.get("/contacts/000000000000000000000000")  # 404
        ic.get("/admins")
        ic.get("/admins/991267601")
        ic.get("/tags")
        control(server, "POST", "/faults", {"tool": "intercom", "kind": "429", "count": 1})
        ic.get("/contacts")
    with httpx.Client(base_url=server.base_url("intercom")) as bare:
        anonymous = bare.get("/contacts")
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_exchange_matches_the_spec(sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 8, "tools": ["intercom"]})
    try:
        exchanges = _session(sandbox)
    finally:
        control(sandbox, "DELETE", "/faults")
    assert {200, 401, 404, 409, 429} <= {r.status_code for _, r in exchanges}
    failures = check_all(SPEC, exchanges, sandbox.base_url("intercom"))
    assert not failures, "\n\n".join(failures)
