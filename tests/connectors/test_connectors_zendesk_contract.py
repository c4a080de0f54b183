"""The Zendesk connector's own traffic against Zendesk's OpenAPI document.

Every request the manifest and the writer send to the sandbox, and every answer they get, is
validated with ``tests/contract/openapi_harness.py`` against
``../shared/vendor-specs/zendesk-support.yaml`` (Zendesk's own OAS from a third-party copy;
its known defects are corrected in memory by the harness's ``SPEC_PATCHES``). The reads run
through the CDK, which does not use httpx: their requests are watched as they leave and sent
again to get the answer checked.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from contract.openapi_harness import (
    ContractViolation,
    require_specs,
    validate_exchange,
    validate_request,
    validate_response,
)
from zendesk_kit import api, connection, fresh_world, read, watch_reads

from connectors import retry
from connectors.http import build_client
from connectors.writer import WriteItem
from connectors.zendesk.writer import ZendeskWriter
from sandbox.server import SandboxServer
from sandbox.world import World

SPEC = "zendesk-support.yaml"
pytestmark = require_specs(SPEC)

Exchanges = list[tuple[httpx.Request, httpx.Response]]


class RecordingTransport(httpx.BaseTransport):
    """Keeps every exchange; answers 403 to bulk user imports when told to (an account
    without them), so the writer's one-by-one fallback is exercised too."""

    def __init__(self, *, refuse_bulk: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: Exchanges = []
        self.refuse_bulk = refuse_bulk

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse_bulk and request.url.path.endswith("/create_or_update_many"):
            return httpx.Response(403, json={"error": "Forbidden"}, request=request)
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def world(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr(retry, "sleeper", lambda _s: None)
    with fresh_world(sandbox, people=300) as seeded:  # small: each record is validated
        yield seeded


def _violations(exchanges: Exchanges, base: str) -> list[str]:
    found = []
    for request, response in exchanges:
        try:
            validate_exchange(SPEC, request, response, server_base=base)
        except ContractViolation as exc:
            found.append(str(exc))
    return found


def test_the_reads_send_and_get_what_the_spec_says(sandbox: SandboxServer, world: World) -> None:
    conn = connection(sandbox)
    with watch_reads() as seen:
        _, users_state = read(conn, "users")
        _, orgs_state = read(conn, "organizations")
        read(conn, "users", users_state)
        read(conn, "organizations", orgs_state)
    assert len(seen) >= 4
    base = sandbox.base_url("zendesk")
    problems = []
    with httpx.Client(timeout=30) as client:
        for sent, status in seen:
            assert status == 200
            request = httpx.Request(
                str(sent.method), str(sent.url), headers=dict(sent.headers), content=sent.body
            )
            try:
                validate_request(SPEC, request, server_base=base)
                response = client.send(request)  # the same question again, for its answer
                assert response.status_code == 200, response.text
                validate_response(SPEC, request, response, server_base=base)
            except ContractViolation as exc:
                problems.append(str(exc))
    assert not problems, "\n\n".join(problems)


def test_the_writer_sends_and_gets_what_the_spec_says(sandbox: SandboxServer, world: World) -> None:
    ends = [u for u in world.seeds["zendesk"].streams["users"] if u["role"] == "end-user"]
    org = world.seeds["zendesk"].streams["organizations"][0]
    transport = RecordingTransport()
    people = [
        WriteItem(
            "contract.new@northwind.example",
            None,
            {
                "name": "Con Tract",
                "external_id": "u-c1",
                "phone": "+14155550100",
                "skip_verify_email": True,
            },
        ),
        WriteItem(ends[0]["email"], str(ends[0]["id"]), {"name": "Renamed Person"}),
        WriteItem("broken-address", None, {"name": "Broken"}),
    ]
    companies = [
        WriteItem(
            "u-org-1",
            None,
            {
                "name": "Contract Corp",
                "domain_names": ["contract.example"],
                "external_id": "u-org-1",
            },
        ),
        WriteItem("u-org-2", str(org["id"]), {"domain_names": ["moved.example"]}),
        WriteItem("u-org-3", "29999999999", {"name": "Gone"}),
    ]
    with build_client(connection(sandbox), transport=transport) as client:
        writer = ZendeskWriter(connection(sandbox), client)
        assert [o.ok for o in writer.upsert("person", people)] == [True, True, False]
        assert [o.ok for o in writer.upsert("company", companies)] == [True, True, False]
        assert writer.find_survivor(ends[1]["email"]) == str(ends[1]["id"])

    paths = {(r.method, r.url.path.removeprefix("/zendesk")) for r, _ in transport.exchanges}
    assert ("POST", "/api/v2/users/create_or_update_many") in paths
    assert ("POST", "/api/v2/organizations/create_or_update") in paths
    assert ("PUT", f"/api/v2/organizations/{org['id']}") in paths
    assert any(m == "GET" and p.startswith("/api/v2/job_statuses/") for m, p in paths)
    problems = _violations(transport.exchanges, sandbox.base_url("zendesk"))
    assert not problems, "\n\n".join(problems)


def test_the_one_by_one_fallback_sends_what_the_spec_says(
    sandbox: SandboxServer, world: World
) -> None:
    transport = RecordingTransport(refuse_bulk=True)
    items = [
        WriteItem("fallback.1@northwind.example", None, {"name": "Fall Back", "external_id": "f1"}),
        WriteItem("broken", None, {"name": "Broken"}),
    ]
    with build_client(connection(sandbox), transport=transport) as client:
        outcomes = ZendeskWriter(connection(sandbox), client).upsert("person", items)
    assert [(o.ok, o.created) for o in outcomes] == [(True, True), (False, False)]
    assert {r.url.path for r, _ in transport.exchanges} == {
        "/zendesk/api/v2/users/create_or_update"
    }
    problems = _violations(transport.exchanges, sandbox.base_url("zendesk"))
    assert not problems, "\n\n".join(problems)
    with api(sandbox) as zd:
        found = zd.get("/users/search", params={"query": "email:fallback.1@northwind.example"})
    assert found.json()["count"] == 1
