"""HubSpot and Mailchimp writers against respx: batching, partial failures, whole-call errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.hubspot.writer import HubSpotWriter
from connectors.mailchimp.writer import MailchimpWriter, subscriber_hash
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem

HS = "https://api.hubapi.com"
MC = "https://us6.api.mailchimp.com/3.0"
HS_CONN = Connection(tool="hubspot", base_url=HS, secrets={"access_token": SecretStr("pat-xyz")})
MC_CONN = Connection(
    tool="mailchimp",
    base_url=MC,
    secrets={"api_key": SecretStr("abc-us6")},
    options={"list_id": "L1"},
)


def _client(conn: Connection, sleeps: list[float] | None = None) -> httpx.Client:
    return build_client(
        conn,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )


def _people(n: int, start: int = 0) -> list[WriteItem]:
    return [
        WriteItem(key=f"p{i}@example.com", record_id=None, properties={"firstname": f"P{i}"})
        for i in range(start, start + n)
    ]


def _echo_upsert(request: httpx.Request) -> httpx.Response:
    inputs = json.loads(request.content)["inputs"]
    results = [
        {
            "id": str(1000 + int(i["id"][1:].split("@")[0])),
            "properties": {**i["properties"], "email": i["id"]},
            "new": True,
            "objectWriteTraceId": i["objectWriteTraceId"],
        }
        for i in inputs
    ]
    return httpx.Response(200, json={"status": "COMPLETE", "results": results})


# ---------------------------------------------------------------- HubSpot


@respx.mock(base_url=HS, assert_all_called=False)
def test_hubspot_upsert_batches_by_100_keyed_by_email(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("/crm/v3/objects/contacts/batch/upsert").mock(side_effect=_echo_upsert)
    writer = HubSpotWriter(HS_CONN, _client(HS_CONN))
    outcomes = writer.upsert("person", _people(250))
    assert route.call_count == 3
    sizes = [len(json.loads(c.request.content)["inputs"]) for c in route.calls]
    assert sizes == [100, 100, 50]
    first = json.loads(route.calls[0].request.content)["inputs"][0]
    assert first["idProperty"] == "email"
    assert first["id"] == "p0@example.com"
    assert first["properties"]["email"] == "p0@example.com"
    assert [o.key for o in outcomes] == [f"p{i}@example.com" for i in range(250)]
    assert all(o.ok and o.created for o in outcomes)
    assert outcomes[249].record_id == "1249"
    assert route.calls[0].request.headers["Authorization"] == "Bearer pat-xyz"


@respx.mock(base_url=HS)
def test_hubspot_207_maps_item_errors_by_trace_id(respx_mock: respx.MockRouter) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        good, bad = inputs[0], inputs[1]
        return httpx.Response(
            207,
            json={
                "status": "COMPLETE",
                "results": [
                    {
                        "id": "11",
                        "properties": {"email": good["id"]},
                        "new": False,
                        "objectWriteTraceId": good["objectWriteTraceId"],
                    }
                ],
                "numErrors": 1,
                "errors": [
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "objectWriteTraceId": bad["objectWriteTraceId"],
                        "context": {},
                    }
                ],
            },
        )

    respx_mock.post("/crm/v3/objects/contacts/batch/upsert").mock(side_effect=handle)
    outcomes = HubSpotWriter(HS_CONN, _client(HS_CONN)).upsert("person", _people(2))
    assert outcomes[0].ok
    assert outcomes[0].record_id == "11"
    assert outcomes[0].created is False
    assert not outcomes[1].ok
    assert outcomes[1].error == "VALIDATION_ERROR: Property values were not valid"


@respx.mock(base_url=HS)
def test_hubspot_linked_records_go_through_batch_update(respx_mock: respx.MockRouter) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        return httpx.Response(
            200,
            json={
                "status": "COMPLETE",
                "results": [{"id": i["id"], "properties": i["properties"]} for i in inputs],
            },
        )

    update = respx_mock.post("/crm/v3/objects/contacts/batch/update").mock(side_effect=handle)
    upsert = respx_mock.post("/crm/v3/objects/contacts/batch/upsert").mock(side_effect=_echo_upsert)
    items = [
        WriteItem("p1@example.com", "501", {"firstname": "A"}),
        WriteItem("p2@example.com", None, {"firstname": "B"}),
        WriteItem("new@example.com", "502", {"email": "new@example.com"}),
    ]
    outcomes = HubSpotWriter(HS_CONN, _client(HS_CONN)).upsert("person", items)
    sent = json.loads(update.calls[0].request.content)["inputs"]
    assert [i["id"] for i in sent] == ["501", "502"]
    assert "idProperty" not in sent[0]
    assert upsert.call_count == 1
    assert [o.record_id for o in outcomes] == ["501", "1002", "502"]
    assert [o.created for o in outcomes] == [False, True, False]


@respx.mock(base_url=HS)
def test_hubspot_opt_out_goes_through_communication_preferences(
    respx_mock: respx.MockRouter,
) -> None:
    """hs_email_optout is read-only in the CRM API: "true" becomes an unsubscribe-all of the
    email address, "false" is never sent, and a refusal there is that record's error."""
    update = respx_mock.post("/crm/v3/objects/contacts/batch/update").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "status": "COMPLETE",
                "results": [
                    {"id": i["id"], "properties": i["properties"]}
                    for i in json.loads(request.content)["inputs"]
                ],
            },
        )
    )
    ok_path = "/communication-preferences/v4/statuses/p1%40example.com/unsubscribe-all"
    bad_path = "/communication-preferences/v4/statuses/p3%40example.com/unsubscribe-all"
    ok = respx_mock.post(ok_path, params={"channel": "EMAIL"}).mock(
        return_value=httpx.Response(200, json={"status": "COMPLETE", "results": []})
    )
    bad = respx_mock.post(bad_path, params={"channel": "EMAIL"}).mock(
        return_value=httpx.Response(
            400, json={"status": "error", "category": "VALIDATION_ERROR", "message": "nope"}
        )
    )
    items = [
        WriteItem("p1@example.com", "501", {"hs_email_optout": "true"}),
        WriteItem("p2@example.com", "502", {"firstname": "B", "hs_email_optout": "false"}),
        WriteItem("p3@example.com", "503", {"hs_email_optout": "true"}),
    ]
    outcomes = HubSpotWriter(HS_CONN, _client(HS_CONN)).upsert("person", items)
    (call,) = update.calls
    assert json.loads(call.request.content)["inputs"] == [
        {"id": "502", "properties": {"firstname": "B"}, "objectWriteTraceId": ANY}
    ]
    assert (ok.call_count, bad.call_count) == (1, 1)
    assert [o.ok for o in outcomes] == [True, True, False]
    assert outcomes[2].error is not None
    assert outcomes[2].error.startswith("written, but not unsubscribed")


