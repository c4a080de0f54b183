"""The fault kinds added for issue 3, over real HTTP against HubSpot and Mailchimp."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import HS_AUTH, MC_AUTH, control, fresh

from sandbox.credentials import SANDBOX_MAILCHIMP_LIST_ID
from sandbox.faults import apply_drift, default_carries_cursor, default_records, fault_from_json
from sandbox.server import SandboxServer

CONTACTS = "/crm/v3/objects/contacts"
MEMBERS = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members"


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    fresh(sandbox)
    control(sandbox, "POST", "/seed", {"people": 60, "seed": 3, "tools": ["hubspot", "mailchimp"]})
    yield sandbox
    control(sandbox, "DELETE", "/faults")


@pytest.fixture
def hs(seeded: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seeded.base_url("hubspot"), headers=HS_AUTH, timeout=10) as c:
        yield c


@pytest.fixture
def mc(seeded: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seeded.base_url("mailchimp"), auth=MC_AUTH, timeout=10) as c:
        yield c


def _arm(sandbox: SandboxServer, **fault: object) -> None:
    control(sandbox, "POST", "/faults", fault)


def test_429_burst_without_retry_after_then_recovers(
    hs: httpx.Client, seeded: SandboxServer
) -> None:
    _arm(seeded, tool="hubspot", kind="429", count=3)
    statuses = [hs.get(CONTACTS).status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]
    limited = [r for r in control(seeded, "GET", "/requests?tool=hubspot") if r["status"] == 429]
    assert len(limited) == 3


def test_429_burst_with_retry_after(mc: httpx.Client, seeded: SandboxServer) -> None:
    _arm(seeded, tool="mailchimp", kind="429", count=2, retry_after=7)
    first, second, third = (mc.get(MEMBERS) for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == second.headers["Retry-After"] == "7"
    assert third.status_code == 200


def test_truncated_and_malformed_json_differ(hs: httpx.Client, seeded: SandboxServer) -> None:
    whole = hs.get(CONTACTS, params={"limit": 5}).content
    _arm(seeded, tool="hubspot", kind="truncated_json")
    truncated = hs.get(CONTACTS, params={"limit": 5})
    _arm(seeded, tool="hubspot", kind="malformed_json")
    malformed = hs.get(CONTACTS, params={"limit": 5})

    assert truncated.status_code == malformed.status_code == 200
    assert whole.startswith(truncated.content)
    assert len(truncated.content) < len(whole)
    assert int(truncated.headers["content-length"]) == len(truncated.content)
    assert len(malformed.content) > len(whole)  # complete, plus a stray comma
    for broken in (truncated, malformed):
        with pytest.raises(json.JSONDecodeError):
            broken.json()


def test_expired_cursor_hits_only_a_request_with_a_cursor(
    hs: httpx.Client, mc: httpx.Client, seeded: SandboxServer
) -> None:
    _arm(seeded, tool="hubspot", kind="expired_cursor")
    _arm(seeded, tool="mailchimp", kind="expired_cursor")
    first = hs.get(CONTACTS, params={"limit": 10})
    assert first.status_code == 200  # no cursor yet: untouched
    after = first.json()["paging"]["next"]["after"]
    expired = hs.get(CONTACTS, params={"limit": 10, "after": after})
    assert expired.status_code == 400
    assert expired.json()["category"] == "VALIDATION_ERROR"
    assert hs.get(CONTACTS, params={"limit": 10, "after": after}).status_code == 200

    assert mc.get(MEMBERS, params={"count": 10}).status_code == 200
    stale = mc.get(MEMBERS, params={"count": 10, "offset": 10})
    assert stale.status_code == 400
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["status"] == 400


def test_expired_cursor_in_a_search_body(hs: httpx.Client, seeded: SandboxServer) -> None:
    _arm(seeded, tool="hubspot", kind="expired_cursor", path="/search$")
    assert hs.post(f"{CONTACTS}/search", json={"limit": 5}).status_code == 200
    assert hs.post(f"{CONTACTS}/search", json={"limit": 5, "after": "5"}).status_code == 400


def test_deleted_between_reads_hubspot(hs: httpx.Client, seeded: SandboxServer) -> None:
    _arm(seeded, tool="hubspot", kind="deleted_between_reads", path="/contacts$", method="GET")
    page = hs.get(CONTACTS, params={"limit": 5}).json()
    served = page["results"][0]["id"]
    assert hs.get(f"{CONTACTS}/{served}").status_code == 404
    archived = hs.get(CONTACTS, params={"archived": "true"}).json()["results"]
    assert [r["id"] for r in archived] == [served]
    assert control(seeded, "GET", "/faults") == []


def test_deleted_between_reads_waits_for_the_named_record(
    mc: httpx.Client, seeded: SandboxServer
) -> None:
    members = mc.get(MEMBERS, params={"count": 20}).json()["members"]
    target = members[15]["id"]
    _arm(seeded, tool="mailchimp", kind="deleted_between_reads", record=target, path="/members$")
    mc.get(MEMBERS, params={"count": 10})  # page 1 does not hold it: the fault stays armed
    assert len(control(seeded, "GET", "/faults")) == 1
    assert mc.get(f"{MEMBERS}/{target}").status_code == 200
    second = mc.get(MEMBERS, params={"count": 10, "offset": 10}).json()["members"]
    assert target in [m["id"] for m in second]
    assert mc.get(f"{MEMBERS}/{target}").status_code == 404
    assert control(seeded, "GET", "/faults") == []


def test_merged_between_reads_hubspot(hs: httpx.Client, seeded: SandboxServer) -> None:
    ids = [r["id"] for r in hs.get(CONTACTS, params={"limit": 3}).json()["results"]]
    _arm(seeded, tool="hubspot", kind="merged_between_reads", record=ids[0], into=ids[2])
    hs.get(CONTACTS, params={"limit": 3})
    assert hs.get(f"{CONTACTS}/{ids[0]}").status_code == 404
    survivor = hs.get(f"{CONTACTS}/{ids[2]}", params={"properties": "hs_merged_object_ids"})
    assert survivor.json()["properties"]["hs_merged_object_ids"] == ids[0]


def test_merged_between_reads_mailchimp_picks_a_survivor(
    mc: httpx.Client, seeded: SandboxServer
) -> None:
    page = mc.get(MEMBERS, params={"count": 2}).json()["members"]
    _arm(seeded, tool="mailchimp", kind="merged_between_reads", path="/members$")
    again = mc.get(MEMBERS, params={"count": 2}).json()["members"]
    assert [m["id"] for m in again] == [m["id"] for m in page]
    assert mc.get(f"{MEMBERS}/{page[0]['id']}").status_code == 404
    survivor = mc.get(f"{MEMBERS}/{page[1]['id']}").json()
    assert survivor["last_changed"] > page[1]["last_changed"]
    for tag, value in page[0]["merge_fields"].items():
        if value and not page[1]["merge_fields"][tag]:
            assert survivor["merge_fields"][tag] == value


def test_schema_drift_on_every_record(
    hs: httpx.Client, mc: httpx.Client, seeded: SandboxServer
) -> None:
    _arm(
        seeded,
        tool="hubspot",
        kind="schema_drift",
        path="/contacts$",
        add={"properties.hs_new_thing": "x", "propertiesWithHistory": {}},
        remove=["updatedAt", "properties.email"],
    )
    _arm(seeded, tool="mailchimp", kind="schema_drift", add={"ai_score": 3}, remove=["status"])
    results = hs.get(CONTACTS, params={"limit": 4}).json()["results"]
    members = mc.get(MEMBERS, params={"count": 4}).json()["members"]
    assert len(results) == len(members) == 4
    for record in results:
        assert "updatedAt" not in record
        assert "email" not in record["properties"]
        assert record["properties"]["hs_new_thing"] == "x"
        assert record["propertiesWithHistory"] == {}
    assert all(m["ai_score"] == 3 and "status" not in m for m in members)
    assert "updatedAt" in hs.get(CONTACTS, params={"limit": 1}).json()["results"][0]


def test_fault_json_validation(seeded: SandboxServer) -> None:
    bad = httpx.post(
        f"{seeded.url}/_sandbox/faults", json={"tool": "hubspot", "kind": "schema_drift"}
    )
    assert bad.status_code == 400
    assert "add and/or remove" in bad.json()["error"]
    with pytest.raises(ValueError, match="count"):
        fault_from_json({"tool": "x", "kind": "500", "count": 0})


@pytest.mark.parametrize(
    ("path", "query", "body", "expected"),
    [
        ("/api/v2/users", "page%5Bafter%5D=abc", b"", True),
        ("/contacts", "starting_after=WzE2", b"", True),
        ("/v1/calls", "page=2&per_page=50", b"", True),
        ("/v1/calls", "page=1", b"", False),
        ("/services/data/v62.0/query/01gD0000002HU6KIAW-2000", "", b"", True),
        ("/services/data/v62.0/query", "q=SELECT+Id+FROM+Contact", b"", False),
        ("/lists/x/members", "offset=0&count=10", b"", False),
    ],
)
def test_default_cursor_detection(path: str, query: str, body: bytes, expected: bool) -> None:
    assert default_carries_cursor(path, query, body) is expected


def test_default_records_and_drift_helpers() -> None:
    body = {"data": [{"id": 1, "a": {"b": 1}}, {"id": 2, "a": {"b": 2}}], "meta": {}}
    records = default_records(body)
    for record in records:
        apply_drift(record, {"a.c": 0}, ["a.b", "missing.field"])
    assert body["data"] == [{"id": 1, "a": {"c": 0}}, {"id": 2, "a": {"c": 0}}]
    assert default_records({"id": 9}) == [{"id": 9}]
    assert default_records([{"id": 1}, 3]) == [{"id": 1}]


def test_reject_refuses_only_the_requests_carrying_the_record(
    hs: httpx.Client, seeded: SandboxServer
) -> None:
    _arm(seeded, tool="hubspot", kind="reject", count=None, body_contains="bad@probe.io")
    batch = f"{CONTACTS}/batch/upsert"
    both = {
        "inputs": [
            {"id": e, "idProperty": "email", "properties": {"email": e}}
            for e in ("good@probe.io", "bad@probe.io")
        ]
    }
    refused = hs.post(batch, json=both)
    assert refused.status_code == 422
    assert refused.json()["category"], "HubSpot's own error body"
    alone = {"inputs": both["inputs"][:1]}
    assert hs.post(batch, json=alone).status_code in (200, 201)
    assert hs.post(batch, json=both).status_code == 422, "count=None keeps refusing"


def test_reject_takes_a_4xx_status_only() -> None:
    assert fault_from_json({"tool": "hubspot", "kind": "reject", "status": 400}).status == 400
    with pytest.raises(ValueError, match="4xx"):
        fault_from_json({"tool": "hubspot", "kind": "reject", "status": 500})
