"""simple-salesforce against the sandbox, with only the instance changed.

simple-salesforce hard-codes ``https://{instance}`` in every URL it builds, and the sandbox
serves plain HTTP on loopback; the one patch is the ``plain_http_session`` fixture's adapter,
which rewrites the scheme (nothing else: paths, headers and bodies are the SDK's own).
"""

from __future__ import annotations

import pytest
import requests
from sandbox_testkit import fresh
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def sf(sandbox: SandboxServer, plain_http_session: requests.Session) -> Salesforce:
    fresh(sandbox)
    instance = sandbox.base_url("salesforce").split("://", 1)[1]  # host:port/salesforce
    return Salesforce(
        instance=instance,
        session_id=SANDBOX_SALESFORCE_TOKEN,
        version="62.0",
        session=plain_http_session,
    )


def test_create_get_update_delete(sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Lovelace", "FirstName": "Ada", "Email": "ada@x.io"})
    assert created["success"] is True
    got = sf.Contact.get(created["id"])
    assert (got["Name"], got["Email"]) == ("Ada Lovelace", "ada@x.io")
    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Countess"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])
    contact = sf.Contact
    contact.describe()
    assert contact.api_usage["api-usage"].total == 100_000  # parsed from Sforce-Limit-Info


def test_upsert_by_external_id_and_get_by_custom_id(sf: Salesforce) -> None:
    assert sf.Contact.upsert("Revsync_Unified_Id__c/u-42", {"LastName": "Hopper"}) == 201
    assert sf.Contact.upsert("Revsync_Unified_Id__c/u-42", {"FirstName": "Grace"}) == 200
    got = sf.Contact.get_by_custom_id("Revsync_Unified_Id__c", "u-42")
    assert got["Name"] == "Grace Hopper"
    assert got["Revsync_Unified_Id__c"] == "u-42"


def test_query_and_query_all_follow_next_records_url(sf: Salesforce) -> None:
    ids = {sf.Contact.create({"LastName": f"N{i}"})["id"] for i in range(230)}
    first = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 230
    assert first["done"] is False
    assert len(first["records"]) == 200
    everything = sf.query_all(
        "SELECT Id, LastName FROM Contact ORDER BY SystemModstamp",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert {r["Id"] for r in everything["records"]} == ids
    gone = next(iter(ids))
    sf.Contact.delete(gone)
    deleted = sf.query_all("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted["records"]] == [gone]


def test_malformed_query_raises_the_sdk_error(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM Contact HAVING x")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_describe_and_limits(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert fields["Revsync_Unified_Id__c"]["externalId"] is True
    assert fields["SystemModstamp"]["updateable"] is False
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000


def test_the_sdk_creates_roles_and_reads_them_in_a_subquery(sf: Salesforce) -> None:
    opp = sf.Opportunity.create(
        {"Name": "Acme - New", "StageName": "Prospecting", "CloseDate": "2025-06-30"}
    )["id"]
    lone = sf.Opportunity.create(
        {"Name": "Zeta - New", "StageName": "Prospecting", "CloseDate": "2025-06-30"}
    )["id"]
    contact = sf.Contact.create({"LastName": "Lovelace"})["id"]
    role = sf.OpportunityContactRole.create(
        {"OpportunityId": opp, "ContactId": contact, "Role": "Economic Buyer", "IsPrimary": True}
    )
    assert role["success"] is True
    rows = sf.query_all(
        "SELECT Id, (SELECT ContactId, Role FROM OpportunityContactRoles) FROM Opportunity "
        "ORDER BY Name"
    )["records"]
    assert [r["Id"] for r in rows] == [opp, lone]
    nested = rows[0]["OpportunityContactRoles"]
    assert (nested["totalSize"], nested["done"]) == (1, True)
    assert [(r["ContactId"], r["Role"]) for r in nested["records"]] == [(contact, "Economic Buyer")]
    assert rows[1]["OpportunityContactRoles"] is None
