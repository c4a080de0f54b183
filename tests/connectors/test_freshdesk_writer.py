"""The Freshdesk writer against respx: a lookup before every create (email, company name), a
409 duplicate email answered by updating the holder, a linked contact answered 404 gone,
Freshdesk's own validation messages on a refused record, a 429 waited out, merges."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx
import yaml
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.freshdesk.writer import FreshdeskWriter, describe_error
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem
from mappings.spec import MAPPINGS_DIR, from_unified, parse_mapping_file, to_unified

BASE = "https://acme.freshdesk.com"
KEY = "fd-key-0123456789"
CONN = Connection(tool="freshdesk", base_url=BASE, secrets={"api_key": SecretStr(KEY)})
CONTACTS = f"{BASE}/api/v2/contacts"
SEARCH = f"{BASE}/api/v2/search/contacts"
COMPANIES = f"{BASE}/api/v2/companies"
AUTOCOMPLETE = f"{COMPANIES}/autocomplete"


def _writer(sleeps: list[float] | None = None) -> FreshdeskWriter:
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return FreshdeskWriter(CONN, client)


def _contact(email: str = "ada@acme.com", record_id: str | None = None, **extra: Any) -> WriteItem:
    return WriteItem(key=email, record_id=record_id, properties={"name": "Ada Lovelace", **extra})


def _company(
    name: str = "Acme", domain: str = "acme.com", record_id: str | None = None
) -> WriteItem:
    return WriteItem(
        key=domain, record_id=record_id, properties={"name": name, "domains": [domain]}
    )


def _invalid(status: int, field: str, message: str, code: str) -> httpx.Response:
    body = {
        "description": "Validation failed",
        "errors": [{"field": field, "message": message, "code": code}],
    }
    return httpx.Response(status, json=body)


def _sent(route: respx.Route, n: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[n].request.content)
    return body


@respx.mock
def test_a_contact_is_looked_up_by_email_then_updated_or_created() -> None:
    lookup = respx.get(CONTACTS).mock(
        side_effect=[httpx.Response(200, json=[{"id": 7, "email": "ada@acme.com"}]),
                     httpx.Response(200, json=[])]
    )  # fmt: skip
    put = respx.put(f"{CONTACTS}/7").mock(return_value=httpx.Response(200, json={"id": 7}))
    post = respx.post(CONTACTS).mock(return_value=httpx.Response(201, json={"id": 9}))

    found, made = _writer().upsert("person", [_contact(), _contact("bob@acme.com")])

    assert (found.ok, found.record_id, found.created) == (True, "7", False)
    assert (made.ok, made.record_id, made.created) == (True, "9", True)
    assert [c.request.url.params["email"] for c in lookup.calls] == ["ada@acme.com", "bob@acme.com"]
    assert _sent(put)["name"] == "Ada Lovelace"
    assert _sent(post)["email"] == "bob@acme.com", "a create carries the address it is keyed by"
    auth = lookup.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"{KEY}:X", "the key is the username"


@respx.mock
def test_a_409_duplicate_email_updates_the_contact_holding_it() -> None:
    # The list filter misses it (the address is another contact's other email); the create is
    # refused; the search finds the holder, which is updated without taking its primary email.
    respx.get(CONTACTS).mock(return_value=httpx.Response(200, json=[]))
    respx.post(CONTACTS).mock(
        return_value=_invalid(409, "email", "It should be a unique value", "duplicate_value")
    )
    search = respx.get(SEARCH).mock(
        return_value=httpx.Response(200, json={"results": [{"id": 42}], "total": 1})
    )
    put = respx.put(f"{CONTACTS}/42").mock(return_value=httpx.Response(200, json={"id": 42}))

    (outcome,) = _writer().upsert("person", [_contact(job_title="CTO")])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "42", False)
    assert search.calls.last.request.url.params["query"] == "\"email:'ada@acme.com'\""
    assert _sent(put) == {"name": "Ada Lovelace", "job_title": "CTO"}


@respx.mock
def test_a_409_whose_holder_cannot_be_found_is_a_refusal_with_the_reason() -> None:
    respx.get(CONTACTS).mock(return_value=httpx.Response(200, json=[]))
    respx.post(CONTACTS).mock(
        return_value=_invalid(409, "email", "It should be a unique value", "duplicate_value")
    )
    respx.get(SEARCH).mock(return_value=httpx.Response(200, json={"results": [], "total": 0}))

    (outcome,) = _writer().upsert("person", [_contact()])

    assert not outcome.ok
    assert not outcome.gone
    assert outcome.error is not None
    assert "It should be a unique value" in outcome.error


@respx.mock
def test_a_linked_contact_answered_404_is_gone() -> None:
    respx.put(f"{CONTACTS}/5").mock(return_value=httpx.Response(404))

    (outcome,) = _writer().upsert("person", [_contact(record_id="5")])

    assert (outcome.ok, outcome.gone, outcome.record_id) == (False, True, "5")


@respx.mock
def test_a_validation_error_refuses_that_record_with_freshdesks_message() -> None:
    respx.put(f"{CONTACTS}/5").mock(
        return_value=_invalid(
            400, "company_id", "There is no company matching the given company_id", "invalid_value"
        )
    )
    respx.put(f"{CONTACTS}/6").mock(return_value=httpx.Response(200, json={"id": 6}))

    bad, good = _writer().upsert(
        "person",
        [_contact(record_id="5", company_id="99"), _contact("bob@acme.com", record_id="6")],
    )

    assert not bad.ok
    assert not bad.gone
    assert bad.error == (
        "freshdesk refused the contact (400): Validation failed: company_id: There is no "
        "company matching the given company_id (invalid_value)"
    )
    assert good.ok


@respx.mock
def test_custom_fields_and_the_company_reference_are_sent_as_freshdesk_takes_them() -> None:
    put = respx.put(f"{CONTACTS}/5").mock(return_value=httpx.Response(200, json={"id": 5}))
    item = _contact(record_id="5", company_id="2000000001", custom_fields={"plan_tier": "gold"})

    (outcome,) = _writer().upsert("person", [item])

    assert outcome.ok
    assert _sent(put) == {
        "name": "Ada Lovelace",
        "company_id": 2000000001,
        "custom_fields": {"plan_tier": "gold"},
    }


@respx.mock
def test_a_429_is_waited_out_as_retry_after_says() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "7", "X-RateLimit-Total": "400", "X-RateLimit-Remaining": "0"},
        json={"code": "too_many_requests", "message": "You have exceeded the limit"},
    )
    respx.put(f"{CONTACTS}/5").mock(side_effect=[limited, httpx.Response(200, json={"id": 5})])
    sleeps: list[float] = []

    (outcome,) = _writer(sleeps).upsert("person", [_contact(record_id="5")])

    assert outcome.ok
    assert any(7 <= s <= 8 for s in sleeps), sleeps


@respx.mock
def test_the_declared_headers_pause_writes_when_the_minute_is_nearly_spent() -> None:
    """X-RateLimit-Remaining at 2 or fewer waits for the minute to roll (no reset header)."""
    clock = [1000.0]
    paused: list[float] = []
    limiter = RateLimiter(
        provider_for("freshdesk").rate_limit, clock=lambda: clock[0], sleep=paused.append
    )
    client = build_client(CONN, retry=RetrySettings.no_wait(), limiter=limiter)
    spent = {"X-RateLimit-Total": "400", "X-RateLimit-Remaining": "2"}
    respx.put(f"{CONTACTS}/5").mock(
        side_effect=[
            httpx.Response(200, headers={**spent, "X-RateLimit-Remaining": "3"}, json={"id": 5}),
            httpx.Response(200, headers=spent, json={"id": 5}),
            httpx.Response(200, headers=spent, json={"id": 5}),
        ]
    )
    writer = FreshdeskWriter(CONN, client)

    outcomes = writer.upsert("person", [_contact(record_id="5")] * 3)

    assert all(o.ok for o in outcomes)
    assert paused == [60.0], "one pause, to the end of the minute the window started"


@respx.mock
def test_a_refused_api_key_stops_the_call() -> None:
    respx.put(f"{CONTACTS}/5").mock(
        return_value=httpx.Response(403, json={"code": "access_denied", "message": "denied"})
    )
    with pytest.raises(WriteFailed) as failed:
        _writer().upsert("person", [_contact(record_id="5")])
    assert failed.value.error_class is ErrorClass.FATAL
    assert KEY not in str(failed.value)


@respx.mock
def test_a_company_found_by_name_is_updated_with_our_domain_first() -> None:
    respx.get(AUTOCOMPLETE).mock(
        return_value=httpx.Response(200, json={"companies": [{"id": 3, "name": "ACME"}]})
    )
    respx.get(f"{COMPANIES}/3").mock(
        return_value=httpx.Response(200, json={"id": 3, "domains": ["acme.io", "acme.com"]})
    )
    put = respx.put(f"{COMPANIES}/3").mock(return_value=httpx.Response(200, json={"id": 3}))

    (outcome,) = _writer().upsert("company", [_company()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "3", False)
    assert _sent(put)["domains"] == ["acme.com", "acme.io"]


@respx.mock
def test_a_look_alike_of_the_same_name_is_refused_not_overwritten() -> None:
    respx.get(AUTOCOMPLETE).mock(
        return_value=httpx.Response(200, json={"companies": [{"id": 3, "name": "Acme"}]})
    )
    respx.get(f"{COMPANIES}/3").mock(
        return_value=httpx.Response(200, json={"id": 3, "domains": ["acme.de"]})
    )
    put = respx.put(f"{COMPANIES}/3")

    (outcome,) = _writer().upsert("company", [_company()])

    assert not outcome.ok
    assert outcome.error is not None
    assert "another company named 'Acme'" in outcome.error
    assert not put.called


@respx.mock
def test_a_company_created_meanwhile_is_found_after_the_409() -> None:
    respx.get(AUTOCOMPLETE).mock(
        side_effect=[
            httpx.Response(200, json={"companies": []}),
            httpx.Response(200, json={"companies": [{"id": 4, "name": "Acme"}]}),
        ]
    )
    respx.post(COMPANIES).mock(
        return_value=_invalid(409, "name", "It should be a unique value", "duplicate_value")
    )
    respx.get(f"{COMPANIES}/4").mock(
        return_value=httpx.Response(200, json={"id": 4, "domains": []})
    )
    put = respx.put(f"{COMPANIES}/4").mock(return_value=httpx.Response(200, json={"id": 4}))

    (outcome,) = _writer().upsert("company", [_company()])

    assert (outcome.ok, outcome.record_id) == (True, "4")
    assert _sent(put)["domains"] == ["acme.com"]


@respx.mock
def test_merges_and_the_survivor_of_a_merge() -> None:
    merge = respx.post(f"{CONTACTS}/merge").mock(return_value=httpx.Response(204))
    respx.get(CONTACTS).mock(return_value=httpx.Response(200, json=[]))
    respx.get(SEARCH).mock(
        return_value=httpx.Response(200, json={"results": [{"id": 8}], "total": 1})
    )
    writer = _writer()

    assert writer.merge_contacts("8", "5") == {}
    assert _sent(merge) == {"primary_contact_id": 8, "secondary_contact_ids": [5]}
    assert writer.find_survivor(" Ada@Acme.com ") == "8"


def test_describe_error_reads_both_of_freshdesks_error_shapes() -> None:
    assert describe_error({"code": "invalid_credentials", "message": "Log in"}, "x") == "Log in"
    assert describe_error(None, "fallback") == "fallback"


@respx.mock
def test_a_custom_field_added_in_the_mapping_file_is_read_and_written_nested() -> None:
    """What an admin's ``plan_tier`` contact field needs: two lines of YAML, no code."""
    document = yaml.safe_load((MAPPINGS_DIR / "freshdesk.yaml").read_text())
    document["person"]["custom_fields"] = [{"name": "plan_tier", "type": "text"}]
    document["person"]["fields"].append({"unified": "plan_tier", "tool": "custom_fields.plan_tier"})
    mapping = parse_mapping_file("freshdesk", document)["person"]
    record = {
        "id": 5,
        "name": "Ada Lovelace",
        "email": "ada@acme.com",
        "updated_at": "2026-01-02T03:04:05Z",
        "custom_fields": {"plan_tier": "gold", "cf_other": None},
    }
    assert to_unified(mapping, record).values["plan_tier"] == "gold"
    payload = from_unified(mapping, {"plan_tier": "platinum"}, create=False)
    put = respx.put(f"{CONTACTS}/5").mock(return_value=httpx.Response(200, json={"id": 5}))

    (outcome,) = _writer().upsert("person", [WriteItem("ada@acme.com", "5", payload)])

    assert outcome.ok
    assert _sent(put) == {"custom_fields": {"plan_tier": "platinum"}}
