"""Salesforce sandbox: OpportunityContactRole over REST and parent-to-child subqueries.

The people on an Opportunity are OpportunityContactRole rows; a query reads them with the
Opportunity through the child relationship ``OpportunityContactRoles``, nested as a query
result, or null when the Opportunity has none.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from sandbox.salesforce.store import CONTACT_ROLES
from sandbox.server import SandboxServer
from sandbox.world import generate_world, load_world

AUTH = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
API = "/services/data/v62.0"
SUB = "(SELECT ContactId, IsPrimary FROM OpportunityContactRoles)"


@pytest.fixture
def sf(sandbox: SandboxServer) -> httpx.Client:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("salesforce") + API, headers=AUTH) as client:
        yield client


def _create(sf: httpx.Client, sobject: str, **values: Any) -> str:
    r = sf.post(f"/sobjects/{sobject}", json=values)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _deal(sf: httpx.Client, name: str) -> str:
    return _create(sf, "Opportunity", Name=name, StageName="Prospecting", CloseDate="2025-06-30")


def _records(sf: httpx.Client, soql: str, kind: str = "query") -> list[dict[str, Any]]:
    r = sf.get(f"/{kind}", params={"q": soql})
    assert r.status_code == 200, r.text
    return list(r.json()["records"])


def test_a_role_is_created_read_and_validated_like_salesforce(sf: httpx.Client) -> None:
    opp = _deal(sf, "Acme - New")
    contact = _create(sf, "Contact", LastName="Doe")
    role = _create(
        sf, "OpportunityContactRole", OpportunityId=opp, ContactId=contact, Role="Decision Maker"
    )
    assert role.startswith("00K")
    assert len(role) == 18
    row = sf.get(f"/sobjects/OpportunityContactRole/{role}").json()
    assert (row["OpportunityId"], row["ContactId"], row["Role"]) == (opp, contact, "Decision Maker")
    assert row["IsPrimary"] is False  # defaulted on create
    assert "OwnerId" not in row  # a role has no owner of its own
    assert row["attributes"]["type"] == "OpportunityContactRole"

    missing = sf.post("/sobjects/OpportunityContactRole", json={"OpportunityId": opp})
    assert missing.status_code == 400
    assert missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert missing.json()[0]["fields"] == ["ContactId"]
    # Role is an open picklist: an org's own value is taken.
    _create(sf, "OpportunityContactRole", OpportunityId=opp, ContactId=contact, Role="Champion")
    # OpportunityId is set on create only.
    moved = sf.patch(f"/sobjects/OpportunityContactRole/{role}", json={"OpportunityId": opp})
    assert moved.status_code == 400
    assert moved.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_describe_lists_the_roles_and_the_child_relationship(sf: httpx.Client) -> None:
    ocr = sf.get("/sobjects/OpportunityContactRole/describe").json()
    fields = {f["name"]: f for f in ocr["fields"]}
    assert ocr["keyPrefix"] == "00K"
    assert fields["ContactId"]["referenceTo"] == ["Contact"]
    assert fields["OpportunityId"]["updateable"] is False
    assert fields["IsPrimary"]["type"] == "boolean"
    role = fields["Role"]
    assert [v["value"] for v in role["picklistValues"]] == list(CONTACT_ROLES)
    assert role["restrictedPicklist"] is False
    opp = sf.get("/sobjects/Opportunity/describe").json()
    assert {
        "childSObject": "OpportunityContactRole",
        "field": "OpportunityId",
        "relationshipName": "OpportunityContactRoles",
    } in opp["childRelationships"]


def test_the_subquery_nests_each_rows_children_and_null_when_none(sf: httpx.Client) -> None:
    with_people, alone = _deal(sf, "With people"), _deal(sf, "Alone")
    a, b = _create(sf, "Contact", LastName="A"), _create(sf, "Contact", LastName="B")
    role_a = _create(
        sf, "OpportunityContactRole", OpportunityId=with_people, ContactId=a, IsPrimary=True
    )
    _create(sf, "OpportunityContactRole", OpportunityId=with_people, ContactId=b)

    rows = _records(sf, f"SELECT Id, Name, {SUB} FROM Opportunity ORDER BY Name")
    assert [r["Id"] for r in rows] == [alone, with_people]
    assert list(rows[1]) == ["attributes", "Id", "Name", "OpportunityContactRoles"]
    assert rows[0]["OpportunityContactRoles"] is None
    assert rows[1]["OpportunityContactRoles"] == {
        "totalSize": 2,
        "done": True,
        "records": [
            {
                "attributes": {
                    "type": "OpportunityContactRole",
                    "url": f"{API}/sobjects/OpportunityContactRole/{role_a}",
                },
                "ContactId": a,
                "IsPrimary": True,
            },
            {
                "attributes": rows[1]["OpportunityContactRoles"]["records"][1]["attributes"],
                "ContactId": b,
                "IsPrimary": False,
            },
        ],
    }


def test_where_on_the_parent_still_applies_and_the_subquery_filters_its_rows(
    sf: httpx.Client,
) -> None:
    one, two = _deal(sf, "One"), _deal(sf, "Two")
    a, b = _create(sf, "Contact", LastName="A"), _create(sf, "Contact", LastName="B")
    for opp in (one, two):
        _create(sf, "OpportunityContactRole", OpportunityId=opp, ContactId=a, Role="Evaluator")
    _create(sf, "OpportunityContactRole", OpportunityId=two, ContactId=b, IsPrimary=True)

    rows = _records(sf, f"SELECT Id, {SUB} FROM Opportunity WHERE Name = 'Two'", "queryAll")
    assert [r["Id"] for r in rows] == [two]
    assert {x["ContactId"] for x in rows[0]["OpportunityContactRoles"]["records"]} == {a, b}
    primary = _records(
        sf,
        "SELECT Id, (SELECT Contact.LastName FROM OpportunityContactRoles "
        "WHERE IsPrimary = true) FROM Opportunity ORDER BY Name",
    )
    assert primary[0]["OpportunityContactRoles"] is None  # One: no primary role
    (only,) = primary[1]["OpportunityContactRoles"]["records"]
    assert only["Contact"]["LastName"] == "B"
    limited = _records(
        sf,
        "SELECT Id, (SELECT Role FROM OpportunityContactRoles ORDER BY Role DESC NULLS LAST "
        "LIMIT 1) FROM Opportunity WHERE Id = '" + two + "'",
    )
    assert limited[0]["OpportunityContactRoles"]["records"][0]["Role"] == "Evaluator"
    # A Contact reads the same rows through its own relationship of the same name.
    (contact,) = _records(
        sf, f"SELECT Id, (SELECT OpportunityId FROM OpportunityContactRoles) FROM Contact "
        f"WHERE Id = '{a}'"
    )  # fmt: skip
    assert contact["OpportunityContactRoles"]["totalSize"] == 2


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id, (SELECT Id FROM Nopes) FROM Opportunity", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Nope FROM OpportunityContactRoles) FROM Opportunity", "INVALID_FIELD"),
        (
            "SELECT Id, (SELECT Id, (SELECT Id FROM Opportunities) FROM Contacts) FROM Account",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id, (SELECT COUNT() FROM OpportunityContactRoles) FROM Opportunity",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id, (SELECT Id FROM OpportunityContactRoles FROM Opportunity", "MALFORMED_QUERY"),
    ],
)
def test_wrong_or_unsupported_subqueries_are_refused(
    sf: httpx.Client, soql: str, code: str
) -> None:
    r = sf.get("/query", params={"q": soql})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == code


def test_a_role_added_or_deleted_leaves_the_opportunitys_stamp_alone(sf: httpx.Client) -> None:
    opp = _deal(sf, "Stamp")
    contact = _create(sf, "Contact", LastName="Doe")
    before = sf.get(f"/sobjects/Opportunity/{opp}").json()["SystemModstamp"]
    role = _create(sf, "OpportunityContactRole", OpportunityId=opp, ContactId=contact)
    assert sf.get(f"/sobjects/Opportunity/{opp}").json()["SystemModstamp"] == before
    assert sf.delete(f"/sobjects/OpportunityContactRole/{role}").status_code == 204
    # A role deleted on its own skips the Recycle Bin: queryAll does not see it either.
    assert (
        _records(sf, f"SELECT Id FROM OpportunityContactRole WHERE Id = '{role}'", "queryAll") == []
    )
    (row,) = _records(sf, f"SELECT Id, {SUB} FROM Opportunity", "queryAll")
    assert row["OpportunityContactRoles"] is None


def test_seeded_opportunities_have_their_accounts_people(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    world = generate_world(600, 3, tools=["salesforce"])
    again = generate_world(600, 3, tools=["salesforce"])
    streams = world.seeds["salesforce"].streams
    assert streams == again.seeds["salesforce"].streams
    load_world(sandbox.state, world)
    account_of = {c["Id"]: c["AccountId"] for c in streams["contacts"]}
    with httpx.Client(base_url=sandbox.base_url("salesforce") + API, headers=AUTH) as sf:
        rows = _records(sf, f"SELECT Id, AccountId, {SUB} FROM Opportunity", "queryAll")
    assert len(rows) == len(streams["opportunities"]) > 0
    for row in rows:
        roles = row["OpportunityContactRoles"]["records"]
        assert 1 <= len(roles) <= 3
        assert {account_of[r["ContactId"]] for r in roles} == {row["AccountId"]}
        assert sum(r["IsPrimary"] for r in roles) == 1
