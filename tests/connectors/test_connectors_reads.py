"""Manifest reads through the CDK against small fake APIs (requests-mock, generated pages)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import requests_mock as rm
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, ReadFailed
from connectors.runner import Checkpoint, Record, cdk_sleep, read_stream

HS = "https://api.hubapi.com"
MC = "https://us6.api.mailchimp.com/3.0"
TOKEN = "pat-na1-very-secret"
HS_CONN = Connection(tool="hubspot", base_url=HS, secrets={"access_token": SecretStr(TOKEN)})
MC_CONN = Connection(
    tool="mailchimp",
    base_url=MC,
    secrets={"api_key": SecretStr("key-us6")},
    options={"list_id": "L1"},
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_cdk_sleep() -> Iterator[list[float]]:
    sleeps: list[float] = []
    with cdk_sleep(sleeps.append):
        yield sleeps


class FakeHubSpotSearch:
    """Contacts search with HubSpot's semantics: GTE filter, ascending sort, 10,000-result cap."""

    CAP = 10_000

    def __init__(self, n: int, *, fail_after_pages: int | None = None, status: int = 500) -> None:
        self.contacts = [
            {
                "id": str(i + 1),
                "properties": {"email": f"p{i}@example.com", "firstname": f"P{i}"},
                "createdAt": _iso_ms(T0),
                "updatedAt": _iso_ms(T0 + timedelta(seconds=i)),
                "archived": False,
            }
            for i in range(n)
        ]
        self.bodies: list[dict[str, Any]] = []
        self.fail_after_pages = fail_after_pages
        self.status = status

    def __call__(self, request: requests.PreparedRequest, context: Any) -> dict[str, Any]:
        body = request.json()  # type: ignore[attr-defined]
        self.bodies.append(body)
        if self.fail_after_pages is not None and len(self.bodies) > self.fail_after_pages:
            context.status_code = self.status
            return {"status": "error", "message": "boom", "category": "INTERNAL"}
        since = int(body["filterGroups"][0]["filters"][0]["value"])
        matching = [c for c in self.contacts if _ms(c["updatedAt"]) >= since][: self.CAP]
        after = int(body.get("after") or 0)
        page = matching[after : after + body["limit"]]
        out: dict[str, Any] = {"total": len(matching), "results": page}
        if after + body["limit"] < len(matching):
            out["paging"] = {"next": {"after": str(after + body["limit"])}}
        return out


def _iso_ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _ms(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def _split(items: list[Record | Checkpoint]) -> tuple[list[Record], list[Checkpoint]]:
    return (
        [i for i in items if isinstance(i, Record)],
        [i for i in items if isinstance(i, Checkpoint)],
    )


def _read(conn: Connection, stream: str, state: dict[str, Any] | None) -> list[Record | Checkpoint]:
    return list(read_stream(conn, stream, state))


def test_hubspot_contacts_paginate_and_checkpoint_the_last_record() -> None:
    api = FakeHubSpotSearch(250)
    with rm.Mocker() as mock:
        mock.post(f"{HS}/crm/v3/objects/contacts/search", json=api)
        records, checkpoints = _split(_read(HS_CONN, "contacts", None))
    assert [r.data["id"] for r in records] == [str(i + 1) for i in range(250)]
    assert records[0].data["properties"]["email"] == "p0@example.com"  # nested, whole
    assert [b.get("after") for b in api.bodies] == [None, "100", "200"]
    first = api.bodies[0]
    assert first["limit"] == 100
    assert first["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert first["filterGroups"][0]["filters"][0]["operator"] == "GTE"
    assert "hs_object_id" in first["properties"]
    assert "lastmodifieddate" in first["properties"]
    assert checkpoints[-1].state == {"updatedAt": "2024-01-01T00:04:09.000000Z"}
    assert mock.request_history[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_hubspot_state_in_filters_from_the_cursor_minus_lookback() -> None:
    api = FakeHubSpotSearch(300)
    state = {"updatedAt": "2024-01-01T00:03:20.000000Z"}  # record index 200
    with rm.Mocker() as mock:
        mock.post(f"{HS}/crm/v3/objects/contacts/search", json=api)
        records, checkpoints = _split(_read(HS_CONN, "contacts", state))
    sent = int(api.bodies[0]["filterGroups"][0]["filters"][0]["value"])
    assert sent == _ms("2024-01-01T00:02:20.000Z")  # one minute of lookback
    assert isinstance(api.bodies[0]["filterGroups"][0]["filters"][0]["value"], str)
    assert records[0].data["id"] == "141"
    assert len(records) == 160
    assert checkpoints[-1].state == {"updatedAt": "2024-01-01T00:04:59.000000Z"}


def test_hubspot_search_cap_is_split_using_the_cursor() -> None:
    api = FakeHubSpotSearch(10_250)
    with rm.Mocker() as mock:
        mock.post(f"{HS}/crm/v3/objects/contacts/search", json=api)
        records, checkpoints = _split(_read(HS_CONN, "contacts", None))
    ids = {r.data["id"] for r in records}
    assert ids == {str(i + 1) for i in range(10_250)}  # nothing lost past the 10k cap
    restarts = [b for b in api.bodies if b.get("after") is None]
    assert len(restarts) == 2
    restart_from = int(restarts[1]["filterGroups"][0]["filters"][0]["value"])
    assert restart_from == _ms(api.contacts[9_999]["updatedAt"])  # last record of the first 10k
    assert checkpoints[-1].state == {"updatedAt": api.contacts[-1]["updatedAt"][:-4] + "000000Z"}


def test_hubspot_failed_page_raises_after_yielding_and_never_checkpoints_past_it() -> None:
    api = FakeHubSpotSearch(500, fail_after_pages=2)
    state = {"updatedAt": "2023-12-31T00:00:00.000000Z"}
    got: list[Record | Checkpoint] = []
    with rm.Mocker() as mock:
        mock.post(f"{HS}/crm/v3/objects/contacts/search", json=api)
        with pytest.raises(ReadFailed) as caught:
            got.extend(read_stream(HS_CONN, "contacts", state))
    records, checkpoints = _split(got)
    assert len(records) == 200
    last_good = records[-1].data["updatedAt"]
    for checkpoint in checkpoints:
        assert checkpoint.state["updatedAt"] <= last_good.replace(".000Z", ".000000Z")
    assert caught.value.tool == "hubspot"
    assert caught.value.stream == "contacts"
    assert caught.value.error_class is ErrorClass.RETRY
    assert len(api.bodies) == 2 + 6  # the failing page was tried 1 + max_retries times


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "check the private app token"), (403, "lacks scope crm.objects.contacts.read")],
)
def test_hubspot_auth_errors_are_fatal_with_operator_message(status: int, hint: str) -> None:
    with rm.Mocker() as mock:
        mock.post(
            f"{HS}/crm/v3/objects/contacts/search",
            status_code=status,
            json={"status": "error", "message": f"token {TOKEN} is bad", "category": "X"},
        )
        with pytest.raises(ReadFailed) as caught:
            _read(HS_CONN, "contacts", None)
    assert hint in str(caught.value)
    assert caught.value.error_class is ErrorClass.FATAL
    assert TOKEN not in str(caught.value)
    assert mock.call_count == 1  # no retry for auth errors


