"""The Aircall writer against respx: a lookup by email then number before every create, a
colleague on a shared line never overwritten, Aircall's {label, value} lists, a number added
to a found contact that lacks it, a linked contact answered 404 gone, Aircall's own refusal
text, a 429 waited out until X-AircallApi-Reset, a refused key stopping the call."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.aircall.writer import AircallWriter
from connectors.connections import Connection
from connectors.errors import ConfigError, ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem
from mappings.spec import from_unified, load_mapping

BASE = "https://api.aircall.io"
API_ID, TOKEN = "ac-id-42", "ac-token-0123456789"
CONN = Connection(
    tool="aircall",
    base_url=BASE,
    secrets={"api_token": SecretStr(TOKEN)},
    options={"api_id": API_ID},
)
CONTACTS = f"{BASE}/v1/contacts"
SEARCH = f"{CONTACTS}/search"
PERSON = load_mapping("aircall", "person")


def _writer(sleeps: list[float] | None = None, limiter: RateLimiter | None = None) -> AircallWriter:
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=limiter or RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return AircallWriter(CONN, client)


def _person(record_id: str | None = None, **values: str) -> WriteItem:
    golden = {"phone": "+14155550100", "email": "ada@acme.io", "first_name": "Ada", **values}
    golden = {k: v for k, v in golden.items() if v}
    payload = from_unified(PERSON, golden, create=record_id is None)
    return WriteItem(
        key=golden.get("phone", "ada@acme.io"), record_id=record_id, properties=payload
    )


def _contact(contact_id: int, phones: list[str], emails: list[str]) -> dict[str, Any]:
    return {
        "id": contact_id,
        "first_name": "Ada",
        "phone_numbers": [{"id": i, "label": "Work", "value": p} for i, p in enumerate(phones)],
        "emails": [{"id": 10 + i, "label": "Work", "value": e} for i, e in enumerate(emails)],
    }


def _found(*contacts: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"contacts": list(contacts), "meta": {"total": len(contacts)}})


def _sent(route: respx.Route, n: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[n].request.content)
    return body


@respx.mock
def test_an_unknown_person_is_looked_up_by_email_then_number_and_created_in_aircalls_shapes() -> (
    None
):
    search = respx.get(SEARCH).mock(return_value=_found())
    post = respx.post(CONTACTS).mock(
        return_value=httpx.Response(201, json={"contact": _contact(77, ["+14155550100"], [])})
    )

    (outcome,) = _writer().upsert("person", [_person(company="Acme")])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "77", True)
    asked = [dict(c.request.url.params) for c in search.calls]
    assert asked == [
        {"email": "ada@acme.io", "order": "asc"},
        {"phone_number": "+14155550100", "order": "asc"},
    ]
    assert _sent(post) == {
        "first_name": "Ada",
        "company_name": "Acme",
        "phone_numbers": [{"label": "Work", "value": "+14155550100"}],
        "emails": [{"label": "Work", "value": "ada@acme.io"}],
    }
    auth = search.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"{API_ID}:{TOKEN}"


@respx.mock
def test_a_contact_found_by_email_is_updated_and_given_the_number_it_lacks() -> None:
    respx.get(SEARCH).mock(return_value=_found(_contact(5, ["+33170000001"], ["ada@acme.io"])))
    update = respx.post(f"{CONTACTS}/5").mock(
        return_value=httpx.Response(
            200, json={"contact": _contact(5, ["+33170000001"], ["ada@acme.io"])}
        )
    )
    phone = respx.post(f"{CONTACTS}/5/phone_details").mock(
        return_value=httpx.Response(
            201, json={"contact": _contact(5, ["+33170000001", "+14155550100"], ["ada@acme.io"])}
        )
    )
    email = respx.post(f"{CONTACTS}/5/email_details")
    create = respx.post(CONTACTS)

    (outcome,) = _writer().upsert("person", [_person()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "5", False)
    assert _sent(update) == {"first_name": "Ada"}, "the lists are not sent to the update"
    assert _sent(phone) == {"label": "Work", "value": "+14155550100"}
    assert not email.called, "the address it holds is not added twice"
    assert not create.called


@respx.mock
def test_a_contact_found_that_another_golden_record_holds_is_not_written() -> None:
    """One Aircall contact, two golden records here: the lookup finds the other's contact,
    and writing it would give that golden's record this one's values. Refused, unwritten."""
    respx.get(SEARCH).mock(return_value=_found(_contact(5, ["+33170000001"], ["ada@acme.io"])))
    update = respx.post(f"{CONTACTS}/5")
    create = respx.post(CONTACTS)
    writer = _writer()
    writer.owners = {"5": "golden-other"}
    item = replace(_person(), unified_id="golden-ada")

    (outcome,) = writer.upsert("person", [item])

    assert not outcome.ok
    assert outcome.error is not None
    assert "contact 5" in outcome.error
    assert "golden golden-other's" in outcome.error
    assert not update.called
    assert not create.called
    # The same contact linked to this golden record is written as usual.
    writer.owners = {"5": "golden-ada"}
    respx.post(f"{CONTACTS}/5/phone_details").mock(
        return_value=httpx.Response(
            201, json={"contact": _contact(5, ["+33170000001", "+14155550100"], ["ada@acme.io"])}
        )
    )
    update.mock(
        return_value=httpx.Response(
            200, json={"contact": _contact(5, ["+33170000001"], ["ada@acme.io"])}
        )
    )
    (again,) = writer.upsert("person", [item])
    assert again.ok


@respx.mock
def test_a_colleague_on_a_shared_line_is_passed_over_and_a_contact_created() -> None:
    colleague = _contact(8, ["+14155550100"], ["bob@acme.io"])
    respx.get(SEARCH).mock(side_effect=[_found(), _found(colleague)])
    post = respx.post(CONTACTS).mock(
        return_value=httpx.Response(201, json={"contact": _contact(9, ["+14155550100"], [])})
    )
    bob = respx.post(f"{CONTACTS}/8")

    (outcome,) = _writer().upsert("person", [_person()])

    assert (outcome.record_id, outcome.created) == ("9", True)
    assert post.called
    assert not bob.called


@respx.mock
def test_a_replayed_create_without_email_finds_its_contact_by_number() -> None:
    mine = _contact(12, ["+1 415-555-0100"], [])
    respx.get(SEARCH).mock(return_value=_found(mine))
    respx.post(f"{CONTACTS}/12").mock(return_value=httpx.Response(200, json={"contact": mine}))
    phone = respx.post(f"{CONTACTS}/12/phone_details")
    create = respx.post(CONTACTS)

    (outcome,) = _writer().upsert("person", [_person(email="")])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "12", False)
    assert not phone.called, "the number it holds (typed differently) is not added again"
    assert not create.called


def test_a_person_without_a_phone_is_never_sent() -> None:
    with respx.mock(assert_all_called=False) as mock:
        search = mock.get(SEARCH).mock(return_value=_found())
        post = mock.post(CONTACTS)
        (outcome,) = _writer().upsert("person", [_person(phone="")])
    assert not outcome.ok
    assert outcome.error is not None
    assert "phone number" in outcome.error
    assert search.called
    assert not post.called


@respx.mock
def test_a_linked_contact_is_updated_by_id_and_one_answered_404_is_gone() -> None:
    respx.post(f"{CONTACTS}/5").mock(
        return_value=httpx.Response(200, json={"contact": _contact(5, ["+14155550100"], [])})
    )
    respx.post(f"{CONTACTS}/6").mock(
        return_value=httpx.Response(
            404, json={"error": "Not found", "troubleshoot": "Contact not found"}
        )
    )
    search = respx.get(SEARCH)

    kept, gone = _writer().upsert(
        "person", [_person("5", last_name="Lovelace"), _person("6", last_name="Lovelace")]
    )

    assert (kept.ok, kept.record_id, kept.created) == (True, "5", False)
    assert (gone.ok, gone.gone, gone.record_id) == (False, True, "6")
    assert not search.called, "a linked contact is addressed by id"


@respx.mock
def test_a_refused_number_is_that_records_failure_with_aircalls_words() -> None:
    respx.get(SEARCH).mock(return_value=_found())
    respx.post(CONTACTS).mock(
        return_value=httpx.Response(
            400,
            json={
                "error": "Invalid phone number",
                "troubleshoot": "12 is not a valid phone number",
            },
        )
    )

    (outcome,) = _writer().upsert("person", [_person(phone="12")])

    assert not outcome.ok
    assert not outcome.gone
    assert outcome.error == (
        "aircall refused the contact (400): Invalid phone number: 12 is not a valid phone number"
    )


@respx.mock
def test_a_429_is_waited_out_until_the_reset_header() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "4", "X-AircallApi-Limit": "60", "X-AircallApi-Remaining": "0"},
        json={"error": "Too Many Requests", "troubleshoot": "wait"},
    )
    ok = httpx.Response(200, json={"contact": _contact(5, ["+14155550100"], [])})
    respx.post(f"{CONTACTS}/5").mock(side_effect=[limited, ok])
    sleeps: list[float] = []

    (outcome,) = _writer(sleeps).upsert("person", [_person("5", last_name="L")])

    assert outcome.ok
    assert any(4 <= s <= 5 for s in sleeps), sleeps


@respx.mock
def test_the_declared_headers_pause_writes_until_the_minute_resets() -> None:
    clock, wall = [1000.0], [1_800_000_000.0]
    paused: list[float] = []
    limiter = RateLimiter(
        provider_for("aircall").rate_limit,
        clock=lambda: clock[0],
        wall=lambda: wall[0],
        sleep=paused.append,
    )
    spent = {
        "X-AircallApi-Limit": "60",
        "X-AircallApi-Remaining": "1",
        "X-AircallApi-Reset": str(int(wall[0]) + 42),
    }
    body = {"contact": _contact(5, ["+14155550100"], [])}
    respx.post(f"{CONTACTS}/5").mock(
        side_effect=[httpx.Response(200, headers=spent, json=body), httpx.Response(200, json=body)]
    )

    outcomes = _writer(limiter=limiter).upsert("person", [_person("5", last_name="L")] * 2)

    assert all(o.ok for o in outcomes)
    assert paused == [42.0], "one pause, until X-AircallApi-Reset"


@respx.mock
def test_a_refused_api_key_stops_the_call() -> None:
    respx.post(f"{CONTACTS}/5").mock(
        return_value=httpx.Response(401, json={"error": "Unauthorized", "troubleshoot": "x"})
    )
    with pytest.raises(WriteFailed) as failed:
        _writer().upsert("person", [_person("5", last_name="L")])
    assert failed.value.error_class is ErrorClass.FATAL
    assert TOKEN not in str(failed.value)


def test_calls_are_not_written() -> None:
    with pytest.raises(ConfigError):
        _writer().upsert("call", [])
