"""Aircall contract: sandbox requests match the paths, methods and parameters of ``aircall.yaml``.

``aircall.yaml`` is a THIRD-PARTY, ROUTES-ONLY SKELETON (no schemas; Aircall publishes no
OpenAPI), so only paths, methods and parameters are validated, plus that every answer's status
is one the skeleton declares; response bodies cannot be checked against it. The sandbox also
serves ``POST /contacts/{id}`` (Aircall's documented update) which the skeleton lacks.
"""

from __future__ import annotations

import time

import httpx
from openapi_harness import recording_client, require_specs, validate_request
from session_kit import Exchanges, check_all, control

from sandbox.credentials import SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN
from sandbox.server import SandboxServer

SPEC = "aircall.yaml"
pytestmark = require_specs(SPEC)


def _session(server: SandboxServer) -> Exchanges:
    exchanges: Exchanges = []
    auth = (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)
    with recording_client(exchanges, base_url=server.base_url("aircall") + "/v1", auth=auth) as ac:
        now = int(time.time())
        ac.get("/calls", params={"per_page": 50, "page": 1})
        calls = ac.get("/calls", params={"from": now - 400 * 86_400, "to": now, "order": "asc"})
        ac.get(f"/calls/{calls.json()['calls'][0]['id']}")
        contacts = ac.get("/contacts", params={"per_page": 20, "page": 2}).json()["contacts"]
        ac.get(f"/contacts/{contacts[0]['id']}")
        ac.get("/users")
        ac.get("/numbers")
        created = ac.post(
            "/contacts",
            json={
                "first_name": "Con",
                "last_name": "Tract",
                "phone_numbers": [{"label": "Work", "value": "+14155550100"}],
            },
        )
        ac.put(f"/contacts/{created.json()['contact']['id']}", json={"company_name": "Acme"})
        ac.get("/contacts/999999999")  # 404
    return exchanges


def test_every_sandbox_request_matches_the_routes(sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 6, "tools": ["aircall"]})
    control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "enabled": False})
    try:
        exchanges = _session(sandbox)
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "aircall", "enabled": True})
    assert {200, 201, 404} <= {r.status_code for _, r in exchanges}

    def requests_only(spec: str, request: httpx.Request, _: httpx.Response, **kw: str) -> None:
        validate_request(spec, request, **kw)

    base = sandbox.base_url("aircall") + "/v1"
    failures = check_all(SPEC, exchanges, base, validate=requests_only)
    assert not failures, "\n\n".join(failures)
