"""The Brevo writer against respx: an attribute Brevo refuses is that contact's dead letter, a
429 carrying only x-sib-ratelimit-reset is waited out through the shared limiter, an import
process that fails (or never ends) falls back to single upserts, an import's ids come from the
contacts created since, a 204 upsert finds its contact by EXT_ID, linked ids answered 404 are
gone, companies are found by domain before a create, and contacts are linked to them."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors import retry
from connectors.brevo.writer import BrevoWriter, ImportPolling, error_text
from connectors.connections import Connection
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.ratelimit import RateLimiter
from connectors.retry import RetrySettings
from connectors.writer import WriteItem

BASE = "https://api.brevo.com/v3"
KEY = "xkeysib-" + "a" * 64 + "-writertest00000"
CONN = Connection(tool="brevo", base_url=BASE, secrets={"api_key": SecretStr(KEY)})
CONTACTS = f"{BASE}/contacts"


def _writer(
    limiter_sleeps: list[float] | None = None, *, import_min: int = 3, timeout: float = 300.0
) -> BrevoWriter:
    waits = limiter_sleeps if limiter_sleeps is not None else []
    client = build_client(
        CONN,
        retry=RetrySettings.no_wait(),
        limiter=RateLimiter(provider_for("brevo").rate_limit, sleep=waits.append),
    )
    polling = ImportPolling(first_wait=1.0, max_wait=4.0, timeout=timeout)
    return BrevoWriter(CONN, client, import_min=import_min, polling=polling)


def _item(n: int, *, record_id: str | None = None, **attributes: Any) -> WriteItem:
    email = f"person{n}@acme.io"
    props: dict[str, Any] = {
        "email": email,
        "attributes": {"FIRSTNAME": "Ada", "LASTNAME": f"P{n}", "EXT_ID": f"u{n}", **attributes},
        "listIds": [2],
    }
    return WriteItem(key=email, record_id=record_id, properties=props)


def _body(call: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content)
    return body


def _error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message}, headers=headers)


@respx.mock
def test_an_attribute_brevo_refuses_is_that_contacts_dead_letter_the_others_are_written() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "SMS" in json.loads(request.content)["attributes"]:
            return _error(400, "invalid_parameter", "Invalid phone number")
        return httpx.Response(201, json={"id": 42})

    created = respx.post(CONTACTS).mock(side_effect=answer)
    outcomes = _writer().upsert("person", [_item(1, SMS="12"), _item(2)])

    refused, written = outcomes
    assert not refused.ok
    assert (
        refused.error == "brevo refused the contact (400): invalid_parameter: Invalid phone number"
    )
    assert written.ok
    assert (written.record_id, written.created) == ("42", True)
    assert _body(created.calls[1])["updateEnabled"] is True


@respx.mock
def test_a_429_with_only_the_reset_header_is_waited_out_by_the_shared_limiter() -> None:
    limited = _error(
        429,
        "too_many_requests",
        "Too many requests",
        **{
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": "3",
        },
    )
    route = respx.post(CONTACTS).mock(side_effect=[limited, httpx.Response(201, json={"id": 7})])
    sleeps: list[float] = []
    (outcome,) = _writer(sleeps).upsert("person", [_item(1)])
    assert outcome.ok
    assert route.call_count == 2
    assert sleeps
    assert 2.5 <= sleeps[0] <= 3.0, sleeps


def _import_routes(process_statuses: list[str]) -> tuple[respx.Route, respx.Route, respx.Route]:
    respx.get(CONTACTS, params={"sort": "desc"}).mock(
        return_value=httpx.Response(
            200, json={"contacts": [{"id": 9, "createdAt": "2026-01-01T00:00:00.000+00:00"}]}
        )
    )
    started = respx.post(f"{CONTACTS}/import").mock(
        return_value=httpx.Response(202, json={"processId": 77})
    )
    polled = respx.get(f"{BASE}/processes/77").mock(
        side_effect=[
            httpx.Response(200, json={"id": 77, "status": s, "name": "IMPORTUSER"})
            for s in process_statuses
        ]
    )
    singles = respx.post(CONTACTS).mock(
        side_effect=[httpx.Response(201, json={"id": 100 + n}) for n in range(10)]
    )
    return started, polled, singles


@respx.mock
def test_an_import_process_that_fails_falls_back_to_one_upsert_per_contact() -> None:
    started, polled, singles = _import_routes(["queued", "in_process", "failed"])
    waits: list[float] = []
    with mock.patch.object(retry, "sleeper", waits.append):
        outcomes = _writer().upsert("person", [_item(n) for n in range(3)])
    assert [o.ok for o in outcomes] == [True, True, True]
    assert [o.record_id for o in outcomes] == ["100", "101", "102"]
    sent = _body(started.calls[0])
    assert [r["email"] for r in sent["jsonBody"]] == [f"person{n}@acme.io" for n in range(3)]
    assert sent["listIds"] == [2]
    assert sent["updateExistingContacts"] is True
    assert sent["emptyContactsAttributes"] is False
    assert polled.call_count == 3
    assert waits == [1.0, 2.0]
    assert singles.call_count == 3


@respx.mock
def test_an_import_process_brevo_no_longer_knows_falls_back_too() -> None:
    _, polled, singles = _import_routes([])
    polled.mock(return_value=_error(404, "invalid_parameter", "processId is invalid"))
    outcomes = _writer().upsert("person", [_item(n) for n in range(3)])
    assert all(o.ok for o in outcomes)
    assert singles.call_count == 3


@respx.mock
def test_an_import_still_running_after_the_poll_budget_falls_back_too() -> None:
    _, polled, singles = _import_routes(["in_process"] * 10)
    waits: list[float] = []
    with mock.patch.object(retry, "sleeper", waits.append):
        outcomes = _writer(timeout=6.0).upsert("person", [_item(n) for n in range(3)])
    assert all(o.ok for o in outcomes)
    assert waits == [1.0, 2.0, 4.0]  # 7 s waited: past the 6 s budget
    assert polled.call_count == 4
    assert singles.call_count == 3


@respx.mock
def test_an_import_takes_its_ids_from_the_contacts_created_since_and_upserts_the_rest() -> None:
    _import_routes(["completed"])
    since = respx.get(CONTACTS, params={"sort": "asc"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "contacts": [
                    {"id": 11, "email": "person0@acme.io"},
                    {"id": 12, "email": "PERSON1@acme.io"},
                    {"id": 13, "email": "someone.else@acme.io"},
                ],
                "count": 3,
            },
        )
    )
    # person2 existed already (a replayed create): the single upsert answers 204.
    respx.post(CONTACTS).mock(return_value=httpx.Response(204))
    by_ext = respx.get(f"{CONTACTS}/u2", params={"identifierType": "ext_id"}).mock(
        return_value=httpx.Response(200, json={"id": 5, "email": "person2@acme.io"})
    )
    with mock.patch.object(retry, "sleeper", [].append):
        outcomes = _writer().upsert("person", [_item(n) for n in range(3)])
    assert [(o.record_id, o.created) for o in outcomes] == [
        ("11", True),
        ("12", True),
        ("5", False),
    ]
    assert since.calls[0].request.url.params["createdSince"] == "2026-01-01T00:00:00.000+00:00"
    assert by_ext.call_count == 1


@respx.mock
def test_an_import_refused_goes_one_by_one_and_fewer_contacts_never_import() -> None:
    respx.get(CONTACTS, params={"sort": "desc"}).mock(
        return_value=httpx.Response(200, json={"contacts": [], "count": 0})
    )
    refused = respx.post(f"{CONTACTS}/import").mock(
        return_value=_error(400, "invalid_parameter", "Invalid list id: 2")
    )
    singles = respx.post(CONTACTS).mock(
        side_effect=[httpx.Response(201, json={"id": n}) for n in range(1, 10)]
    )
    outcomes = _writer().upsert("person", [_item(n) for n in range(3)])
    assert all(o.ok for o in outcomes)
    assert (refused.call_count, singles.call_count) == (1, 3)
    _writer().upsert("person", [_item(n) for n in range(5, 7)])
    assert (refused.call_count, singles.call_count) == (1, 5)


@respx.mock
def test_a_tail_shorter_than_the_threshold_is_not_imported() -> None:
    _import_routes(["completed"])
    respx.get(CONTACTS, params={"sort": "asc"}).mock(
        return_value=httpx.Response(
            200,
            json={"contacts": [{"id": 20 + n, "email": f"person{n}@acme.io"} for n in range(4)]},
        )
    )
    client = build_client(CONN, retry=RetrySettings.no_wait())
    writer = BrevoWriter(CONN, client, batch_size=4, import_min=3)
    with mock.patch.object(retry, "sleeper", [].append):
        outcomes = writer.upsert("person", [_item(n) for n in range(6)])
    assert all(o.ok for o in outcomes)
    imports = [c for c in respx.calls if c.request.url.path.endswith("/contacts/import")]
    assert [len(_body(c)["jsonBody"]) for c in imports] == [4]
    singles = [
        c
        for c in respx.calls
        if c.request.method == "POST" and c.request.url.path.endswith("/contacts")
    ]
    assert [_body(c)["email"] for c in singles] == ["person4@acme.io", "person5@acme.io"]


@respx.mock
def test_a_linked_contact_is_updated_by_id_and_a_404_is_gone() -> None:
    updated = respx.put(f"{CONTACTS}/41", params={"identifierType": "contact_id"}).mock(
        return_value=httpx.Response(204)
    )
    respx.put(f"{CONTACTS}/40").mock(
        return_value=_error(404, "document_not_found", "Contact does not exist")
    )
    item = _item(1, record_id="41")
    props = {"attributes": {"LASTNAME": "Byron"}}
    ok, gone = _writer().upsert(
        "person",
        [
            WriteItem(item.key, "41", props),
            WriteItem("person2@acme.io", "40", props),
        ],
    )
    assert ok.ok
    assert ok.record_id == "41"
    assert _body(updated.calls[0]) == props
    assert not gone.ok
    assert gone.gone


@respx.mock
def test_created_contacts_are_linked_to_their_company_one_call_per_company() -> None:
    respx.post(CONTACTS).mock(
        side_effect=[httpx.Response(201, json={"id": n}) for n in (31, 32, 33)]
    )
    acme = respx.patch(f"{BASE}/companies/link-unlink/c-acme").mock(
        return_value=httpx.Response(204)
    )
    respx.patch(f"{BASE}/companies/link-unlink/c-gone").mock(
        return_value=_error(404, "document_not_found", "Document not found")
    )
    items = [_item(1), _item(2), _item(3)]
    for item, company in zip(items, ("c-acme", "c-acme", "c-gone"), strict=True):
        item.properties["company_ref"] = company
    first, second, third = _writer(import_min=10).upsert("person", items)
    assert (first.ok, second.ok) == (True, True)
    assert _body(acme.calls[0]) == {"linkContactIds": [31, 32]}
    assert "company_ref" not in json.dumps(
        [_body(c) for c in respx.calls if c.request.method == "POST"]
    )
    assert not third.ok
    assert third.record_id == "33"
    assert "not linked to company c-gone" in (third.error or "")


@respx.mock
def test_a_company_is_found_by_domain_before_a_create_and_the_name_goes_on_top() -> None:
    def lookup(request: httpx.Request) -> httpx.Response:
        wanted = json.loads(request.url.params["filters"])["attributes.domain"]
        held = [{"id": "c1", "attributes": {"name": "Acme", "domain": "acme.io"}}]
        return httpx.Response(200, json={"items": [c for c in held if wanted == "acme.io"]})

    respx.get(f"{BASE}/companies").mock(side_effect=lookup)
    patched = respx.patch(f"{BASE}/companies/c1").mock(
        return_value=httpx.Response(200, json={"id": "c1", "attributes": {"name": "Acme Inc"}})
    )
    created = respx.post(f"{BASE}/companies").mock(
        return_value=httpx.Response(200, json={"id": "c2"})
    )
    found, new, nameless = _writer().upsert(
        "company",
        [
            WriteItem("acme.io", None, {"attributes": {"name": "Acme Inc", "domain": "acme.io"}}),
            WriteItem("new.io", None, {"attributes": {"name": "New", "domain": "new.io"}}),
            WriteItem("anon.io", None, {"attributes": {"domain": "anon.io"}}),
        ],
    )
    assert (found.record_id, found.created) == ("c1", False)
    assert _body(patched.calls[0]) == {"name": "Acme Inc", "attributes": {"domain": "acme.io"}}
    assert (new.record_id, new.created) == ("c2", True)
    assert _body(created.calls[0]) == {"name": "New", "attributes": {"domain": "new.io"}}
    assert not nameless.ok
    assert "name" in (nameless.error or "")


def test_error_text_reads_the_error_model() -> None:
    assert error_text({"code": "duplicate_parameter", "message": "SMS taken"}) == (
        "duplicate_parameter: SMS taken"
    )
    assert error_text({"message": "Not valid data."}) == "Not valid data."
    assert error_text(None) == "rejected"


def test_an_entity_brevo_does_not_hold_is_a_config_error() -> None:
    from connectors.errors import ConfigError

    with pytest.raises(ConfigError):
        _writer().upsert("deal", [])


@respx.mock
def test_a_blacklisted_create_is_never_imported_so_its_flag_is_kept() -> None:
    """An import row carries no blacklist flag: a contact created blacklisted (a consent
    policy that adds opted-out people as a suppression) goes through its own call."""
    imports = respx.post(f"{CONTACTS}/import")
    singles = respx.post(CONTACTS).mock(
        side_effect=[httpx.Response(201, json={"id": n}) for n in range(1, 10)]
    )
    items = [_item(n) for n in range(3)]
    for item in items:
        item.properties["emailBlacklisted"] = True
    outcomes = _writer().upsert("person", items)
    assert all(o.ok for o in outcomes)
    assert imports.call_count == 0
    assert [_body(c)["emailBlacklisted"] for c in singles.calls] == [True, True, True]
