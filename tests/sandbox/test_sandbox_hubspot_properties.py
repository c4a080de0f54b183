"""HubSpot properties API and unique properties: what an upsert may key on is account
configuration; company merges follow HubSpot's rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_testkit import HS_AUTH, fresh

from sandbox.credentials import SANDBOX_HUBSPOT_READONLY_TOKEN
from sandbox.server import SandboxServer

PROPS = "/crm/v3/properties/companies"
UNIQUE = {
    "name": "erp_account_id",
    "label": "ERP account id",
    "type": "string",
    "fieldType": "text",
    "groupName": "companyinformation",
    "hasUniqueValue": True,
}


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH) as client:
        yield client


def _upsert(hs: httpx.Client, id_property: str, key: str, **props: Any) -> httpx.Response:
    inputs = [{"id": key, "idProperty": id_property, "properties": props}]
    return hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": inputs})


def test_the_account_starts_with_revsync_unique_property(hs: httpx.Client) -> None:
    listed = {p["name"]: p for p in hs.get(PROPS).json()["results"]}
    assert listed["revsync_unified_id"]["hasUniqueValue"] is True
    assert listed["revsync_unified_id"]["hubspotDefined"] is False
    assert listed["name"]["hubspotDefined"] is True
    assert listed["hs_lastmodifieddate"]["modificationMetadata"]["readOnlyValue"] is True
    one = hs.get(f"{PROPS}/revsync_unified_id")
    assert one.status_code == 200
    assert one.json()["type"] == "string"
    assert hs.get(f"{PROPS}/no_such_thing").status_code == 404


def test_a_created_unique_property_becomes_an_upsert_key(hs: httpx.Client) -> None:
    assert _upsert(hs, "erp_account_id", "A-1", name="Acme").status_code == 400
    created = hs.post(PROPS, json=UNIQUE)
    assert created.status_code == 201
    assert created.json()["hasUniqueValue"] is True
    first = _upsert(hs, "erp_account_id", "A-1", name="Acme")
    again = _upsert(hs, "erp_account_id", "A-1", city="Austin")
    assert first.json()["results"][0]["new"] is True
    assert again.json()["results"][0]["new"] is False
    assert again.json()["results"][0]["id"] == first.json()["results"][0]["id"]
    clash = hs.post("/crm/v3/objects/companies", json={"properties": {"erp_account_id": "A-1"}})
    assert clash.status_code == 409
    assert hs.post(PROPS, json=UNIQUE).status_code == 409  # the name is taken


def test_property_create_is_validated(hs: httpx.Client) -> None:
    missing = hs.post(PROPS, json={"name": "x"})
    assert missing.status_code == 400
    assert "groupName" in missing.json()["message"]
    picklist = {**UNIQUE, "name": "tier", "type": "enumeration", "fieldType": "select"}
    assert hs.post(PROPS, json=picklist).status_code == 400  # unique only for string/number
    assert hs.delete(f"{PROPS}/domain").status_code == 400  # HubSpot's own
    assert hs.delete(f"{PROPS}/never_made").status_code == 404


def test_archived_property_refuses_upserts_by_it_for_the_whole_call(hs: httpx.Client) -> None:
    kept = _upsert(hs, "revsync_unified_id", "u-1", name="Acme")
    company_id = kept.json()["results"][0]["id"]
    assert hs.delete(f"{PROPS}/revsync_unified_id").status_code == 204
    refused = hs.post(
        "/crm/v3/objects/companies/batch/upsert",
        json={
            "inputs": [
                {"id": f"u-{n}", "idProperty": "revsync_unified_id", "properties": {}}
                for n in range(3)
            ]
        },
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "non-unique 0-2 property revsync_unified_id" in body["message"]
    written = hs.post(
        "/crm/v3/objects/companies", json={"properties": {"revsync_unified_id": "u-9"}}
    )
    assert "PROPERTY_DOESNT_EXIST" in written.json()["message"]
    got = hs.get(
        f"/crm/v3/objects/companies/{company_id}", params={"properties": "revsync_unified_id"}
    )
    assert got.json()["properties"]["revsync_unified_id"] is None  # values went with it
    # Updating by id never needed it.
    by_id = hs.post(
        "/crm/v3/objects/companies/batch/update",
        json={"inputs": [{"id": company_id, "properties": {"city": "Lyon"}}]},
    )
    assert by_id.status_code == 200


def test_reset_restores_the_default_properties(sandbox: SandboxServer, hs: httpx.Client) -> None:
    assert hs.delete(f"{PROPS}/revsync_unified_id").status_code == 204
    fresh(sandbox)
    assert hs.get(f"{PROPS}/revsync_unified_id").status_code == 200


def test_schema_writes_need_the_schema_scope(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    denied = httpx.post(
        sandbox.base_url("hubspot") + PROPS,
        json=UNIQUE,
        headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_READONLY_TOKEN}"},
    )
    assert denied.status_code == 403
    scopes = denied.json()["errors"][0]["context"]["requiredGranularScopes"]
    assert scopes == ["crm.schemas.companies.write"]


def test_company_merge_lists_the_merged_id_and_the_merged_one_404s(hs: httpx.Client) -> None:
    keep = hs.post(
        "/crm/v3/objects/companies", json={"properties": {"name": "Acme", "domain": "acme.com"}}
    ).json()["id"]
    lose = hs.post(
        "/crm/v3/objects/companies", json={"properties": {"name": "ACME", "city": "Austin"}}
    ).json()["id"]
    merged = hs.post(
        "/crm/v3/objects/companies/merge",
        json={"primaryObjectId": keep, "objectIdToMerge": lose},
    )
    assert merged.status_code == 200
    assert merged.json()["id"] == keep
    assert merged.json()["properties"]["hs_merged_object_ids"] == lose
    assert hs.get(f"/crm/v3/objects/companies/{lose}").status_code == 404
    survivor = hs.get(
        f"/crm/v3/objects/companies/{keep}", params={"properties": "name,city"}
    ).json()
    assert survivor["properties"] == {
        "name": "Acme",  # the primary's value wins
        "city": "Austin",  # a blank is filled
        "hs_object_id": keep,
        "createdate": survivor["properties"]["createdate"],
        "hs_lastmodifieddate": survivor["properties"]["hs_lastmodifieddate"],
    }
    again = hs.post(
        "/crm/v3/objects/companies/merge",
        json={"primaryObjectId": keep, "objectIdToMerge": lose},
    )
    assert again.status_code == 404