def test_hubspot_429_waits_retry_after_then_continues() -> None:
    sleeps: list[float] = []
    api = FakeHubSpotSearch(150)
    with rm.Mocker() as mock:
        mock.post(
            f"{HS}/crm/v3/objects/contacts/search",
            [
                {
                    "status_code": 429,
                    "headers": {"Retry-After": "4"},
                    "json": {"errorType": "RATE_LIMIT"},
                },
                {"json": api},
                {"json": api},
            ],
        )
        with cdk_sleep(sleeps.append):
            records, _ = _split(_read(HS_CONN, "contacts", None))
    assert len(records) == 150
    assert any(abs(s - 4) <= 1.0 for s in sleeps)  # the CDK adds up to one second


class FakeMailchimpMembers:
    def __init__(self, n: int) -> None:
        self.members = [
            {
                "id": f"h{i:05d}",
                "email_address": f"m{i}@example.com",
                "status": "subscribed",
                "merge_fields": {"FNAME": f"M{i}", "LNAME": "X", "PHONE": ""},
                "last_changed": (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            }
            for i in range(n)
        ]
        self.queries: list[dict[str, list[str]]] = []

    def __call__(self, request: requests.PreparedRequest, context: Any) -> dict[str, Any]:
        qs = request.qs  # type: ignore[attr-defined]
        self.queries.append(qs)
        since = qs.get("since_last_changed", [None])[0]
        rows = self.members
        if since:
            cut = datetime.fromisoformat(since)
            rows = [m for m in rows if datetime.fromisoformat(m["last_changed"]) > cut]
        offset, count = int(qs.get("offset", ["0"])[0]), int(qs["count"][0])
        return {"members": rows[offset : offset + count], "total_items": len(rows)}


def test_mailchimp_members_offset_pages_and_state() -> None:
    api = FakeMailchimpMembers(1_100)
    with rm.Mocker() as mock:
        mock.get(f"{MC}/lists/L1/members", json=api)
        records, checkpoints = _split(_read(MC_CONN, "members", None))
    assert len(records) == 1_100
    assert records[0].data["merge_fields"]["FNAME"] == "M0"
    assert [q.get("offset", ["0"])[0] for q in api.queries] == ["0", "500", "1000"]
    assert {q["count"][0] for q in api.queries} == {"500"}
    assert {q["sort_field"][0] for q in api.queries} == {"last_changed"}
    assert checkpoints[-1].state == {"last_changed": api.members[-1]["last_changed"]}
    assert mock.request_history[0].headers["Authorization"].startswith("Basic ")


def test_mailchimp_state_in_sends_since_last_changed() -> None:
    api = FakeMailchimpMembers(600)
    state = {"last_changed": api.members[400]["last_changed"]}
    with rm.Mocker() as mock:
        mock.get(f"{MC}/lists/L1/members", json=api)
        records, checkpoints = _split(_read(MC_CONN, "members", state))
    assert api.queries[0]["since_last_changed"] == ["2024-01-01t00:05:40+00:00"]  # minus 1 min
    assert records[0].data["email_address"] == "m341@example.com"
    assert checkpoints[-1].state == {"last_changed": api.members[-1]["last_changed"]}


def test_mailchimp_missing_list_is_a_config_error() -> None:
    with rm.Mocker() as mock:
        mock.get(f"{MC}/lists/L1/members", status_code=404, json={"title": "Resource Not Found"})
        with pytest.raises(ReadFailed, match="REVSYNC_MAILCHIMP_LIST_ID") as caught:
            _read(MC_CONN, "members", None)
    assert caught.value.error_class is ErrorClass.FATAL


def test_unknown_stream_is_reported() -> None:
    with pytest.raises(ReadFailed, match="no stream"):
        _read(HS_CONN, "tickets", None)