@respx.mock(base_url=HS)
def test_hubspot_400_batch_is_bisected_to_the_bad_record(respx_mock: respx.MockRouter) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        if any(i["id"] == "p2@example.com" for i in inputs):
            return httpx.Response(
                400, json={"category": "VALIDATION_ERROR", "message": "Invalid email p2"}
            )
        return _echo_upsert(request)

    route = respx_mock.post("/crm/v3/objects/contacts/batch/upsert").mock(side_effect=handle)
    outcomes = HubSpotWriter(HS_CONN, _client(HS_CONN)).upsert("person", _people(5))
    assert [o.ok for o in outcomes] == [True, True, False, True, True]
    assert outcomes[2].error == "Invalid email p2"
    assert route.call_count > 1


@respx.mock(base_url=HS)
def test_hubspot_429_retry_after_applies_to_writes(respx_mock: respx.MockRouter) -> None:
    respx_mock.post("/crm/v3/objects/contacts/batch/upsert").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}, json={"errorType": "RATE_LIMIT"}),
            _echo_upsert,
        ]
    )
    sleeps: list[float] = []
    outcomes = HubSpotWriter(HS_CONN, _client(HS_CONN, sleeps)).upsert("person", _people(1))
    assert outcomes[0].ok
    assert sleeps == [3.0]


