"""Salesforce sandbox over real HTTP: SOQL paging, upserts, collections, limits, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_testkit import control, fresh

from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from sandbox.salesforce.store import id18
from sandbox.server import SandboxServer

AUTH = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
API = "/services/data/v62.0"


@pytest.fixture
def sf(sandbox: SandboxServer) -> httpx.Client:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("salesforce") + API, headers=AUTH) as client:
        yield client


def _contacts(sf: httpx.Client, n: int, **extra: Any) -> list[str]:
    ids = []
    for i in range(n):
        body = {"LastName": f"Doe{i}", "Email": f"p{i}@acme.io", **extra}
        r = sf.post("/sobjects/Contact", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def test_bad_session_is_401_invalid_session_id(sandbox: SandboxServer) -> None:
    r = httpx.get(sandbox.base_url("salesforce") + API + "/limits")
    assert r.status_code == 401
    assert r.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_ids_are_18_chars_with_case_safe_suffix(sf: httpx.Client) -> None:
    (cid,) = _contacts(sf, 1)
    assert len(cid) == 18
    assert cid.startswith("003")
    assert id18(cid[:15]) == cid
    assert sf.get(f"/sobjects/Contact/{cid[:15]}").json()["Id"] == cid  # 15-char ids resolve


def test_query_pages_with_next_records_url_and_batch_size(sf: httpx.Client) -> None:
    ids = _contacts(sf, 450)
    headers = {"Sforce-Query-Options": "batchSize=200"}
    q = "SELECT Id, Email FROM Contact ORDER BY SystemModstamp ASC"
    page = sf.get("/query", params={"q": q}, headers=headers).json()
    seen = [r["Id"] for r in page["records"]]
    assert page["totalSize"] == 450
    assert page["done"] is False
    assert len(seen) == 200
    assert page["nextRecordsUrl"].startswith(f"{API}/query/01g")
    while not page["done"]:
        page = sf.get(page["nextRecordsUrl"].removeprefix(API)).json()
        seen += [r["Id"] for r in page["records"]]
    assert seen == ids
    rec = page["records"][-1]
    assert rec["attributes"] == {"type": "Contact", "url": f"{API}/sobjects/Contact/{ids[-1]}"}
    assert list(rec) == ["attributes", "Id", "Email"]


def test_incremental_where_systemmodstamp_and_format(sf: httpx.Client) -> None:
    ids = _contacts(sf, 3)
    first = sf.get(f"/sobjects/Contact/{ids[0]}").json()
    stamp = first["SystemModstamp"]
    assert len(stamp) == 28
    assert stamp.endswith("+0000")
    assert stamp[19] == "."
    watermark = stamp.replace("+0000", "Z")
    q = f"SELECT Id FROM Contact WHERE SystemModstamp > {watermark} ORDER BY SystemModstamp"
    got = [r["Id"] for r in sf.get("/query", params={"q": q}).json()["records"]]
    later = [i for i in ids if sf.get(f"/sobjects/Contact/{i}").json()["SystemModstamp"] > stamp]
    assert got == later
    assert ids[0] not in got
    sf.patch(f"/sobjects/Contact/{ids[0]}", json={"Title": "CEO"})
    got = [r["Id"] for r in sf.get("/query", params={"q": q}).json()["records"]]
    assert got[-1] == ids[0]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact GROUP BY Id", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        (
            "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
    ],
)
def test_unsupported_or_wrong_soql_is_rejected(sf: httpx.Client, soql: str, code: str) -> None:
    r = sf.get("/query", params={"q": soql})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == code


def test_where_filters_like_in_count_and_relationships(sf: httpx.Client) -> None:
    acc = sf.post("/sobjects/Account", json={"Name": "Acme"}).json()["id"]
    _contacts(sf, 5, AccountId=acc)
    q = (
        "SELECT Id, Account.Name FROM Contact "
        "WHERE (Email LIKE 'P1%' OR Email IN ('p3@acme.io')) AND LastName != null"
    )
    recs = sf.get("/query", params={"q": q}).json()["records"]
    assert sorted(r["Account"]["Name"] for r in recs) == ["Acme", "Acme"]
    count = sf.get(
        "/query", params={"q": "SELECT COUNT() FROM Contact WHERE LastName = 'doe2'"}
    ).json()
    assert count == {"totalSize": 1, "done": True, "records": []}
    desc = sf.get(
        "/query", params={"q": "SELECT LastName FROM Contact ORDER BY LastName DESC LIMIT 2"}
    )
    assert [r["LastName"] for r in desc.json()["records"]] == ["Doe4", "Doe3"]


def test_delete_then_query_all_shows_is_deleted(sf: httpx.Client) -> None:
    ids = _contacts(sf, 2)
    assert sf.delete(f"/sobjects/Contact/{ids[0]}").status_code == 204
    assert sf.get(f"/sobjects/Contact/{ids[0]}").json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    q = "SELECT Id, IsDeleted FROM Contact"
    live = sf.get("/query", params={"q": q}).json()["records"]
    everything = sf.get("/queryAll", params={"q": q}).json()["records"]
    assert [r["Id"] for r in live] == [ids[1]]
    assert {r["Id"]: r["IsDeleted"] for r in everything} == {ids[0]: True, ids[1]: False}


def test_expired_query_locator(sandbox: SandboxServer, sf: httpx.Client) -> None:
    _contacts(sf, 250)
    page = sf.get(
        "/query",
        params={"q": "SELECT Id FROM Contact"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    ).json()
    with sandbox.state.lock:
        sandbox.state.salesforce.expire(0, everything=True)
    r = sf.get(page["nextRecordsUrl"].removeprefix(API))
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_write_validation_errors(sf: httpx.Client) -> None:
    r = sf.post("/sobjects/Contact", json={"FirstName": "A"})
    assert r.status_code == 400
    assert r.json() == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    assert (
        sf.post("/sobjects/Contact", json={"LastName": "A", "Nope__c": 1}).json()[0]["errorCode"]
        == "INVALID_FIELD"
    )
    assert (
        sf.post("/sobjects/Contact", json={"LastName": "A", "Email": "a@@b"}).json()[0]["errorCode"]
        == "INVALID_EMAIL_ADDRESS"
    )
    assert (
        sf.post("/sobjects/Contact", json={"LastName": "A", "SystemModstamp": "x"}).json()[0][
            "errorCode"
        ]
        == "INVALID_FIELD_FOR_INSERT_UPDATE"
    )
    opp = {"Name": "D", "StageName": "Nope", "CloseDate": "2025-01-01"}
    assert (
        sf.post("/sobjects/Opportunity", json=opp).json()[0]["errorCode"]
        == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )


def test_upsert_by_external_id_created_updated_and_multiple(sf: httpx.Client) -> None:
    url = "/sobjects/Contact/Revsync_Unified_Id__c/u-1"
    created = sf.patch(url, json={"LastName": "Up"})
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True
    assert body["created"] is True
    assert body["errors"] == []
    updated = sf.patch(url, json={"FirstName": "Ann"})
    assert updated.status_code == 200
    assert updated.json() == {**body, "created": False}
    assert sf.get(url).json()["Name"] == "Ann Up"
    (other,) = _contacts(sf, 1)
    dup = sf.patch(f"/sobjects/Contact/{other}", json={"Revsync_Unified_Id__c": "u-1"})
    assert dup.status_code == 400
    assert dup.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    # Account's external id is not unique: two matches are a 300 with the candidates' URLs.
    for name in ("A", "B"):
        sf.post("/sobjects/Account", json={"Name": name, "Revsync_Unified_Id__c": "o-1"})
    many = sf.patch("/sobjects/Account/Revsync_Unified_Id__c/o-1", json={"Name": "C"})
    assert many.status_code == 300
    assert len(many.json()) == 2
    nope = sf.patch("/sobjects/Contact/Email/x@y.io", json={"LastName": "x"})
    assert nope.status_code == 404
    assert nope.json()[0]["errorCode"] == "NOT_FOUND"


def test_collections_per_item_results_and_all_or_none(sf: httpx.Client) -> None:
    good = {"attributes": {"type": "Contact"}, "LastName": "A"}
    bad = {"attributes": {"type": "Contact"}, "FirstName": "B"}
    r = sf.post("/composite/sobjects", json={"allOrNone": False, "records": [good, bad]})
    assert r.status_code == 200
    first, second = r.json()
    assert first["success"] is True
    assert len(first["id"]) == 18
    assert second == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    before = sf.get("/query", params={"q": "SELECT COUNT() FROM Contact"}).json()["totalSize"]
    r = sf.post("/composite/sobjects", json={"allOrNone": True, "records": [good, bad]})
    assert [i["errors"][0]["statusCode"] for i in r.json()] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    after = sf.get("/query", params={"q": "SELECT COUNT() FROM Contact"}).json()["totalSize"]
    assert after == before
    too_many = sf.post("/composite/sobjects", json={"records": [good] * 201})
    assert too_many.status_code == 400
    assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    upd = sf.patch(
        "/composite/sobjects",
        json={"records": [{"attributes": {"type": "Contact"}, "id": first["id"], "Title": "CTO"}]},
    )
    assert upd.json()[0]["success"] is True
    assert sf.get(f"/sobjects/Contact/{first['id']}").json()["Title"] == "CTO"


def test_upsert_collection_by_external_id(sf: httpx.Client) -> None:
    recs = [
        {"attributes": {"type": "Contact"}, "Revsync_Unified_Id__c": f"k{i}", "LastName": f"L{i}"}
        for i in range(3)
    ]
    first = sf.patch(
        "/composite/sobjects/Contact/Revsync_Unified_Id__c",
        json={"allOrNone": False, "records": recs},
    )
    assert [i["created"] for i in first.json()] == [True, True, True]
    recs[1]["Title"] = "VP"
    second = sf.patch("/composite/sobjects/Contact/Revsync_Unified_Id__c", json={"records": recs})
    assert [i["created"] for i in second.json()] == [False, False, False]
    assert [i["id"] for i in second.json()] == [i["id"] for i in first.json()]


def test_partial_batch_fault_fails_every_nth_item(sandbox: SandboxServer, sf: httpx.Client) -> None:
    control(
        sandbox,
        "POST",
        "/faults",
        {"tool": "salesforce", "kind": "partial_batch", "every": 2, "path": "composite"},
    )
    recs = [{"attributes": {"type": "Contact"}, "LastName": f"L{i}"} for i in range(4)]
    out = sf.post("/composite/sobjects", json={"records": recs}).json()
    assert [i["success"] for i in out] == [True, False, True, False]


def test_limit_info_header_and_request_limit_exceeded(
    sandbox: SandboxServer, sf: httpx.Client
) -> None:
    control(sandbox, "POST", "/rate_limits", {"tool": "salesforce", "max": 3})
    try:
        first = sf.get("/limits")
        assert first.headers["Sforce-Limit-Info"] == "api-usage=1/3"
        assert first.json()["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
        sf.get("/limits")
        sf.get("/limits")
        over = sf.get("/limits")
        assert over.status_code == 403
        assert over.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    finally:
        control(sandbox, "POST", "/rate_limits", {"tool": "salesforce", "max": 100_000})


def test_injected_500_has_salesforce_array_body(sandbox: SandboxServer, sf: httpx.Client) -> None:
    control(sandbox, "POST", "/faults", {"tool": "salesforce", "kind": "500", "path": "/query"})
    r = sf.get("/query", params={"q": "SELECT Id FROM Contact"})
    assert r.status_code == 500
    assert r.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_duplicate_rule_blocks_when_enabled(sandbox: SandboxServer, sf: httpx.Client) -> None:
    _contacts(sf, 1)
    with sandbox.state.lock:
        sandbox.state.salesforce.block_duplicates = True
    r = sf.post("/sobjects/Contact", json={"LastName": "Other", "Email": "P0@acme.io"})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "DUPLICATES_DETECTED"
