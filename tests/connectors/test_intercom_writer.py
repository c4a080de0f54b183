"""The Intercom writer against respx: contacts looked up by email before a create, a 409 on
create turned into an update of the holder, a linked id answered 404/410 reported gone,
Intercom's error list as the refusal's reason, a 429 waited out, companies by company_id,
the contact's company attached once, custom attributes sent as written."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.intercom.writer import IntercomWriter, error_text
from connectors.providers import provider_for
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.retry import RetrySettings
from connectors.writer import WriteItem

BASE = "https://api.intercom.io"
TOKEN = "ic-token-0123456789abcdef"
CONN = Connection(tool="intercom", base_url=BASE, secrets={"access_token": SecretStr(TOKEN)})
CONTACTS = f"{BASE}/contacts"
SEARCH = f"{CONTACTS}/search"


def _writer(sleeps: list[float] | None = None) -> IntercomWriter:
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(sleep=(sleeps.append if sleeps is not None else None)),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )
    return IntercomWriter(CONN, client)


def _found(*contacts: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"type": "list", "data": list(contacts), "total_count": 1})


def _errors(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {
        "type": "error.list",
        "request_id": "b3d41080-5b35-42b8-8584-31e4660d355f",
        "errors": [{"code": code, "message": message}],
    }
    return httpx.Response(status, json=body, headers=headers)


def _item(record_id: str | None = None, **extra: Any) -> WriteItem:
    props = {"email": "ada@acme.com", "name": "Ada Lovelace", **extra}
    return WriteItem(key="ada@acme.com", record_id=record_id, properties=props)


def _sent(route: respx.Route, call: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[call].request.content)
    return body


@respx.mock
def test_a_contact_found_by_email_is_updated_the_user_first_and_every_call_pins_the_version() -> (
    None
):
    lead = {"id": "l1", "role": "lead", "email": "ada@acme.com", "created_at": 1}
    user = {"id": "u1", "role": "user", "email": "ADA@acme.com", "created_at": 2}
    other = {"id": "x9", "role": "user", "email": "ada@acme.com.au"}
    search = respx.post(SEARCH).mock(return_value=_found(lead, other, user))
    put = respx.put(f"{CONTACTS}/u1").mock(return_value=httpx.Response(200, json=user))

    (outcome,) = _writer().upsert("person", [_item()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "u1", False)
    assert _sent(search)["query"] == {"field": "email", "operator": "=", "value": "ada@acme.com"}
    assert _sent(put) == {"email": "ada@acme.com", "name": "Ada Lovelace"}
    for call in (search.calls.last, put.calls.last):
        assert call.request.headers["Intercom-Version"] == "2.16"
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"


@respx.mock
def test_an_unknown_contact_is_created_as_a_user() -> None:
    respx.post(SEARCH).mock(return_value=_found())
    post = respx.post(CONTACTS).mock(
        return_value=httpx.Response(200, json={"id": "n1", "role": "user"})
    )

    (outcome,) = _writer().upsert("person", [_item()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "n1", True)
    assert _sent(post) == {"role": "user", "email": "ada@acme.com", "name": "Ada Lovelace"}


@respx.mock
def test_a_409_on_create_updates_the_holder_it_names() -> None:
    # The search index trails creates: a replayed create does not find the user it made.
    respx.post(SEARCH).mock(return_value=_found())
    respx.post(CONTACTS).mock(
        return_value=_errors(
            409, "conflict", "A contact matching those details already exists with id=6762f0d0"
        )
    )
    put = respx.put(f"{CONTACTS}/6762f0d0").mock(
        return_value=httpx.Response(200, json={"id": "6762f0d0", "role": "user"})
    )

    (outcome,) = _writer().upsert("person", [_item()])

    assert (outcome.ok, outcome.record_id, outcome.created) == (True, "6762f0d0", False)
    assert _sent(put)["name"] == "Ada Lovelace"


@respx.mock
def test_a_409_naming_no_id_searches_again_for_the_holder() -> None:
    search = respx.post(SEARCH).mock(
        side_effect=[_found(), _found({"id": "u5", "role": "user", "email": "ada@acme.com"})]
    )
    respx.post(CONTACTS).mock(return_value=_errors(409, "conflict", "User already exists"))
    put = respx.put(f"{CONTACTS}/u5").mock(return_value=httpx.Response(200, json={"id": "u5"}))

    (outcome,) = _writer().upsert("person", [_item()])

    assert (outcome.ok, outcome.record_id) == (True, "u5")
    assert search.call_count == 2
    assert put.called


@pytest.mark.parametrize(
    ("status", "code", "headers"),
    [
        (404, "not_found", {}),
        (410, "contact_merged", {"Link": '</contacts/u1>; rel="canonical"'}),
    ],
)
@respx.mock
def test_a_linked_contact_answered_404_or_410_is_gone(
    status: int, code: str, headers: dict[str, str]
) -> None:
    respx.put(f"{CONTACTS}/l1").mock(return_value=_errors(status, code, "gone", **headers))

    (outcome,) = _writer().upsert("person", [_item("l1")])

    assert (outcome.ok, outcome.gone, outcome.record_id) == (False, True, "l1")
    assert f"({status})" in (outcome.error or "")


@respx.mock
def test_a_company_missing_on_attach_is_a_refusal_not_a_gone_contact() -> None:
    contact = {"id": "u1", "companies": {"data": []}}
    respx.put(f"{CONTACTS}/u1").mock(return_value=httpx.Response(200, json=contact))
    respx.post(f"{CONTACTS}/u1/companies").mock(
        return_value=_errors(404, "company_not_found", "Company Not Found")
    )

    (outcome,) = _writer().upsert("person", [_item("u1", company_ref="c404")])

    assert (outcome.ok, outcome.gone) == (False, False)
    assert "company_not_found: Company Not Found" in (outcome.error or "")


@respx.mock
def test_an_error_list_is_a_refusal_with_intercoms_message_and_the_batch_goes_on() -> None:
    respx.put(f"{CONTACTS}/u1").mock(
        return_value=_errors(400, "parameter_invalid", "Phone is not a valid phone number")
    )
    respx.put(f"{CONTACTS}/u2").mock(return_value=httpx.Response(200, json={"id": "u2"}))

    bad, good = _writer().upsert("person", [_item("u1", phone="12"), _item("u2")])

    assert (bad.ok, bad.gone) == (False, False)
    assert bad.error == (
        "intercom refused the contact (400): parameter_invalid: Phone is not a valid phone number"
    )
    assert (good.ok, good.record_id) == (True, "u2")


@respx.mock
def test_a_refused_token_stops_the_call_with_intercoms_message() -> None:
    respx.put(f"{CONTACTS}/u1").mock(
        return_value=_errors(401, "unauthorized", "Access Token Invalid")
    )

    with pytest.raises(WriteFailed) as caught:
        _writer().upsert("person", [_item("u1")])

    assert caught.value.error_class is ErrorClass.FATAL
    assert "Access Token Invalid" in str(caught.value)
    assert TOKEN not in str(caught.value)


@respx.mock
def test_a_429_is_waited_out_and_the_write_goes_through() -> None:
    limited = _errors(
        429,
        "rate_limit_exceeded",
        "Exceeded rate limit of 1666 in 10 seconds",
        **{"Retry-After": "3", "X-RateLimit-Remaining": "0"},
    )
    put = respx.put(f"{CONTACTS}/u1").mock(
        side_effect=[limited, httpx.Response(200, json={"id": "u1"})]
    )
    sleeps: list[float] = []

    (outcome,) = _writer(sleeps).upsert("person", [_item("u1")])

    assert (outcome.ok, outcome.record_id) == (True, "u1")
    assert put.call_count == 2
    assert sleeps == [3.0]


@respx.mock
def test_a_429_without_retry_after_waits_for_the_windows_reset_time() -> None:
    # X-RateLimit-Reset is the window's end as a UNIX time (connector.yaml: reset_at).
    limited = _errors(
        429,
        "rate_limit_exceeded",
        "Exceeded rate limit of 1666 in 10 seconds",
        **{"X-RateLimit-Limit": "1666", "X-RateLimit-Remaining": "0"},
        **{"X-RateLimit-Reset": "1700000006"},
    )
    put = respx.put(f"{CONTACTS}/u1").mock(
        side_effect=[limited, httpx.Response(200, json={"id": "u1"})]
    )
    paused: list[float] = []
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(),
        limiter=RateLimiter(
            provider_for("intercom").rate_limit,
            sleep=paused.append,
            clock=lambda: 0.0,
            wall=lambda: 1_700_000_000.0,
        ),
    )

    (outcome,) = IntercomWriter(CONN, client).upsert("person", [_item("u1")])

    assert (outcome.ok, put.call_count) == (True, 2)
    assert paused == [6.0]


@respx.mock
def test_the_company_is_attached_after_the_contact_unless_it_is_held_already() -> None:
    held = {"id": "u1", "companies": {"data": [{"id": "c1", "type": "company"}]}}
    respx.put(f"{CONTACTS}/u1").mock(return_value=httpx.Response(200, json=held))
    put_u2 = respx.put(f"{CONTACTS}/u2").mock(
        return_value=httpx.Response(200, json={"id": "u2", "companies": {"data": []}})
    )
    attach_u1 = respx.post(f"{CONTACTS}/u1/companies")
    attach_u2 = respx.post(f"{CONTACTS}/u2/companies").mock(
        return_value=httpx.Response(200, json={"id": "c1", "type": "company"})
    )

    outcomes = _writer().upsert(
        "person", [_item("u1", company_ref="c1"), _item("u2", company_ref="c1")]
    )

    assert [o.ok for o in outcomes] == [True, True]
    assert not attach_u1.called
    assert _sent(attach_u2) == {"id": "c1"}
    assert "company_ref" not in _sent(put_u2)


@respx.mock
def test_the_golden_company_replaces_the_contacts_other_companies() -> None:
    # Several companies read back in no documented order: the one read would be anyone's.
    held = {"id": "u1", "companies": {"data": [{"id": "c0"}, {"id": "c9"}], "has_more": False}}
    respx.put(f"{CONTACTS}/u1").mock(return_value=httpx.Response(200, json=held))
    attach = respx.post(f"{CONTACTS}/u1/companies").mock(
        return_value=httpx.Response(200, json={"id": "c1"})
    )
    detach_c0 = respx.delete(f"{CONTACTS}/u1/companies/c0").mock(
        return_value=httpx.Response(200, json={"id": "c0"})
    )
    detach_c9 = respx.delete(f"{CONTACTS}/u1/companies/c9").mock(
        return_value=httpx.Response(200, json={"id": "c9"})
    )

    (outcome,) = _writer().upsert("person", [_item("u1", company_ref="c1")])

    assert outcome.ok, outcome.error
    assert _sent(attach) == {"id": "c1"}
    assert detach_c0.called
    assert detach_c9.called


@respx.mock
def test_custom_attributes_are_sent_as_the_mapping_wrote_them() -> None:
    put = respx.put(f"{CONTACTS}/u1").mock(return_value=httpx.Response(200, json={"id": "u1"}))

    _writer().upsert("person", [_item("u1", custom_attributes={"plan_tier": "gold"})])

    assert _sent(put)["custom_attributes"] == {"plan_tier": "gold"}


@respx.mock
def test_companies_are_created_by_company_id_and_updated_by_intercoms_id() -> None:
    create = respx.post(f"{BASE}/companies").mock(
        return_value=httpx.Response(200, json={"id": "c7", "company_id": "g1"})
    )
    update = respx.put(f"{BASE}/companies/c8").mock(
        return_value=httpx.Response(200, json={"id": "c8"})
    )
    made, changed = _writer().upsert(
        "company",
        [
            WriteItem("g1", None, {"company_id": "g1", "name": "Acme"}),
            WriteItem("g2", "c8", {"company_id": "g2", "name": "Initech"}),
        ],
    )
    assert (made.ok, made.record_id, made.created) == (True, "c7", True)
    assert (changed.ok, changed.record_id, changed.created) == (True, "c8", False)
    assert _sent(create) == {"company_id": "g1", "name": "Acme"}
    assert _sent(update) == {"name": "Initech"}  # company_id cannot change


@respx.mock
def test_find_survivor_takes_the_user_holding_the_email() -> None:
    respx.post(SEARCH).mock(
        return_value=_found({"id": "u3", "role": "user", "email": "ada@acme.com"})
    )
    assert _writer().find_survivor(" Ada@Acme.com ") == "u3"
    assert _writer().find_survivor("") is None


def test_error_text_reads_the_first_error_of_the_list() -> None:
    body = {"type": "error.list", "errors": [{"code": "not_found", "message": "User Not Found"}]}
    assert error_text(body) == ("not_found", "not_found: User Not Found")
    assert error_text({"message": "plain"}) == (None, "plain")
    assert error_text(None) == (None, "rejected")
