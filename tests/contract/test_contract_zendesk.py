"""Zendesk Support contract: sandbox exchanges match ``zendesk-support.yaml``.

The spec is Zendesk's own OpenAPI document, taken from a third-party copy (see
``vendor-specs/SOURCES.md``); it is YAML 1.1 with unquoted ``=`` scalars, which the harness
loads as plain strings. Documented spec defects are corrected in memory (``SPEC_PATCHES``).
"""

from __future__ import annotations

import time

import httpx
from openapi_harness import recording_client, require_specs
from session_kit import Exchanges, check_all, control

from sandbox.credentials import SANDBOX_ZENDESK_API_TOKEN, SANDBOX_ZENDESK_EMAIL
from sandbox.server import SandboxServer

SPEC = "zendesk-support.yaml"
pytestmark = require_specs(SPEC)
AUTH = (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)


def _session(server: SandboxServer, bad: set[int]) -> Exchanges:
    exchanges: Exchanges = []
    with recording_client(
        exchanges, base_url=server.base_url("zendesk"), auth=AUTH, timeout=30
    ) as zd:
        page = zd.get("/api/v2/users", params={"page[size]": 25}).json()
        zd.get(
            "/api/v2/users", params={"page[size]": 25, "page[after]": page["meta"]["after_cursor"]}
        )
        zd.get("/api/v2/users", params={"page": 2, "per_page": 10})
        start = int(time.time()) - 400 * 86_400
        inc = zd.get(
            "/api/v2/incremental/users/cursor", params={"start_time": start, "per_page": 100}
        )
        zd.get("/api/v2/incremental/users/cursor", params={"cursor": inc.json()["after_cursor"]})
        zd.get("/api/v2/incremental/tickets/cursor", params={"start_time": start, "per_page": 50})
        zd.get("/api/v2/incremental/organizations", params={"start_time": start})
        too_recent = zd.get(
            "/api/v2/incremental/users/cursor", params={"start_time": int(time.time())}
        )
        bad.add(id(too_recent.request))
        users = [u for u in page["users"] if u["role"] == "end-user"]
        zd.get(f"/api/v2/users/{users[0]['id']}")
        zd.get("/api/v2/users/search", params={"query": f"email:{users[0]['email']}"})
        zd.get("/api/v2/users/show_many", params={"ids": f"{users[0]['id']},{users[1]['id']}"})
        zd.get("/api/v2/users/999999999999")  # 404
        created = zd.post(
            "/api/v2/users", json={"user": {"name": "Con Tract", "email": "contract@acme.io"}}
        )
        zd.post("/api/v2/users", json={"user": {"name": "Again", "email": "contract@acme.io"}})
        zd.put(
            f"/api/v2/users/{created.json()['user']['id']}",
            json={"user": {"phone": "+14155550100"}},
        )
        zd.post(
            "/api/v2/users/create_or_update",
            json={"user": {"name": "Upsert", "email": "upsert@acme.io", "external_id": "u-1"}},
        )
        zd.post(
            "/api/v2/users/create_or_update",
            json={"user": {"name": "Upsert 2", "email": "upsert@acme.io"}},
        )
        zd.put(
            f"/api/v2/users/{users[2]['id']}/merge",
            json={"user": {"id": created.json()["user"]["id"]}},
        )
        job = zd.post(
            "/api/v2/users/create_many",
            json={"users": [{"name": "M1", "email": "m1@acme.io"}, {"name": "M2", "email": "bad"}]},
        ).json()["job_status"]
        zd.get(f"/api/v2/job_statuses/{job['id']}")
        zd.get(f"/api/v2/job_statuses/{job['id']}")
        zd.get("/api/v2/organizations", params={"page[size]": 10})
        zd.get("/api/v2/tickets", params={"page[size]": 10})
        zd.post(
            "/api/v2/tickets",
            json={
                "ticket": {
                    "subject": "Help",
                    "comment": {"body": "It broke"},
                    "requester": {"name": "Stranger", "email": "stranger@elsewhere.io"},
                }
            },
        )
        control(
            server,
            "POST",
            "/faults",
            {"tool": "zendesk", "kind": "429", "count": 1, "retry_after": 5},
        )
        zd.get("/api/v2/users")
    with httpx.Client(base_url=server.base_url("zendesk"), timeout=10) as bare:
        anonymous = bare.get("/api/v2/users")
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_exchange_matches_the_spec(sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 4, "tools": ["zendesk"]})
    exclusion = sandbox.state.zendesk.recent_exclusion_s
    sandbox.state.zendesk.recent_exclusion_s = 0
    bad: set[int] = set()
    try:
        exchanges = _session(sandbox, bad)
    finally:
        sandbox.state.zendesk.recent_exclusion_s = exclusion
        control(sandbox, "DELETE", "/faults")
    statuses = {response.status_code for _, response in exchanges}
    assert {200, 201, 400, 401, 404, 422, 429} <= statuses
    failures = check_all(SPEC, exchanges, sandbox.base_url("zendesk"), bad_requests=bad)
    assert not failures, "\n\n".join(failures)
