"""The Salesforce writer against respx: collections of 200, per-record results in order,
upserts only by the External ID, one token refresh on a 401."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.salesforce.writer import API, EXTERNAL_ID_FIELD, SalesforceWriter
from connectors.writer import WriteItem, upsert_isolating

BASE = "https://acme.my.salesforce.com"
TOKEN_URL = f"{BASE}/services/oauth2/token"
UPSERT_URL = f"{BASE}{API}/composite/sobjects/Contact/{EXTERNAL_ID_FIELD}"
UPDATE_URL = f"{BASE}{API}/composite/sobjects"
CONN = Connection(
    tool="salesforce",
    base_url=BASE,
    secrets={
        "client_id": SecretStr("consumer-key-123"),
        "client_secret": SecretStr("consumer-secret-456"),
        "refresh_token": SecretStr("refresh-token-789"),
    },
)


def _writer(sleeps: list[float] | None = None) -> SalesforceWriter:
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return SalesforceWriter(CONN, client)


def _people(n: int, start: int = 0) -> list[WriteItem]:
    return [
        WriteItem(
            key=f"u{i}",
            record_id=None,
            properties={"LastName": f"P{i}", "Email": f"p{i}@x.io", EXTERNAL_ID_FIELD: f"u{i}"},
        )
        for i in range(start, start + n)
    ]


def _token(access: str = "session-1") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": access,
            "instance_url": BASE,
            "id": f"{BASE}/id/00D/005",
            "token_type": "Bearer",
            "issued_at": "1700000000000",
            "signature": "sig",
        },
    )


def _ok_all(request: httpx.Request) -> httpx.Response:
    records = json.loads(request.content)["records"]
    results = [
        {"id": f"003{n:015d}", "success": True, "errors": [], "created": True}
        for n, _ in enumerate(records)
    ]
    return httpx.Response(200, json=results, headers={"Sforce-Limit-Info": "api-usage=3/15000"})


@respx.mock
def test_a_batch_with_one_refused_record_fails_that_one_only() -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())

    def answer(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["records"]
        results: list[dict[str, Any]] = []
        for n, record in enumerate(records):
            if record[EXTERNAL_ID_FIELD] == "u1":
                error = {
                    "statusCode": "DUPLICATES_DETECTED",
                    "message": "Use one of these records?",
                    "fields": [],
                }
                results.append({"id": None, "success": False, "errors": [error]})
            else:
                results.append({"id": f"003A{n}", "success": True, "errors": [], "created": n == 0})
        return httpx.Response(200, json=results)

    route = respx.patch(UPSERT_URL).mock(side_effect=answer)
    outcomes = _writer().upsert("person", _people(3))

    assert [o.key for o in outcomes] == ["u0", "u1", "u2"]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None
    assert outcomes[1].error.startswith("DUPLICATES_DETECTED: Use one of these records?")
    assert (outcomes[0].record_id, outcomes[0].created) == ("003A0", True)
    assert (outcomes[2].record_id, outcomes[2].created) == ("003A2", False)
    body = json.loads(route.calls.last.request.content)
    assert body["allOrNone"] is False
    assert body["records"][0]["attributes"] == {"type": "Contact"}


@respx.mock
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"),
        (
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "LeadSource: bad value for restricted picklist",
        ),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Phone must have 10 digits"),
    ],
)
def test_the_vendor_code_and_message_reach_the_outcome(code: str, message: str) -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())
    error = {"statusCode": code, "message": message, "fields": ["LastName"]}
    respx.patch(UPSERT_URL).mock(
        return_value=httpx.Response(200, json=[{"id": None, "success": False, "errors": [error]}])
    )
    (outcome,) = _writer().upsert("person", _people(1))
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith(f"{code}: {message}")


@respx.mock
def test_a_401_refreshes_the_token_once_and_retries() -> None:
    tokens = respx.post(TOKEN_URL).mock(side_effect=[_token("old"), _token("new")])
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer old":
            return httpx.Response(
                401,
                json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
            )
        return _ok_all(request)

    respx.patch(UPSERT_URL).mock(side_effect=answer)
    outcomes = _writer().upsert("person", _people(2))

    assert all(o.ok for o in outcomes)
    assert seen == ["Bearer old", "Bearer new"]
    assert tokens.call_count == 2
    form = parse_qs(tokens.calls.last.request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": ["consumer-key-123"],
        "client_secret": ["consumer-secret-456"],
        "refresh_token": ["refresh-token-789"],
    }


@respx.mock
def test_a_second_401_is_fatal_and_says_what_to_fix() -> None:
    respx.post(TOKEN_URL).mock(side_effect=[_token("a"), _token("b")])
    respx.patch(UPSERT_URL).mock(
        return_value=httpx.Response(
            401, json=[{"message": "no", "errorCode": "INVALID_SESSION_ID"}]
        )
    )
    with pytest.raises(WriteFailed) as failed:
        _writer().upsert("person", _people(1))
    assert failed.value.error_class is ErrorClass.FATAL
    assert "REVSYNC_SALESFORCE_REFRESH_TOKEN" in str(failed.value)
    assert "refresh-token-789" not in str(failed.value)


@respx.mock
def test_creates_go_in_collections_of_200_and_linked_records_update_by_id() -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())
    upserts = respx.patch(UPSERT_URL).mock(side_effect=_ok_all)
    updates = respx.patch(UPDATE_URL).mock(side_effect=_ok_all)
    linked = WriteItem(key="u-linked", record_id="003LINKED", properties={"Title": "VP"})
    items = [*_people(401), linked]

    outcomes = _writer().upsert("person", items)

    assert len(outcomes) == 402
    assert all(o.ok for o in outcomes)
    sizes = [len(json.loads(c.request.content)["records"]) for c in upserts.calls]
    assert sizes == [200, 200, 1]
    (update,) = [json.loads(c.request.content) for c in updates.calls]
    assert update["records"] == [
        {"attributes": {"type": "Contact"}, "id": "003LINKED", "Title": "VP"}
    ]
    assert outcomes[-1].created is False


def test_a_create_without_the_external_id_is_refused_without_a_call() -> None:
    item = WriteItem(key="ada@x.io", record_id=None, properties={"LastName": "Lovelace"})
    with respx.mock(assert_all_called=False) as mock:
        (outcome,) = _writer().upsert("person", [item])
        assert not mock.calls
    assert not outcome.ok
    assert outcome.error is not None
    assert EXTERNAL_ID_FIELD in outcome.error


@respx.mock
def test_a_missing_external_id_field_stops_the_run_with_the_fix() -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())
    respx.patch(UPSERT_URL).mock(
        return_value=httpx.Response(
            404,
            json=[
                {
                    "errorCode": "NOT_FOUND",
                    "message": "Provided external ID field does not exist or is not accessible",
                }
            ],
        )
    )
    with pytest.raises(WriteFailed) as failed:
        _writer().upsert("person", _people(2))
    assert failed.value.error_class is ErrorClass.FATAL
    assert "Contact.Revsync_Unified_Id__c" in str(failed.value)


@respx.mock
def test_a_call_refused_for_its_content_is_split_down_to_the_refused_record() -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())

    def answer(request: httpx.Request) -> httpx.Response:
        if b'"u2"' in request.content:
            return httpx.Response(400, json=[{"errorCode": "JSON_PARSER_ERROR", "message": "bad"}])
        return _ok_all(request)

    respx.patch(UPSERT_URL).mock(side_effect=answer)
    outcomes = upsert_isolating(_writer(), "person", _people(4))
    assert [o.ok for o in outcomes] == [True, True, False, True]
    assert outcomes[2].error is not None
    assert "JSON_PARSER_ERROR: bad" in outcomes[2].error


@respx.mock
def test_find_survivor_follows_the_master_of_a_merged_away_contact() -> None:
    respx.post(TOKEN_URL).mock(return_value=_token())
    query = respx.get(f"{BASE}{API}/queryAll").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 1,
                "done": True,
                "records": [{"Id": "003LOSER", "IsDeleted": True, "MasterRecordId": "003MASTER"}],
            },
        )
    )
    assert _writer().find_survivor("O'Brien@x.io") == "003MASTER"
    soql = query.calls.last.request.url.params["q"]
    assert "Email = 'o\\'brien@x.io'" in soql


def test_an_entity_it_does_not_write_is_a_config_error() -> None:
    from connectors.errors import ConfigError

    with pytest.raises(ConfigError):
        _writer().upsert("ticket", [])
