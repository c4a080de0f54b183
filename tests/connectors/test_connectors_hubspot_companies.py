"""HubSpot companies end to end against the sandbox: incremental reads, upserts keyed by the
unified id, the missing unique property, and vendor merges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.hubspot.writer import UNIFIED_ID_PROPERTY, HubSpotWriter
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.registry import writer_for
from connectors.retry import RetrySettings
from connectors.runner import Checkpoint, Record, cdk_sleep, read_stream
from connectors.writer import WriteItem, WriteOutcome
from mappings.spec import external_id_payload, from_unified, load_mapping, to_unified
from mappings.transforms import normalize_domain
from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.server import SandboxServer

MAPPING = load_mapping("hubspot", "company")
AUTH = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}


@pytest.fixture(autouse=True)
def _fresh(sandbox: SandboxServer) -> Iterator[None]:
    httpx.post(sandbox.url + "/_sandbox/reset").raise_for_status()
    with cdk_sleep(lambda _s: None):
        yield
    httpx.delete(sandbox.url + "/_sandbox/faults")


def _conn(sandbox: SandboxServer) -> Connection:
    return Connection(
        tool="hubspot",
        base_url=sandbox.base_url("hubspot"),
        secrets={"access_token": SecretStr(SANDBOX_HUBSPOT_TOKEN)},
    )


@pytest.fixture
def writer(sandbox: SandboxServer) -> Iterator[HubSpotWriter]:
    made = writer_for(_conn(sandbox))
    assert isinstance(made, HubSpotWriter)
    yield made
    made.close()


def _hs(
    sandbox: SandboxServer,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    url = sandbox.base_url("hubspot") + path
    return httpx.request(method, url, json=body, params=params, headers=AUTH, timeout=10)


def _read(sandbox: SandboxServer, state: dict | None) -> tuple[list[dict], dict]:
    items = list(read_stream(_conn(sandbox), "companies", state))
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    return [i.data for i in items if isinstance(i, Record)], (
        checkpoints[-1].state if checkpoints else {}
    )


def _create_item(unified_id: str, **values: str) -> WriteItem:
    """A create as the plan makes it: mapped payload plus the unified id at its field."""
    payload = from_unified(MAPPING, values, create=True)
    payload.update(external_id_payload(MAPPING, unified_id))
    return WriteItem(key=unified_id, record_id=None, properties=payload)


def _bodies(sandbox: SandboxServer, path_end: str) -> list[dict]:
    """The JSON bodies of the vendor calls whose path ends with ``path_end``, oldest first."""
    log = httpx.get(sandbox.url + "/_sandbox/requests", params={"tool": "hubspot"}).json()
    return [json.loads(r["body"]) for r in log if r["path"].endswith(path_end)]


def test_company_reads_are_incremental_and_request_every_mapped_property(
    sandbox: SandboxServer,
) -> None:
    counts = httpx.post(
        sandbox.url + "/_sandbox/seed", json={"people": 200, "seed": 5, "tools": ["hubspot"]}
    ).json()
    records, state = _read(sandbox, None)
    assert len({r["id"] for r in records}) == len(records) == counts["hubspot_companies"]
    assert state["updatedAt"]

    searched = _bodies(sandbox, "/crm/v3/objects/companies/search")[-1]
    wanted = {f.tool.removeprefix("properties.") for f in MAPPING.fields}
    wanted |= {"revsync_unified_id", "hs_merged_object_ids", "hs_lastmodifieddate"}
    assert wanted <= set(searched["properties"])
    assert searched["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]

    mapped = [to_unified(MAPPING, r) for r in records]
    raw_domains = [r["properties"]["domain"] for r in records if r["properties"]["domain"]]
    assert any(d != normalize_domain(d) for d in raw_domains)  # messy forms are seeded...
    assert all(m.values["domain"] in (None, normalize_domain(m.values["domain"])) for m in mapped)

    again, _ = _read(sandbox, state)
    assert len(again) < len(records)  # only the one-minute lookback edge comes back
    target = records[0]["id"]
    edit = httpx.patch(
        f"{sandbox.url}/_sandbox/hubspot/companies/{target}", json={"city": "Edited"}
    )
    assert edit.status_code == 200
    changed, new_state = _read(sandbox, state)
    assert target in {r["id"] for r in changed}
    assert new_state["updatedAt"] > state["updatedAt"]


def test_company_create_then_update_by_id(sandbox: SandboxServer, writer: HubSpotWriter) -> None:
    items = [
        _create_item(f"u-co-{n}", name=f"Company {n}", domain=f"company{n}.io", country="DE")
        for n in range(150)
    ]
    created = writer.upsert("company", items)
    assert all(o.ok and o.created and o.record_id for o in created)
    assert [o.key for o in created] == [i.key for i in items]
    calls = _bodies(sandbox, "/crm/v3/objects/companies/batch/upsert")
    assert [len(c["inputs"]) for c in calls] == [100, 50]
    first = calls[0]["inputs"][0]
    assert first["idProperty"] == UNIFIED_ID_PROPERTY
    assert first["id"] == "u-co-0"

    record_id = created[7].record_id
    got = _hs(
        sandbox,
        "GET",
        f"/crm/v3/objects/companies/{record_id}",
        params={"properties": "name,domain,country,revsync_unified_id"},
    )
    assert got.status_code == 200
    props = got.json()["properties"]
    assert props["name"] == "Company 7"
    assert props["domain"] == "company7.io"
    assert props["country"] == "Germany"
    assert props["revsync_unified_id"] == "u-co-7"

    update = WriteItem(
        key="u-co-7",
        record_id=record_id,
        properties=from_unified(MAPPING, {"city": "Berlin"}, create=False),
    )
    [outcome] = writer.upsert("company", [update])
    assert outcome.ok
    assert not outcome.created
    assert outcome.record_id == record_id
    [sent] = _bodies(sandbox, "/crm/v3/objects/companies/batch/update")[-1]["inputs"]
    assert sent["id"] == record_id
    assert "idProperty" not in sent
    records, _ = _read(sandbox, None)
    read_back = to_unified(MAPPING, next(r for r in records if r["id"] == record_id))
    assert read_back.values["city"] == "Berlin"
    assert read_back.external_id == "u-co-7"


def test_replayed_create_upserts_on_the_unified_id(
    sandbox: SandboxServer, writer: HubSpotWriter
) -> None:
    item = _create_item("u-replay", name="Replay GmbH", domain="replay.de")
    first: WriteOutcome = writer.upsert("company", [item])[0]
    # The crash case: HubSpot created it, revsync never stored the id, the run is replayed.
    second = writer.upsert("company", [item])[0]
    assert first.ok
    assert first.created
    assert second.ok
    assert not second.created
    assert second.record_id == first.record_id
    by_name = {"propertyName": "name", "operator": "EQ", "value": "Replay GmbH"}
    found = _hs(
        sandbox,
        "POST",
        "/crm/v3/objects/companies/search",
        {"filterGroups": [{"filters": [by_name]}]},
    ).json()
    assert found["total"] == 1


def test_a_207_fails_only_the_refused_companies(
    sandbox: SandboxServer, writer: HubSpotWriter
) -> None:
    fault = {"tool": "hubspot", "kind": "partial_batch", "every": 3, "path": "companies/batch"}
    assert httpx.post(sandbox.url + "/_sandbox/faults", json=fault).status_code < 300
    outcomes = writer.upsert("company", [_create_item(f"u-p{n}", name=f"P{n}") for n in range(6)])
    assert [o.ok for o in outcomes] == [True, True, False, True, True, False]
    assert all("INTERNAL_ERROR" in (o.error or "") for o in outcomes if not o.ok)
    assert [o.key for o in outcomes] == [f"u-p{n}" for n in range(6)]


def test_missing_unique_property_stops_with_the_fix(
    sandbox: SandboxServer, writer: HubSpotWriter
) -> None:
    gone = _hs(sandbox, "DELETE", f"/crm/v3/properties/companies/{UNIFIED_ID_PROPERTY}")
    assert gone.status_code == 204
    items = [_create_item(f"u-m{n}", name=f"M{n}") for n in range(3)]
    with pytest.raises(WriteFailed) as caught:
        writer.upsert("company", items)
    error = caught.value
    assert error.error_class is ErrorClass.FATAL
    message = str(error)
    assert UNIFIED_ID_PROPERTY in message
    assert "POST /crm/v3/properties/companies" in message
    assert "hasUniqueValue" in message
    assert SANDBOX_HUBSPOT_TOKEN not in message
    # One call, not one per company: the writer did not bisect a configuration problem.
    assert len(_bodies(sandbox, "/crm/v3/objects/companies/batch/upsert")) == 1

    # The fix the README gives, then the same write goes through.
    fix = {
        "name": UNIFIED_ID_PROPERTY,
        "label": "revsync unified id",
        "type": "string",
        "fieldType": "text",
        "groupName": "companyinformation",
        "hasUniqueValue": True,
    }
    assert _hs(sandbox, "POST", "/crm/v3/properties/companies", fix).status_code == 201
    outcomes = writer.upsert("company", items)
    assert all(o.ok and o.created for o in outcomes)


def test_merge_companies_lists_the_merged_id_on_the_survivor(
    sandbox: SandboxServer, writer: HubSpotWriter
) -> None:
    keep, lose = writer.upsert(
        "company",
        [
            _create_item("u-keep", name="Acme Inc.", domain="acme.com"),
            _create_item("u-lose", name="ACME", phone="+14155550100"),
        ],
    )
    assert keep.record_id
    assert lose.record_id
    survivor = writer.merge_companies(keep.record_id, lose.record_id)
    assert survivor["id"] == keep.record_id
    assert lose.record_id in survivor["properties"]["hs_merged_object_ids"].split(";")
    assert _hs(sandbox, "GET", f"/crm/v3/objects/companies/{lose.record_id}").status_code == 404

    records, _ = _read(sandbox, None)
    assert {r["id"] for r in records} == {keep.record_id}
    mapped = to_unified(MAPPING, records[0])
    assert mapped.merged_ids == (lose.record_id,)
    assert mapped.values["name"] == "Acme Inc."  # the primary's value wins
    assert mapped.values["phone"] == "+14155550100"  # a blank is filled from the merged one


def test_merging_an_unknown_company_is_a_write_failure(
    sandbox: SandboxServer, writer: HubSpotWriter
) -> None:
    [only] = writer.upsert("company", [_create_item("u-alone", name="Alone")])
    assert only.record_id
    with pytest.raises(WriteFailed) as caught:
        writer.merge_companies(only.record_id, "999999")
    assert caught.value.status == 404
    assert caught.value.error_class is ErrorClass.SKIP


@respx.mock(base_url="https://api.hubapi.com", assert_all_called=False)
def test_other_wordings_of_a_missing_key_property_are_fatal_too(
    respx_mock: respx.MockRouter,
) -> None:
    conn = Connection(
        tool="hubspot",
        base_url="https://api.hubapi.com",
        secrets={"access_token": SecretStr("pat-na1-unit")},
    )
    respx_mock.post("/crm/v3/objects/companies/batch/upsert").mock(
        return_value=httpx.Response(
            400,
            json={
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property revsync_unified_id does not exist",
            },
        )
    )
    client = build_client(
        conn,
        retry=RetrySettings.no_wait(),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    writer = HubSpotWriter(conn, client)
    try:
        with pytest.raises(WriteFailed) as caught:
            writer.upsert("company", [_create_item("u-1", name="Acme")])
    finally:
        client.close()
    assert caught.value.error_class is ErrorClass.FATAL
    assert "POST /crm/v3/properties/companies" in str(caught.value)
    assert "pat-na1-unit" not in str(caught.value)
