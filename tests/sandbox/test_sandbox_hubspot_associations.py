"""Contact ↔ company associations in the HubSpot sandbox: seeded links, the calculated
``associatedcompanyid``, ``lastmodifieddate`` following primary-company changes, and the v4
batch association endpoints, over real HTTP and with the official client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import hubspot
import pytest
from hubspot.crm.associations.v4 import BatchInputPublicAssociationMultiPost
from sandbox_testkit import HS_AUTH, control, fresh

from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.server import SandboxServer

PRIMARY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}
UNLABELLED = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH, timeout=10) as c:
        yield c


def _contact(hs: httpx.Client, email: str) -> str:
    created = hs.post("/crm/v3/objects/contacts", json={"properties": {"email": email}})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _company(hs: httpx.Client, name: str) -> str:
    created = hs.post("/crm/v3/objects/companies", json={"properties": {"name": name}})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _contact_props(hs: httpx.Client, contact_id: str) -> dict[str, Any]:
    got = hs.get(
        f"/crm/v3/objects/contacts/{contact_id}", params={"properties": "associatedcompanyid"}
    )
    assert got.status_code == 200, got.text
    props: dict[str, Any] = got.json()["properties"]
    return props


def _link(from_id: str, to_id: str, *types: dict[str, Any]) -> dict[str, Any]:
    return {"from": {"id": from_id}, "to": {"id": to_id}, "types": list(types)}


def _create(hs: httpx.Client, *inputs: dict[str, Any], path: str = "contacts/companies") -> Any:
    return hs.post(f"/crm/v4/associations/{path}/batch/create", json={"inputs": list(inputs)})


def _modified_since(hs: httpx.Client, since: str) -> list[str]:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["associatedcompanyid"],
        "limit": 100,
    }
    found = hs.post("/crm/v3/objects/contacts/search", json=body)
    assert found.status_code == 200, found.text
    return [r["id"] for r in found.json()["results"]]


def _later(iso: str) -> str:
    """One millisecond after an ISO instant (as epoch ms), the next incremental window."""
    from sandbox.timefmt import parse_instant_ms

    return str(parse_instant_ms(iso) + 1)


def test_seeded_contacts_have_their_orgs_company(sandbox: SandboxServer, hs: httpx.Client) -> None:
    control(sandbox, "POST", "/seed", {"people": 300, "seed": 5, "tools": ["hubspot"]})
    seeded = str(int(time.time() * 1000) + 1)
    truth = control(sandbox, "GET", "/truth?tool=hubspot")
    companies_of_org: dict[str, list[int]] = {}
    for key, org_id in truth.items():
        if key.startswith("hubspot:companies:"):
            companies_of_org.setdefault(org_id, []).append(int(key.split(":")[2]))
    contact_ids = [k.split(":")[2] for k in truth if k.startswith("hubspot:contacts:")]
    page = hs.get(
        "/crm/v3/objects/contacts",
        params={"limit": 100, "properties": "company,associatedcompanyid"},
    ).json()["results"]
    assert len(page) == 100
    read = hs.post(
        "/crm/v3/objects/contacts/batch/read",
        json={
            "inputs": [{"id": i} for i in contact_ids[:50]],
            "properties": ["associatedcompanyid"],
        },
    ).json()["results"]
    assert {r["id"]: r["properties"]["associatedcompanyid"] for r in read} == {
        r["id"]: r["properties"]["associatedcompanyid"] for r in page if r["id"] in contact_ids[:50]
    }
    for contact in page:
        company_id = contact["properties"]["associatedcompanyid"]
        org_id = truth[f"hubspot:companies:{company_id}"]
        assert int(company_id) == min(companies_of_org[org_id])  # the original company
        company = hs.get(f"/crm/v3/objects/companies/{company_id}").json()
        assert company["properties"]["name"] == contact["properties"]["company"]
    # search filters on it like any property, and the link is the primary in v4
    some = page[0]["properties"]["associatedcompanyid"]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "associatedcompanyid", "operator": "EQ", "value": some}]}
        ],
        "properties": ["associatedcompanyid"],
        "limit": 100,
    }
    found = hs.post("/crm/v3/objects/contacts/search", json=body).json()
    assert found["total"] >= 1
    assert {r["properties"]["associatedcompanyid"] for r in found["results"]} == {some}
    links = hs.get(f"/crm/v4/objects/contacts/{page[0]['id']}/associations/companies").json()
    assert [str(r["toObjectId"]) for r in links["results"]] == [some]
    assert [t["typeId"] for t in links["results"][0]["associationTypes"]] == [1, 279]
    back = hs.get(f"/crm/v4/objects/companies/{some}/associations/contacts").json()["results"]
    assert page[0]["id"] in {str(r["toObjectId"]) for r in back}
    # linking at seed time modifies no contact: all keep their seeded (past) lastmodifieddate
    assert _modified_since(hs, seeded) == []


def test_associatedcompanyid_is_read_only_and_defined(hs: httpx.Client) -> None:
    contact_id = _contact(hs, "ro@corp.io")
    assert _contact_props(hs, contact_id)["associatedcompanyid"] is None
    company_id = _company(hs, "Corp")
    for write in (
        lambda: hs.patch(
            f"/crm/v3/objects/contacts/{contact_id}",
            json={"properties": {"associatedcompanyid": company_id}},
        ),
        lambda: hs.post(
            "/crm/v3/objects/contacts",
            json={"properties": {"email": "x@corp.io", "associatedcompanyid": company_id}},
        ),
    ):
        refused = write()
        assert refused.status_code == 400
        assert "READ_ONLY_VALUE" in refused.json()["message"]
    assert _contact_props(hs, contact_id)["associatedcompanyid"] is None
    definition = hs.get("/crm/v3/properties/contacts/associatedcompanyid").json()
    assert definition["type"] == "number"
    assert definition["label"] == "Primary Associated Company ID"
    assert definition["modificationMetadata"]["readOnlyValue"] is True
    # not a default property: only returned when asked for
    plain = hs.get(f"/crm/v3/objects/contacts/{contact_id}").json()["properties"]
    assert "associatedcompanyid" not in plain


def test_primary_type_moves_primary_and_bumps_lastmodifieddate(hs: httpx.Client) -> None:
    contact_id = _contact(hs, "p@corp.io")
    first, second = _company(hs, "First"), _company(hs, "Second")
    made = _create(hs, _link(contact_id, first, UNLABELLED))
    assert made.status_code == 201, made.text
    assert made.json()["results"] == [
        {
            "fromObjectTypeId": "0-1",
            "fromObjectId": int(contact_id),
            "toObjectTypeId": "0-2",
            "toObjectId": int(first),
            "labels": ["Primary"],  # a contact's first company is its primary
        }
    ]
    before = _contact_props(hs, contact_id)
    assert before["associatedcompanyid"] == first
    time.sleep(0.01)
    since = _later(before["lastmodifieddate"])
    assert contact_id not in _modified_since(hs, since)
    made = _create(hs, _link(contact_id, second, PRIMARY))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "COMPLETE"
    assert made.json()["results"][0]["labels"] == ["Primary"]
    after = _contact_props(hs, contact_id)
    assert after["associatedcompanyid"] == second
    assert after["lastmodifieddate"] > before["lastmodifieddate"]
    assert contact_id in _modified_since(hs, since)
    links = hs.get(f"/crm/v4/objects/contacts/{contact_id}/associations/companies").json()
    types = {
        str(r["toObjectId"]): [t["typeId"] for t in r["associationTypes"]] for r in links["results"]
    }
    assert types == {second: [1, 279], first: [279]}  # the old primary stays, unlabelled
    # the reverse direction labels the company -> contact link of the primary company
    back = hs.get(f"/crm/v4/objects/companies/{second}/associations/contacts").json()["results"]
    assert [t["typeId"] for t in back[0]["associationTypes"]] == [2, 280]
    old_back = hs.get(f"/crm/v4/objects/companies/{first}/associations/contacts").json()
    assert [t["typeId"] for t in old_back["results"][0]["associationTypes"]] == [280]


def test_default_association_keeps_the_primary(hs: httpx.Client) -> None:
    contact_id = _contact(hs, "d@corp.io")
    first, second = _company(hs, "First"), _company(hs, "Second")
    inputs = {"inputs": [{"from": {"id": contact_id}, "to": {"id": first}}]}
    made = hs.post("/crm/v4/associations/0-1/0-2/batch/associate/default", json=inputs)
    assert made.status_code == 200, made.text
    specs = [r["associationSpec"]["associationTypeId"] for r in made.json()["results"]]
    assert specs == [1, 279]
    before = _contact_props(hs, contact_id)
    time.sleep(0.01)
    inputs = {"inputs": [{"from": {"id": contact_id}, "to": {"id": second}}]}
    made = hs.post("/crm/v4/associations/contacts/companies/batch/associate/default", json=inputs)
    assert made.status_code == 200, made.text
    assert made.json()["results"] == [
        {
            "from": {"id": contact_id},
            "to": {"id": second},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279},
        }
    ]
    after = _contact_props(hs, contact_id)
    assert after["associatedcompanyid"] == first
    assert after["lastmodifieddate"] == before["lastmodifieddate"]  # the primary did not change


def test_unknown_ids_are_errors_and_the_rest_applied(hs: httpx.Client) -> None:
    contact_id = _contact(hs, "u@corp.io")
    company_id = _company(hs, "Corp")
    made = _create(
        hs,
        _link(contact_id, "424242", PRIMARY),
        _link(contact_id, company_id, PRIMARY),
        _link("434343", company_id, UNLABELLED),
        _link(
            contact_id,
            company_id,
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3},
        ),
    )
    assert made.status_code == 207, made.text
    body = made.json()
    assert body["status"] == "COMPLETE"
    assert body["numErrors"] == 3
    assert [r["toObjectId"] for r in body["results"]] == [int(company_id)]
    for error in body["errors"]:
        assert error["status"] == "error"
        assert error["category"] == "VALIDATION_ERROR"
        assert error["message"]
    assert body["errors"][0]["context"] == {"toObjectId": ["424242"]}
    assert body["errors"][1]["context"] == {"fromObjectId": ["434343"]}
    assert _contact_props(hs, contact_id)["associatedcompanyid"] == company_id
    default = hs.post(
        "/crm/v4/associations/contacts/companies/batch/associate/default",
        json={"inputs": [{"from": {"id": contact_id}, "to": {"id": "999"}}]},
    )
    assert default.status_code == 207
    assert default.json()["numErrors"] == 1
    too_many = _create(hs, *[_link(contact_id, company_id, UNLABELLED)] * 1001)
    assert too_many.status_code == 400
    bad_type = hs.post("/crm/v4/associations/widgets/companies/batch/create", json={"inputs": []})
    assert bad_type.status_code == 400


def test_batch_read_returns_the_links(hs: httpx.Client) -> None:
    contact_id, lonely = _contact(hs, "r@corp.io"), _contact(hs, "l@corp.io")
    first, second = _company(hs, "First"), _company(hs, "Second")
    _create(hs, _link(contact_id, first, UNLABELLED), _link(contact_id, second, UNLABELLED))
    read = hs.post(
        "/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": contact_id}, {"id": lonely}]},
    )
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "COMPLETE"
    results = {r["from"]["id"]: r["to"] for r in read.json()["results"]}
    assert results[lonely] == []
    assert [
        (t["toObjectId"], [a["typeId"] for a in t["associationTypes"]]) for t in results[contact_id]
    ] == [
        (int(first), [1, 279]),
        (int(second), [279]),
    ]
    assert results[contact_id][0]["associationTypes"][0] == {
        "category": "HUBSPOT_DEFINED",
        "typeId": 1,
        "label": "Primary",
    }
    back = hs.post(
        "/crm/v4/associations/0-2/0-1/batch/read", json={"inputs": [{"id": second}, {"id": "777"}]}
    )
    assert back.status_code == 207
    assert [r["from"]["id"] for r in back.json()["results"]] == [second]
    assert [t["toObjectId"] for t in back.json()["results"][0]["to"]] == [int(contact_id)]
    assert back.json()["numErrors"] == 1


def test_primary_removed_archived_or_merged_bumps_the_contact(hs: httpx.Client) -> None:
    contact_id = _contact(hs, "m@corp.io")
    a, b, c = _company(hs, "A"), _company(hs, "B"), _company(hs, "C")
    _create(hs, *(_link(contact_id, x, UNLABELLED) for x in (a, b, c)))
    assert _contact_props(hs, contact_id)["associatedcompanyid"] == a

    def changed(action: Any, expected: str | None) -> None:
        before = _contact_props(hs, contact_id)
        time.sleep(0.01)
        assert action().status_code in (200, 204)
        after = _contact_props(hs, contact_id)
        assert after["associatedcompanyid"] == expected
        assert after["lastmodifieddate"] > before["lastmodifieddate"]
        assert contact_id in _modified_since(hs, _later(before["lastmodifieddate"]))

    changed(
        lambda: hs.delete(f"/crm/v4/objects/contacts/{contact_id}/associations/companies/{a}"), b
    )
    merge = {"primaryObjectId": c, "objectIdToMerge": b}
    changed(lambda: hs.post("/crm/v3/objects/companies/merge", json=merge), c)
    changed(lambda: hs.delete(f"/crm/v3/objects/companies/{c}"), None)
    # a company -> contact link of a contact with no company makes it the primary
    d = _company(hs, "D")
    changed(
        lambda: hs.put(f"/crm/v4/objects/companies/{d}/associations/default/contacts/{contact_id}"),
        d,
    )


def test_official_client_batch_create_and_read_back(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    client = hubspot.HubSpot(access_token=SANDBOX_HUBSPOT_TOKEN, host=sandbox.base_url("hubspot"))
    with httpx.Client(base_url=sandbox.base_url("hubspot"), headers=HS_AUTH, timeout=10) as hs:
        contact_id = _contact(hs, "sdk@corp.io")
        old, new = _company(hs, "Old"), _company(hs, "New")
        _create(hs, _link(contact_id, old, UNLABELLED))
    made = client.crm.associations.v4.batch_api.create(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": contact_id},
                    "to": {"id": new},
                    "types": [PRIMARY],
                }
            ]
        ),
    )
    assert made.status == "COMPLETE"
    assert [(r.to_object_id, r.labels) for r in made.results] == [(new, ["Primary"])]
    got = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["associatedcompanyid"])
    assert got.properties["associatedcompanyid"] == new