@pytest.mark.parametrize(
    ("status", "hint", "error_class"),
    [
        (401, "check the private app token", ErrorClass.FATAL),
        (403, "crm.objects.contacts.write", ErrorClass.FATAL),
        (503, "try again later", ErrorClass.RETRY),
        (429, "try again later", ErrorClass.RATE_LIMITED),
    ],
)
def test_hubspot_whole_call_failures_raise_write_failed(
    status: int, hint: str, error_class: ErrorClass
) -> None:
    with respx.mock(base_url=HS) as router:
        router.post("/crm/v3/objects/contacts/batch/upsert").mock(
            return_value=httpx.Response(status, json={"message": "nope"})
        )
        writer = HubSpotWriter(HS_CONN, _client(HS_CONN))
        with pytest.raises(WriteFailed) as caught:
            writer.upsert("person", _people(3))
    assert hint in str(caught.value)
    assert caught.value.error_class is error_class
    assert caught.value.status == status
    assert caught.value.tool == "hubspot"


@respx.mock(base_url=HS)
def test_hubspot_merge_contacts(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("/crm/v3/objects/contacts/merge").mock(
        return_value=httpx.Response(200, json={"id": "1", "properties": {}})
    )
    assert HubSpotWriter(HS_CONN, _client(HS_CONN)).merge_contacts("1", "2")["id"] == "1"
    assert json.loads(route.calls[0].request.content) == {
        "primaryObjectId": "1",
        "objectIdToMerge": "2",
    }


# ---------------------------------------------------------------- Mailchimp


def _member(email: str) -> dict[str, Any]:
    return {"id": hashlib.md5(email.lower().encode()).hexdigest(), "email_address": email}


def _subscribed(n: int, start: int = 0) -> list[WriteItem]:
    return [
        WriteItem(
            f"m{i}@example.com",
            None,
            {"status": "subscribed", "merge_fields": {"FNAME": f"M{i}"}},
        )
        for i in range(start, start + n)
    ]


@respx.mock(base_url=MC)
def test_mailchimp_batch_subscribe_500_per_call_with_errors(respx_mock: respx.MockRouter) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["update_existing"] is True
        emails = [m["email_address"] for m in body["members"]]
        failing = [e for e in emails if e == "m7@example.com"]
        created = [_member(e) for e in emails if e not in failing and int(e[1:].split("@")[0]) % 2]
        updated = [
            _member(e) for e in emails if e not in failing and not int(e[1:].split("@")[0]) % 2
        ]
        return httpx.Response(
            200,
            json={
                "new_members": created,
                "updated_members": updated,
                "errors": [
                    {"email_address": e, "error": "looks fake", "error_code": "ERROR_GENERIC"}
                    for e in failing
                ],
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(failing),
            },
        )

    route = respx_mock.post("/lists/L1").mock(side_effect=handle)
    outcomes = MailchimpWriter(MC_CONN, _client(MC_CONN)).upsert("person", _subscribed(1200))
    assert [len(json.loads(c.request.content)["members"]) for c in route.calls] == [500, 500, 200]
    assert outcomes[1].ok
    assert outcomes[1].created
    assert outcomes[2].ok
    assert not outcomes[2].created
    assert outcomes[1].record_id == subscriber_hash("m1@example.com")
    assert not outcomes[7].ok
    assert outcomes[7].error == "ERROR_GENERIC: looks fake"
    assert sum(o.ok for o in outcomes) == 1199


@respx.mock(base_url=MC)
def test_mailchimp_update_without_status_uses_put_by_hash(respx_mock: respx.MockRouter) -> None:
    email = "Someone@Example.com"
    expected_hash = hashlib.md5(b"someone@example.com").hexdigest()
    route = respx_mock.put(f"/lists/L1/members/{expected_hash}").mock(
        return_value=httpx.Response(200, json=_member(email))
    )
    items = [
        WriteItem(
            "someone@example.com", expected_hash, {"email_address": email, "merge_fields": {}}
        )
    ]
    outcomes = MailchimpWriter(MC_CONN, _client(MC_CONN)).upsert("person", items)
    body = json.loads(route.calls[0].request.content)
    assert body["status_if_new"] == "transactional"
    assert "status" not in body
    assert outcomes[0].ok
    assert outcomes[0].record_id == expected_hash
    assert route.calls[0].request.headers["Authorization"].startswith("Basic ")


@respx.mock(base_url=MC)
def test_mailchimp_creates_batch_subscribe_and_put_the_members_that_exist(
    respx_mock: respx.MockRouter,
) -> None:
    batch = respx_mock.post("/lists/L1").mock(
        return_value=httpx.Response(
            200,
            json={
                "new_members": [_member("new@example.com")],
                "updated_members": [],
                "errors": [
                    {
                        "email_address": "old@example.com",
                        "error": "old@example.com is already a list member",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                ],
                "error_count": 1,
            },
        )
    )
    put = respx_mock.put(f"/lists/L1/members/{subscriber_hash('old@example.com')}").mock(
        return_value=httpx.Response(200, json=_member("old@example.com"))
    )
    items = [
        WriteItem(
            "new@example.com",
            None,
            {"email_address": "new@example.com", "status_if_new": "subscribed"},
        ),
        WriteItem(
            "old@example.com",
            None,
            {"email_address": "old@example.com", "status_if_new": "subscribed"},
        ),
    ]

    outcomes = MailchimpWriter(MC_CONN, _client(MC_CONN)).upsert("person", items)

    sent = json.loads(batch.calls[0].request.content)
    assert sent["update_existing"] is False
    assert [m["status"] for m in sent["members"]] == ["subscribed", "subscribed"]
    assert all("status_if_new" not in m for m in sent["members"])
    put_body = json.loads(put.calls[0].request.content)
    assert "status" not in put_body, "an existing member's subscription status is left alone"
    assert [(o.ok, o.created) for o in outcomes] == [(True, True), (True, False)]
    assert outcomes[1].record_id == subscriber_hash("old@example.com")


@respx.mock(base_url=MC)
def test_mailchimp_email_change_patches_the_old_hash(respx_mock: respx.MockRouter) -> None:
    old = subscriber_hash("old@example.com")
    route = respx_mock.patch(f"/lists/L1/members/{old}").mock(
        return_value=httpx.Response(200, json=_member("new@example.com"))
    )
    items = [WriteItem("new@example.com", old, {"merge_fields": {"FNAME": "N"}})]
    outcomes = MailchimpWriter(MC_CONN, _client(MC_CONN)).upsert("person", items)
    assert json.loads(route.calls[0].request.content)["email_address"] == "new@example.com"
    assert outcomes[0].record_id == subscriber_hash("new@example.com")


@respx.mock(base_url=MC)
def test_mailchimp_single_400_is_an_outcome_not_an_exception(respx_mock: respx.MockRouter) -> None:
    respx_mock.put(url__regex=r"/lists/L1/members/\w+").mock(
        return_value=httpx.Response(
            400,
            json={
                "type": "x",
                "title": "Invalid Resource",
                "status": 400,
                "detail": "Please provide a valid email address.",
                "instance": "i",
            },
        )
    )
    outcomes = MailchimpWriter(MC_CONN, _client(MC_CONN)).upsert(
        "person", [WriteItem("bad@", subscriber_hash("bad@"), {})]
    )
    assert not outcomes[0].ok
    assert outcomes[0].error == "Please provide a valid email address."


@respx.mock(base_url=MC)
def test_mailchimp_put_member_helper_and_404_list(respx_mock: respx.MockRouter) -> None:
    respx_mock.put(url__regex=r"/lists/L1/members/\w+").mock(
        return_value=httpx.Response(404, json={"title": "Resource Not Found", "detail": "x"})
    )
    with pytest.raises(WriteFailed, match="REVSYNC_MAILCHIMP_LIST_ID"):
        MailchimpWriter(MC_CONN, _client(MC_CONN)).put_member("a@example.com", {})
