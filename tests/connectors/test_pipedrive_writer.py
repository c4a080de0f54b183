"""The Pipedrive writer against respx: look up before every create (revsync id, then email),
PATCH what is found, POST what is not, Pipedrive's own error text on a refused record, a 429
waited out, v1 merges."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.pipedrive.components import FlattenRecord, primary_value
from connectors.pipedrive.writer import PipedriveWriter
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem

BASE = "https://acme.pipedrive.com"
PERSON_FIELD = "f" * 40
ORG_FIELD = "a" * 40
TOKEN = "pd-token-0123456789"
CONN = Connection(
    tool="pipedrive",
    base_url=BASE,
    secrets={"api_token": SecretStr(TOKEN)},
    options={"person_unified_id_field": PERSON_FIELD, "org_unified_id_field": ORG_FIELD},
)
PERSONS = f"{BASE}/api/v2/persons"
SEARCH = f"{PERSONS}/search"


def _writer(conn: Connection = CONN, sleeps: list[float] | None = None) -> PipedriveWriter:
    client = build_client(
        conn,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return PipedriveWriter(conn, client)


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data})


def _hits(*items: dict[str, Any]) -> httpx.Response:
    return _ok({"items": [{"result_score": 1.0, "item": i} for i in items]})


def _error(status: int, error: str) -> httpx.Response:
    body = {"success": False, "error": error, "error_info": "see the docs", "data": None}
    return httpx.Response(status, json=body)


def _person(email: str = "ada@acme.com", uid: str = "u1") -> WriteItem:
    return WriteItem(
        key=email,
        record_id=None,
        properties={"name": "Ada Lovelace", "primary_email": email, "revsync_unified_id": uid},
    )


def _sent(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


@respx.mock
def test_a_person_found_by_email_is_patched_and_given_the_revsync_id() -> None:
    search = respx.get(SEARCH).mock(
        side_effect=[_hits(), _hits({"id": 7, "emails": ["ADA@acme.com", "a@home.io"]})]
    )
    current = {"id": 7, "emails": [{"value": "ADA@acme.com", "primary": True, "label": "work"}]}
    respx.get(f"{PERSONS}/7").mock(return_value=_ok(current))
    patch = respx.patch(f"{PERSONS}/7").mock(return_value=_ok({"id": 7}))
    post = respx.post(PERSONS)

    (outcome,) = _writer().upsert("person", [_person()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "7", False)
    assert not post.called
    first, second = (dict(c.request.url.params) for c in search.calls)
    assert first == {"term": "u1", "fields": "custom_fields", "exact_match": "true", "limit": "10"}
    assert (second["term"], second["fields"]) == ("ada@acme.com", "email")
    body = _sent(patch)
    assert body["custom_fields"] == {PERSON_FIELD: "u1"}
    assert body["name"] == "Ada Lovelace"
    # the existing item (other case) becomes primary rather than a second copy
    assert [e["value"] for e in body["emails"]] == ["ADA@acme.com"]


@respx.mock
def test_a_person_found_that_another_golden_record_holds_is_not_patched() -> None:
    """The email lookup finds a person linked to another golden record (one person holding
    two addresses that are two people elsewhere): refused, nothing written."""
    respx.get(SEARCH).mock(
        side_effect=[_hits(), _hits({"id": 7, "emails": ["ada@acme.com", "a@home.io"]})]
    )
    patch = respx.patch(f"{PERSONS}/7")
    post = respx.post(PERSONS)
    writer = _writer()
    writer.owners = {"7": "golden-other"}

    (outcome,) = writer.upsert("person", [replace(_person(), unified_id="golden-ada")])

    assert not outcome.ok
    assert outcome.error is not None
    assert "person 7" in outcome.error
    assert "may be one person" in outcome.error
    assert not patch.called
    assert not post.called


@respx.mock
def test_a_person_nobody_holds_is_posted_with_its_lists_and_revsync_id() -> None:
    respx.get(SEARCH).mock(return_value=_hits())
    post = respx.post(PERSONS).mock(return_value=_ok({"id": 41}))
    item = WriteItem(
        key="ada@acme.com",
        record_id=None,
        properties={
            "name": "Ada Lovelace",
            "primary_email": "ada@acme.com",
            "primary_phone": "+14155550100",
            "org_id": 3.0,
            "revsync_unified_id": "u1",
        },
    )

    (outcome,) = _writer().upsert("person", [item])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "41", True)
    assert _sent(post) == {
        "name": "Ada Lovelace",
        "emails": [{"value": "ada@acme.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+14155550100", "primary": True, "label": "work"}],
        "org_id": 3,
        "custom_fields": {PERSON_FIELD: "u1"},
    }


@respx.mock
def test_a_search_hit_that_does_not_hold_the_email_is_not_taken() -> None:
    respx.get(SEARCH).mock(side_effect=[_hits(), _hits({"id": 9, "emails": ["other@acme.com"]})])
    post = respx.post(PERSONS).mock(return_value=_ok({"id": 42}))

    (outcome,) = _writer().upsert("person", [_person()])

    assert (outcome.record_id, outcome.created) == ("42", True)
    assert post.called


@respx.mock
def test_a_linked_person_is_patched_by_id_keeping_its_other_phones() -> None:
    current = {
        "id": 5,
        "phones": [
            {"value": "555 0100", "primary": True, "label": "work"},
            {"value": "555 0199", "primary": False, "label": "mobile"},
        ],
    }
    respx.get(f"{PERSONS}/5").mock(return_value=_ok(current))
    patch = respx.patch(f"{PERSONS}/5").mock(return_value=_ok({"id": 5}))
    search = respx.get(SEARCH)
    item = WriteItem(
        key="ada@acme.com",
        record_id="5",
        properties={"primary_phone": "+14155550111", "revsync_unified_id": "u1"},
    )

    (outcome,) = _writer().upsert("person", [item])

    assert (outcome.ok, outcome.created) == (True, False)
    assert not search.called
    assert _sent(patch) == {
        "phones": [
            {"value": "+14155550111", "primary": True, "label": "work"},
            {"value": "555 0199", "primary": False, "label": "mobile"},
        ]
    }


@respx.mock
def test_a_refused_record_is_an_outcome_with_pipedrives_message() -> None:
    respx.get(SEARCH).mock(return_value=_hits())
    respx.post(PERSONS).mock(
        side_effect=[_error(400, "Organization with id 99 does not exist"), _ok({"id": 2})]
    )

    bad, good = _writer().upsert("person", [_person("a@x.io", "u1"), _person("b@x.io", "u2")])

    assert not bad.ok
    assert bad.error is not None
    assert "Organization with id 99 does not exist" in bad.error
    assert (good.ok, good.record_id) == (True, "2")


@respx.mock
def test_a_linked_person_that_404s_is_gone_not_refused() -> None:
    # Merged away in Pipedrive's UI: the id answers 404 (its GET before the PATCH too).
    respx.get(f"{PERSONS}/7").mock(return_value=_error(404, "Person not found"))
    respx.patch(f"{PERSONS}/8").mock(return_value=_error(404, "Person not found"))
    respx.patch(f"{PERSONS}/9").mock(return_value=_error(400, "Invalid value for job_title"))
    linked = [
        WriteItem("a@x.io", "7", {"primary_email": "a@x.io"}),
        WriteItem("b@x.io", "8", {"name": "Bo Dee"}),
        WriteItem("c@x.io", "9", {"job_title": 1}),
    ]

    merged, also, refused = _writer().upsert("person", linked)

    assert (merged.ok, merged.gone, merged.record_id) == (False, True, "7")
    assert merged.error is not None
    assert "Person not found" in merged.error
    assert (also.ok, also.gone) == (False, True)
    assert (refused.ok, refused.gone) == (False, False)


@respx.mock
def test_a_linked_person_answered_deleted_is_gone_and_an_unlinked_404_is_not() -> None:
    respx.patch(f"{PERSONS}/7").mock(return_value=_ok({"id": 7, "is_deleted": True}))
    respx.get(SEARCH).mock(return_value=_hits())
    respx.post(PERSONS).mock(return_value=_error(404, "Organization not found"))

    deleted, unlinked = _writer().upsert(
        "person", [WriteItem("a@x.io", "7", {"name": "Al Bo"}), _person("b@x.io")]
    )

    assert (deleted.ok, deleted.gone) == (False, True)
    assert (unlinked.ok, unlinked.gone) == (False, False)


@respx.mock
def test_a_429_is_waited_out_and_the_write_goes_through() -> None:
    respx.get(SEARCH).mock(return_value=_hits())
    limited = httpx.Response(
        429,
        headers={"Retry-After": "2"},
        json={"success": False, "error": "Request over limit", "data": None},
    )
    post = respx.post(PERSONS).mock(side_effect=[limited, _ok({"id": 3})])
    sleeps: list[float] = []

    (outcome,) = _writer(sleeps=sleeps).upsert("person", [_person()])

    assert (outcome.ok, outcome.record_id) == (True, "3")
    assert post.call_count == 2
    assert any(s >= 2 for s in sleeps), sleeps


@respx.mock
def test_a_bad_token_stops_the_call_instead_of_failing_each_record() -> None:
    respx.get(SEARCH).mock(return_value=_error(401, "unauthorized access"))

    with pytest.raises(WriteFailed) as caught:
        _writer().upsert("person", [_person()])

    assert caught.value.error_class is ErrorClass.FATAL
    assert TOKEN not in str(caught.value)


@respx.mock
def test_organizations_are_looked_up_by_revsync_id_only_when_the_field_is_configured() -> None:
    orgs = f"{BASE}/api/v2/organizations"
    search = respx.get(f"{orgs}/search").mock(return_value=_hits())
    post = respx.post(orgs).mock(return_value=_ok({"id": 8}))
    item = WriteItem(
        key="u9",
        record_id=None,
        properties={"name": "Tyrell", "website": "tyrell.dev", "revsync_unified_id": "u9"},
    )

    (outcome,) = _writer().upsert("company", [item])

    assert (outcome.record_id, outcome.created) == ("8", True)
    assert [c.request.url.params["fields"] for c in search.calls] == ["custom_fields"]
    assert _sent(post)["custom_fields"] == {ORG_FIELD: "u9"}


@respx.mock
def test_without_the_field_an_organization_is_looked_up_by_exact_name() -> None:
    orgs = f"{BASE}/api/v2/organizations"
    conn = CONN.model_copy(update={"options": {}})
    respx.get(f"{orgs}/search").mock(
        return_value=_hits({"id": 4, "name": "Tyrell Corp"}, {"id": 5, "name": "TYRELL"})
    )
    patch = respx.patch(f"{orgs}/5").mock(return_value=_ok({"id": 5}))
    item = WriteItem(key="u9", record_id=None, properties={"name": "Tyrell"})

    (outcome,) = _writer(conn).upsert("company", [item])

    assert (outcome.record_id, outcome.created) == ("5", False)
    assert "custom_fields" not in _sent(patch)


@respx.mock
def test_a_deal_stage_is_sent_as_stage_id_and_won_as_the_status() -> None:
    deals = f"{BASE}/api/v2/deals"
    patch = respx.patch(f"{deals}/3").mock(return_value=_ok({"id": 3}))
    writer = _writer()

    writer.upsert("deal", [WriteItem("u1", "3", {"revsync_stage": "2", "org_id": "4"})])
    assert _sent(patch) == {"stage_id": 2, "status": "open", "org_id": 4}
    writer.upsert("deal", [WriteItem("u1", "3", {"revsync_stage": "won"})])
    assert _sent(patch) == {"status": "won"}


@respx.mock
def test_merge_calls_v1_with_the_survivor_as_merge_with_id() -> None:
    merge = respx.put(f"{BASE}/v1/persons/12/merge").mock(
        return_value=_ok({"id": 7, "merge_what_id": 12})
    )

    survivor = _writer().merge_persons("7", "12")

    assert survivor["id"] == 7
    assert _sent(merge) == {"merge_with_id": 7}


@respx.mock
def test_a_failed_merge_raises_for_the_flow_to_log() -> None:
    respx.put(f"{BASE}/v1/organizations/12/merge").mock(
        return_value=_error(400, "Cannot merge organization with itself")
    )

    with pytest.raises(WriteFailed, match="Cannot merge"):
        _writer().merge_organizations("12", "12")


def test_the_reader_flattens_the_primary_items_and_the_revsync_id() -> None:
    record: dict[str, Any] = {
        "emails": [
            {"value": "a@home.io", "primary": False},
            {"value": "ada@acme.com", "primary": True},
        ],
        "phones": [{"value": "", "primary": True}, {"value": "555 0100", "primary": False}],
        "custom_fields": {PERSON_FIELD: "u1"},
    }
    flatten = FlattenRecord(
        parameters={},
        unified_id_option="person_unified_id_field",
        contact_lists=["emails", "phones"],
    )

    flatten.transform(record, config={"person_unified_id_field": PERSON_FIELD})

    assert record["primary_email"] == "ada@acme.com"
    assert record["primary_phone"] == "555 0100"
    assert record["revsync_unified_id"] == "u1"
    assert primary_value(None) is None


def test_a_closed_deal_reads_its_status_as_the_stage() -> None:
    flatten = FlattenRecord(parameters={}, unified_id_option="deal_unified_id_field", deal=True)
    won: dict[str, Any] = {"status": "won", "stage_id": 5}
    open_: dict[str, Any] = {"status": "open", "stage_id": 2}

    flatten.transform(won, config={})
    flatten.transform(open_, config={})

    assert (won["revsync_stage"], open_["revsync_stage"]) == ("won", "2")
    assert won["revsync_unified_id"] is None
