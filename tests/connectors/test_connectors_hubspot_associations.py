"""The HubSpot writer sets a contact's primary company through associations v4, never as the
read-only ``associatedcompanyid`` property (respx: the refusals the sandbox does not stage)."""

from __future__ import annotations

import json

import httpx
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.http import build_client
from connectors.hubspot.writer import HubSpotWriter
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem

HS = "https://api.hubapi.com"
CONN = Connection(tool="hubspot", base_url=HS, secrets={"access_token": SecretStr("pat-xyz")})
ASSOCIATE = "/crm/v4/associations/contacts/companies/batch/create"


def _writer() -> HubSpotWriter:
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return HubSpotWriter(CONN, client)


def _updated(request: httpx.Request) -> httpx.Response:
    inputs = json.loads(request.content)["inputs"]
    results = [
        {
            "id": i["id"],
            "properties": i["properties"],
            "objectWriteTraceId": i["objectWriteTraceId"],
        }
        for i in inputs
    ]
    return httpx.Response(200, json={"status": "COMPLETE", "results": results})


def _items() -> list[WriteItem]:
    return [
        WriteItem("a@acme.io", "101", {"firstname": "Ada", "associatedcompanyid": "5001"}),
        WriteItem("b@acme.io", "102", {"firstname": "Bob"}),
        WriteItem("c@acme.io", "103", {"associatedcompanyid": "5009"}),
    ]


@respx.mock(base_url=HS, assert_all_called=True)
def test_the_company_goes_through_a_primary_association(respx_mock: respx.MockRouter) -> None:
    update = respx_mock.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=_updated)
    associate = respx_mock.post(ASSOCIATE).mock(
        return_value=httpx.Response(201, json={"status": "COMPLETE", "results": []})
    )

    outcomes = _writer().upsert("person", _items())

    assert [o.ok for o in outcomes] == [True, True, True]
    sent = json.loads(update.calls[0].request.content)["inputs"]
    assert all("associatedcompanyid" not in i["properties"] for i in sent)
    assert json.loads(associate.calls[0].request.content)["inputs"] == [
        {
            "from": {"id": record_id},
            "to": {"id": company_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
        }
        for record_id, company_id in (("101", "5001"), ("103", "5009"))
    ]


@respx.mock(base_url=HS, assert_all_called=True)
def test_a_refused_association_fails_only_its_record(respx_mock: respx.MockRouter) -> None:
    respx_mock.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=_updated)
    refused = {
        "status": "COMPLETE",
        "results": [],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "One or more associations are invalid",
                "context": {"fromObjectId": ["103"]},
            }
        ],
    }
    respx_mock.post(ASSOCIATE).mock(return_value=httpx.Response(207, json=refused))

    outcomes = _writer().upsert("person", _items())

    assert [o.ok for o in outcomes] == [True, True, False]
    assert outcomes[2].record_id == "103"
    assert outcomes[2].error is not None
    assert "companies 5009" in outcomes[2].error
    assert "VALIDATION_ERROR" in outcomes[2].error


@respx.mock(base_url=HS, assert_all_called=False)
def test_no_association_call_when_no_company_is_asked(respx_mock: respx.MockRouter) -> None:
    respx_mock.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=_updated)
    associate = respx_mock.post(ASSOCIATE)

    outcomes = _writer().upsert("person", [WriteItem("b@acme.io", "102", {"firstname": "Bob"})])

    assert outcomes[0].ok
    assert not associate.called
