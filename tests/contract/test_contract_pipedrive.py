"""Pipedrive sandbox responses validated against Pipedrive's own published OpenAPI files."""

from __future__ import annotations

import httpx
from openapi_harness import recording_client, require_specs, validate_exchange

from sandbox.credentials import SANDBOX_PIPEDRIVE_TOKEN
from sandbox.server import SandboxServer

pytestmark = require_specs("pipedrive-v2.yaml", "pipedrive-v1.yaml")


def test_v2_and_v1_exchanges_match_the_specs(sandbox: SandboxServer) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/reset", timeout=10).raise_for_status()
    base = sandbox.base_url("pipedrive")
    exchanges: list[tuple[httpx.Request, httpx.Response]] = []
    headers = {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}
    with recording_client(exchanges, base_url=base, headers=headers) as pd:
        org = pd.post("/api/v2/organizations", json={"name": "Acme"}).json()["data"]
        a = pd.post(
            "/api/v2/persons",
            json={
                "name": "Ann A",
                "org_id": org["id"],
                "emails": [{"value": "a@acme.io", "primary": True, "label": "work"}],
            },
        )
        b = pd.post("/api/v2/persons", json={"name": "Bob B", "org_id": org["id"]})
        pd.get("/api/v2/persons", params={"limit": 1, "sort_by": "update_time"})
        pd.get(f"/api/v2/persons/{a.json()['data']['id']}")
        pd.patch(f"/api/v2/persons/{a.json()['data']['id']}", json={"job_title": "CEO"})
        pd.get(
            "/api/v2/persons/search",
            params={"term": "a@acme.io", "fields": "email", "exact_match": "true"},
        )
        pd.post("/api/v2/deals", json={"title": "Big", "org_id": org["id"]})
        pd.get("/api/v2/deals")
        pd.put(
            f"/v1/persons/{a.json()['data']['id']}/merge",
            json={"merge_with_id": b.json()["data"]["id"]},
        )
    for request, response in exchanges:
        assert response.status_code == 200, response.text
        spec = (
            "pipedrive-v1.yaml"
            if request.url.path.startswith("/pipedrive/v1")
            else "pipedrive-v2.yaml"
        )
        server = base + ("/v1" if spec == "pipedrive-v1.yaml" else "/api/v2")
        validate_exchange(spec, request, response, server_base=server)
