"""Mailchimp contract: the sandbox's responses and our connector's requests match the spec.

The spec, ``mailchimp-marketing.yaml``, is a DERIVED document: openapi-generator's OAS 3.0.1
conversion of Mailchimp's official Swagger 2.0 (see ``vendor-specs/SOURCES.md``), not a file
Mailchimp publishes as such. One conversion defect is corrected in memory by the harness
(``SPEC_PATCHES``: merge field values typed ``object``); everything else is validated as is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest
from openapi_harness import (
    ContractViolation,
    load_spec,
    load_times,
    recording_client,
    request_from_log,
    require_specs,
    validate_exchange,
    validate_request,
)
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.registry import writer_for
from connectors.runner import Record, cdk_sleep, read_stream
from connectors.writer import WriteItem
from sandbox.credentials import SANDBOX_MAILCHIMP_KEY, SANDBOX_MAILCHIMP_LIST_ID
from sandbox.server import SandboxServer

SPEC = "mailchimp-marketing.yaml"
LIST = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}"
pytestmark = require_specs(SPEC)

Exchanges = list[tuple[httpx.Request, httpx.Response]]


def _control(server: SandboxServer, method: str, path: str, body: object = None) -> object:
    response = httpx.request(method, f"{server.url}/_sandbox{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    _control(sandbox, "POST", "/reset")
    _control(sandbox, "POST", "/seed", {"people": 80, "seed": 11, "tools": ["mailchimp"]})
    yield sandbox
    _control(sandbox, "DELETE", "/faults")


def _session(server: SandboxServer) -> Exchanges:
    """What a client does over a day: read, page, filter, write one, write many, fail."""
    exchanges: Exchanges = []
    new = "contract.person@northwind-traders.com"
    digest = hashlib.md5(new.encode(), usedforsecurity=False).hexdigest()
    auth = ("revsync", SANDBOX_MAILCHIMP_KEY)
    with recording_client(
        exchanges, base_url=server.base_url("mailchimp"), auth=auth, timeout=10
    ) as c:
        c.get("/")
        c.get("/ping")
        c.get("/lists")
        c.get(LIST)
        c.get(f"{LIST}/merge-fields")
        first = c.get(f"{LIST}/members", params={"count": 25}).json()["members"]
        c.get(f"{LIST}/members", params={"count": 25, "offset": 25})
        c.get(
            f"{LIST}/members",
            params={"since_last_changed": "2025-06-01T00:00:00+00:00", "count": 10},
        )
        c.get(f"{LIST}/members", params={"status": "unsubscribed", "count": 5})
        c.get(f"{LIST}/members", params={"fields": "members.id,members.email_address"})
        c.get(f"{LIST}/members/{first[0]['id']}")
        c.get(f"{LIST}/members/{'0' * 32}")  # 404 problem
        c.post(f"{LIST}/members", json={"email_address": new, "status": "subscribed"})
        c.post(f"{LIST}/members", json={"email_address": new, "status": "subscribed"})  # exists
        c.post(f"{LIST}/members", json={"email_address": "x@example.com", "status": "pending"})
        c.put(
            f"{LIST}/members/{digest}",
            json={
                "email_address": new,
                "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "C"},
            },
        )
        c.patch(f"{LIST}/members/{digest}", json={"merge_fields": {"LNAME": "Tract"}, "vip": True})
        c.post(
            LIST,
            json={
                "members": [
                    {"email_address": new, "status": "subscribed"},
                    {"email_address": "batch.one@northwind-traders.com", "status": "subscribed"},
                    {"email_address": "nope@test.com", "status": "subscribed"},
                ],
                "update_existing": True,
            },
        )
        c.delete(f"{LIST}/members/{digest}")
        _control(server, "POST", "/faults", {"tool": "mailchimp", "kind": "429", "count": 1})
        c.get(f"{LIST}/members")
    with httpx.Client(base_url=server.base_url("mailchimp"), timeout=10) as bare:
        anonymous = bare.get(LIST)  # 401 API Key Missing
        exchanges.append((anonymous.request, anonymous))
    return exchanges


def test_every_sandbox_response_and_request_matches_the_spec(seeded: SandboxServer) -> None:
    exchanges = _session(seeded)
    statuses = {response.status_code for _, response in exchanges}
    assert {200, 204, 400, 401, 404, 429} <= statuses
    failures: list[str] = []
    for request, response in exchanges:
        try:
            validate_exchange(SPEC, request, response, server_base=seeded.base_url("mailchimp"))
        except ContractViolation as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)


def test_the_validator_rejects_a_drifted_member(seeded: SandboxServer) -> None:
    """The check can fail: a member whose `status` became a number is not a Mailchimp member."""
    _control(
        seeded,
        "POST",
        "/faults",
        {"tool": "mailchimp", "kind": "schema_drift", "add": {"status": 7}, "path": "/members$"},
    )
    response = httpx.get(
        seeded.base_url("mailchimp") + f"{LIST}/members",
        auth=("x", SANDBOX_MAILCHIMP_KEY),
        params={"count": 3},
    )
    with pytest.raises(ContractViolation, match="status"):
        validate_exchange(
            SPEC, response.request, response, server_base=seeded.base_url("mailchimp")
        )


def test_the_validator_rejects_a_bad_request(seeded: SandboxServer) -> None:
    request = httpx.Request(
        "POST",
        seeded.base_url("mailchimp") + f"{LIST}/members",
        json={"email_address": "a@b.io", "status": "maybe"},
    )
    with pytest.raises(ContractViolation, match="maybe"):
        validate_request(SPEC, request, server_base=seeded.base_url("mailchimp"))


def test_every_request_our_connector_sends_matches_the_spec(seeded: SandboxServer) -> None:
    conn = Connection(
        tool="mailchimp",
        base_url=seeded.base_url("mailchimp"),
        secrets={"api_key": SecretStr(SANDBOX_MAILCHIMP_KEY)},
        options={"list_id": SANDBOX_MAILCHIMP_LIST_ID},
    )
    _control(seeded, "POST", "/reset")
    _control(seeded, "POST", "/seed", {"people": 80, "seed": 11, "tools": ["mailchimp"]})
    with cdk_sleep(lambda _s: None):
        records = [i for i in read_stream(conn, "members", None) if isinstance(i, Record)]
    assert records
    writer = writer_for(conn)
    try:
        outcomes = writer.upsert(
            "person",
            [
                WriteItem("contract.batch@northwind-traders.com", None, {"status": "subscribed"}),
                WriteItem(
                    records[0].data["email_address"].lower(),
                    records[0].data["id"],
                    {"merge_fields": {"FNAME": "Renamed"}},
                ),
                WriteItem("fake@example.com", None, {"status": "subscribed"}),
            ],
        )
    finally:
        writer.close()
    assert [o.ok for o in outcomes][:2] == [True, True]
    log = _control(seeded, "GET", "/requests?tool=mailchimp")
    assert isinstance(log, list)
    methods = {entry["method"] for entry in log}
    assert "GET" in methods
    assert methods & {"POST", "PUT", "PATCH"}
    failures: list[str] = []
    for entry in log:
        request = request_from_log(entry, seeded.base_url("mailchimp"))
        try:
            validate_request(SPEC, request, server_base=seeded.base_url("mailchimp"))
        except ContractViolation as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)


def test_spec_is_parsed_once_and_quickly() -> None:
    first = load_spec(SPEC)
    assert load_spec(SPEC) is first
    assert load_times()[SPEC] < 30.0
