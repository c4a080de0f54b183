"""HubSpot deals in the sandbox: the official SDK's deals API and raw HTTP, associations v4."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import hubspot
import pytest
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals.exceptions import ApiException, NotFoundException
from sandbox_testkit import HS_AUTH, control, fresh

from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def client(sandbox: SandboxServer) -> hubspot.HubSpot:
    fresh(sandbox)
    return hubspot.HubSpot(access_token=SANDBOX_HUBSPOT_TOKEN, host=sandbox.base_url("hubspot"))


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH, timeout=10) as c:
        yield c


def _deal(client: hubspot.HubSpot, **props: str) -> Any:
    return client.crm.deals.basic_api.create(SimplePublicObjectInputForCreate(properties=props))


def test_sdk_create_get_update_and_page(client: hubspot.HubSpot) -> None:
    created = _deal(client, dealname="Acme - Pilot", amount="1200", dealstage="qualifiedtobuy")
    assert created.properties["pipeline"] is None  # only what was written, plus defaults
    assert created.properties["dealname"] == "Acme - Pilot"
    updated = client.crm.deals.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"dealstage": "closedwon"})
    )
    assert updated.properties["dealstage"] == "closedwon"
    assert updated.updated_at >= created.updated_at
    for i in range(4):
        _deal(client, dealname=f"d{i}", pipeline="default")
    names: list[str] = []
    after = None
    while True:
        page = client.crm.deals.basic_api.get_page(limit=2, after=after)
        names += [r.properties["dealname"] for r in page.results]
        if not page.paging:
            break
        after = page.paging.next.after
    assert names == ["Acme - Pilot", "d0", "d1", "d2", "d3"]
    got = client.crm.deals.basic_api.get_by_id(created.id, properties=["amount", "dealstage"])
    assert got.properties["amount"] == "1200"
    assert got.properties["dealstage"] == "closedwon"


def test_sdk_search_on_hs_lastmodifieddate(client: hubspot.HubSpot) -> None:
    old = _deal(client, dealname="old")
    new = _deal(client, dealname="new")
    touched = client.crm.deals.basic_api.update(
        old.id, SimplePublicObjectInput(properties={"amount": "99"})
    )
    since = int(touched.updated_at.timestamp() * 1000)
    request = PublicObjectSearchRequest(
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}
                ]
            }
        ],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        properties=["dealname", "amount"],
        limit=10,
    )
    page = client.crm.deals.search_api.do_search(public_object_search_request=request)
    ids = [r.id for r in page.results]
    assert old.id in ids
    assert (new.id in ids) == (new.updated_at >= touched.updated_at)
    assert all(r.updated_at >= touched.updated_at for r in page.results)


def test_sdk_batch_upsert_by_unique_property_and_merge(client: hubspot.HubSpot) -> None:
    batch = client.crm.deals.batch_api
    first = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "u-1", "idProperty": "revsync_unified_id", "properties": {"dealname": "A"}}
            ]
        )
    )
    assert first.results[0].new is True
    again = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "u-1", "idProperty": "revsync_unified_id", "properties": {"amount": "5"}}
            ]
        )
    )
    assert again.results[0].new is False
    assert again.results[0].id == first.results[0].id
    other = _deal(client, dealname="B", closedate="2025-01-31T00:00:00Z")
    merged = client.crm.deals.basic_api.merge(
        PublicMergeInput(primary_object_id=first.results[0].id, object_id_to_merge=other.id)
    )
    assert merged.id == first.results[0].id
    with pytest.raises(NotFoundException):
        client.crm.deals.basic_api.get_by_id(other.id)
    kept = client.crm.deals.basic_api.get_by_id(merged.id, properties=["dealname", "closedate"])
    assert kept.properties["dealname"] == "A"  # the primary's value wins
    assert kept.properties["closedate"] == "2025-01-31T00:00:00.000Z"  # blank filled


def test_invalid_stage_and_amount_are_400(client: hubspot.HubSpot) -> None:
    with pytest.raises(ApiException) as info:
        _deal(client, dealname="x", dealstage="won-ish")
    assert info.value.status == 400
    assert "INVALID_OPTION" in info.value.body
    with pytest.raises(ApiException) as info:
        _deal(client, dealname="x", amount="lots")
    assert "INVALID_FLOAT" in info.value.body


def test_object_type_id_alias_and_archive(hs: httpx.Client) -> None:
    created = hs.post("/crm/v3/objects/0-3", json={"properties": {"dealname": "alias"}})
    assert created.status_code == 201
    deal_id = created.json()["id"]
    assert hs.get(f"/crm/v3/objects/deals/{deal_id}").json()["properties"]["dealname"] == "alias"
    assert hs.delete(f"/crm/v3/objects/0-3/{deal_id}").status_code == 204
    assert hs.get(f"/crm/v3/objects/deals/{deal_id}").status_code == 404
    archived = hs.get("/crm/v3/objects/deals", params={"archived": "true"}).json()["results"]
    assert [r["id"] for r in archived] == [deal_id]


def test_search_on_amount_and_closedate_compares_values(hs: httpx.Client) -> None:
    for amount, close in (("900", "2025-01-01"), ("10000", "2025-06-01"), ("2500", "2025-03-01")):
        hs.post(
            "/crm/v3/objects/deals",
            json={"properties": {"dealname": amount, "amount": amount, "closedate": close}},
        )

    def names(filters: list[dict[str, Any]]) -> list[str]:
        body = {"filterGroups": [{"filters": filters}], "properties": ["dealname"]}
        found = hs.post("/crm/v3/objects/deals/search", json=body).json()["results"]
        return sorted(r["properties"]["dealname"] for r in found)

    # numbers compare as numbers ("900" > "2000" as text), dates as instants
    assert names([{"propertyName": "amount", "operator": "GT", "value": "2000"}]) == [
        "10000",
        "2500",
    ]
    assert names([{"propertyName": "closedate", "operator": "LT", "value": "2025-02-15"}]) == [
        "900"
    ]


def test_associations_on_create_v3_and_v4(client: hubspot.HubSpot, hs: httpx.Client) -> None:
    contact = hs.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@corp.io"}})
    company = hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Corp"}})
    contact_id, company_id = contact.json()["id"], company.json()["id"]
    deal = client.crm.deals.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"dealname": "Corp - Platform"},
            associations=[
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
                {
                    "to": {"id": company_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
                },
            ],
        )
    )
    v4 = client.crm.associations.v4.basic_api
    to_contacts = v4.get_page("deals", deal.id, "contacts")
    assert [str(r.to_object_id) for r in to_contacts.results] == [contact_id]
    assert [t.type_id for t in to_contacts.results[0].association_types] == [3]
    to_companies = v4.get_page("0-3", deal.id, "companies")
    assert [t.type_id for t in to_companies.results[0].association_types] == [5, 341]
    back = v4.get_page("contacts", contact_id, "deals")
    assert [str(r.to_object_id) for r in back.results] == [deal.id]
    with_links = client.crm.deals.basic_api.get_by_id(deal.id, associations=["contacts"])
    assert [a.id for a in with_links.associations["contacts"].results] == [contact_id]
    bad = hs.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "x"},
            "associations": [
                {"to": {"id": "424242"}, "types": [{"associationTypeId": 3}]},
            ],
        },
    )
    assert bad.status_code == 400


def test_associations_follow_merge_and_archive(hs: httpx.Client) -> None:
    emails = ("keep@corp.io", "dup@corp.io")
    keep, dup = (
        hs.post("/crm/v3/objects/contacts", json={"properties": {"email": e}}).json()["id"]
        for e in emails
    )
    deal_id = hs.post("/crm/v3/objects/deals", json={"properties": {"dealname": "d"}}).json()["id"]
    put = hs.put(f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/{dup}")
    assert put.status_code == 200
    assert put.json()["results"][0]["associationSpec"]["associationTypeId"] == 3
    merge = {"primaryObjectId": keep, "objectIdToMerge": dup}
    assert hs.post("/crm/v3/objects/contacts/merge", json=merge).status_code == 200
    linked = hs.get(f"/crm/v4/objects/deals/{deal_id}/associations/contacts").json()["results"]
    assert [str(r["toObjectId"]) for r in linked] == [keep]
    hs.delete(f"/crm/v3/objects/contacts/{keep}")
    assert hs.get(f"/crm/v4/objects/deals/{deal_id}/associations/contacts").json() == {
        "results": []
    }


def test_seeded_deals_belong_to_their_company(sandbox: SandboxServer, hs: httpx.Client) -> None:
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 5, "tools": ["hubspot"]})
    truth = control(sandbox, "GET", "/truth?tool=hubspot")
    deals = {k.split(":")[2]: v for k, v in truth.items() if k.startswith("hubspot:deals:")}
    companies = {k.split(":")[2]: v for k, v in truth.items() if k.startswith("hubspot:companies:")}
    assert 0.5 * len(companies) < len(deals) <= 3 * len(companies)  # 0-3 per company
    for deal_id in list(deals)[:15]:
        deal = hs.get(
            f"/crm/v3/objects/deals/{deal_id}", params={"associations": "companies,contacts"}
        ).json()
        assert deal["properties"]["pipeline"] == "default"
        linked = deal["associations"]["companies"]["results"]
        assert companies[linked[0]["id"]] == deals[deal_id]
        for contact in deal["associations"].get("contacts", {"results": []})["results"]:
            person = truth[f"hubspot:contacts:{contact['id']}"]
            assert person.startswith("p")
