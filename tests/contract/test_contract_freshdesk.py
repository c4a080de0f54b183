"""Freshdesk contract: sandbox exchanges match ``freshdesk.yaml``.

``freshdesk.yaml`` is a THIRD-PARTY RECONSTRUCTION (API Evangelist), not a Freshworks file; it
declares OpenAPI 3.1 but uses 3.0 ``nullable``. Where it departs from the documented API, the
docs win and the spec is corrected in memory (``SPEC_PATCHES``) with the reason.
"""

from __future__ import annotations

import httpx
from openapi_harness import recording_client, require_specs
from session_kit import Exchanges, check_all, control

from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY
from sandbox.server import SandboxServer

SPEC = "freshdesk.yaml"
pytestmark = require_specs(SPEC)


def _session(server: SandboxServer) -> Exchanges:
    exchanges: Exchanges = []
    auth = (SANDBOX_FRESHDESK_API_KEY, "X")
    base = server.base_url("freshdesk") + "/api/v2"
    with recording_client(exchanges, base_url=base, auth=auth, timeout=30) as fd:
        page = fd.get("/contacts", params={"per_page": 30})
        fd.get(page.links["next"]["url"])
        fd.get(
            "/tickets",
            params={
                "updated_since": "2020-01-01T00:00:00Z",
                "order_by": "updated_at",
                "order_type": "asc",
            },
        )
        contact = page.json()[0]
        fd.get(f"/contacts/{contact['id']}")
        fd.get("/companies", params={"per_page": 10})
        created = fd.post("/contacts", json={"name": "Con Tract", "email": "contract@acme.io"})
        fd.post("/contacts", json={"name": "Again", "email": "contract@acme.io"})  # 409
        fd.put(f"/contacts/{created.json()['id']}", json={"job_title": "CTO"})
        fd.get("/search/contacts", params={"query": "\"email:'contract@acme.io'\""})
        control(
            server,
            "POST",
            "/faults",
            {"tool": "freshdesk", "kind": "429", "count": 1, "retry_after": 3},
        )
        fd.get("/contacts")
    with httpx.Client(base_url=base) as bare:
        anonymous = bare.get("/contacts")
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_exchange_matches_the_spec(sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 9, "tools": ["freshdesk"]})
    try:
        exchanges = _session(sandbox)
    finally:
        control(sandbox, "DELETE", "/faults")
    assert {200, 201, 401, 409, 429} <= {r.status_code for _, r in exchanges}
    failures = check_all(SPEC, exchanges, sandbox.base_url("freshdesk") + "/api/v2")
    assert not failures, "\n\n".join(failures)
