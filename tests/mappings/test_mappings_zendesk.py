"""Zendesk's mapping file and the composite ``full_name`` transform it needs.

Zendesk keeps one ``name`` per user; the unified person has first and last name. These tests
pin the split rule, the composed write, where the round trip holds (and where it cannot), and
the loader's checks on composite fields.
"""

from __future__ import annotations

from typing import Any

import pytest

from mappings.errors import MappingConfigError
from mappings.spec import (
    external_id_payload,
    from_unified,
    load_mapping,
    load_mappings,
    mapped_fields,
    parse_mapping,
    read_back,
    to_unified,
    written_together,
)
from mappings.transforms import TRANSFORMS, TransformContext, join_full_name, split_full_name

PERSON = load_mapping("zendesk", "person")
COMPANY = load_mapping("zendesk", "company")
STAMP = "2026-05-01T12:00:00Z"


def _user(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 10000000042,
        "name": "Mary Ann Smith",
        "email": "Mary.Smith@Acme.io",
        "phone": "(415) 555-0100",
        "external_id": None,
        "active": True,
        "role": "end-user",
        "updated_at": STAMP,
        "user_fields": {},
    }
    return {**base, **fields}


# --- the split rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("Cher", "Cher", None),
        ("  jean   DUPONT ", "Jean", "Dupont"),  # each part is re-cased on its own
        ("JEAN DE LA FONTAINE", "Jean", "de la Fontaine"),  # one case: re-cased first
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Maria Dos Santos", "Maria", "Dos Santos"),  # particles in any case
        ("Van Morrison", "Van", "Morrison"),  # the first word always stays the first name
        ("Gabriel García Márquez", "Gabriel García", "Márquez"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_split_full_name(name: str | None, first: str | None, last: str | None) -> None:
    assert split_full_name(name) == (first, last)


def test_join_uses_the_known_parts() -> None:
    assert join_full_name("Mary Ann", "Smith") == "Mary Ann Smith"
    assert join_full_name("Cher", None) == "Cher"
    assert join_full_name(None, "Smith") == "Smith"
    assert join_full_name(" ", None) is None


def test_full_name_transform_reads_the_part_it_is_told() -> None:
    transform = TRANSFORMS["full_name"]
    assert transform.parts == ("first", "last")
    first = TransformContext(field="first_name", options={"part": "first"})
    last = TransformContext(field="last_name", options={"part": "last"})
    assert transform.inbound("Ludwig van Beethoven", first) == "Ludwig"
    assert transform.inbound("Ludwig van Beethoven", last) == "van Beethoven"
    assert transform.compose is not None
    assert transform.compose({"last": "Smith", "first": "Mary Ann"}) == "Mary Ann Smith"


# --- reading users and organizations -------------------------------------------------------


def test_user_maps_to_a_person() -> None:
    record = to_unified(PERSON, _user(external_id="u-123"))
    assert record.record_id == "10000000042"
    assert record.values == {
        "email": "mary.smith@acme.io",
        "first_name": "Mary Ann",
        "last_name": "Smith",
        "phone": "+14155550100",
        "company_id": None,
    }
    assert record.external_id == "u-123"
    assert not record.gone
    assert record.updated_at.isoformat() == "2026-05-01T12:00:00+00:00"


def test_a_merged_away_user_is_gone_without_email() -> None:
    record = to_unified(PERSON, _user(active=False, email=None))
    assert record.gone
    assert record.values["email"] is None
    assert record.values["first_name"] == "Mary Ann"


def test_organization_maps_to_a_company() -> None:
    raw = {
        "id": 20000000007,
        "name": "Acme Inc",
        "domain_names": ["not a domain", "https://www.Acme.io/about"],
        "details": "Software",
        "notes": "call on Mondays",
        "external_id": None,
        "updated_at": STAMP,
    }
    record = to_unified(COMPANY, raw)
    assert record.entity == "company"
    assert record.values == {"name": "Acme Inc", "domain": "acme.io", "industry": "Software"}
    assert any("invalid domain" in w for w in record.warnings)


def test_file_has_its_sections_on_the_connector_streams() -> None:
    sections = load_mappings("zendesk")
    assert list(sections) == ["person", "company", "ticket"]
    assert (PERSON.stream, COMPANY.stream) == ("users", "organizations")
    assert COMPANY.natural_key == "unified_id"
    assert "industry" not in mapped_fields(COMPANY, "out"), "details is never written"
    assert "notes" not in {f.tool for f in COMPANY.fields}


# --- writing -------------------------------------------------------------------------------


def test_create_payload_composes_the_name_and_skips_the_verification_email() -> None:
    values = {
        "email": "Mary@Acme.io",
        "first_name": "Mary Ann",
        "last_name": "Smith",
        "phone": "+14155550100",
    }
    payload = from_unified(PERSON, values, create=True)
    assert payload == {
        "email": "mary@acme.io",
        "name": "Mary Ann Smith",
        "phone": "+14155550100",
        "skip_verify_email": True,
    }
    assert external_id_payload(PERSON, "u-9") == {"external_id": "u-9"}
    update = from_unified(PERSON, values, create=False)
    assert "email" not in update
    assert "skip_verify_email" not in update


def test_company_payload_writes_a_domain_list_and_the_unified_id() -> None:
    values = {"name": "Acme", "domain": "acme.io", "industry": "Software"}
    assert from_unified(COMPANY, values, create=True) == {
        "name": "Acme",
        "domain_names": ["acme.io"],
    }
    assert external_id_payload(COMPANY, "c-1") == {"external_id": "c-1"}


def test_an_update_of_one_name_part_must_carry_the_other() -> None:
    assert written_together(PERSON, ["last_name"]) == ("first_name",)
    assert written_together(PERSON, ["first_name", "last_name"]) == ()
    assert written_together(PERSON, ["phone"]) == ()
    alone = from_unified(PERSON, {"last_name": "Jones"}, create=False)
    assert alone == {"name": "Jones"}, "why the other part must come along"
    together = from_unified(PERSON, {"last_name": "Jones", "first_name": "Mary"}, create=False)
    assert together == {"name": "Mary Jones"}


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Mary Ann", "Smith"),
        ("Ludwig", "van Beethoven"),
        ("Jean", "de la Fontaine"),
        ("Cher", None),
        ("Jean-Luc", "O'Neil"),
    ],
)
def test_round_trip_holds_when_the_last_name_is_one_word(first: str, last: str | None) -> None:
    values = {
        "email": "x@acme.io",
        "first_name": first,
        "last_name": last,
        "phone": None,
        "company_id": None,
    }
    raw = {**from_unified(PERSON, values, create=True), "id": 1, "updated_at": STAMP}
    assert to_unified(PERSON, raw).values == values
    assert read_back(PERSON, values) == values


@pytest.mark.parametrize(
    ("values", "reported"),
    [
        ({"first_name": "Gabriel", "last_name": "García Márquez"}, ("Gabriel García", "Márquez")),
        ({"first_name": None, "last_name": "Smith"}, ("Smith", None)),
    ],
)
def test_read_back_says_what_zendesk_will_report(
    values: dict[str, str | None], reported: tuple[str | None, str | None]
) -> None:
    back = read_back(PERSON, {"email": "x@acme.io", **values})
    assert (back["first_name"], back["last_name"]) == reported
    assert back["email"] == "x@acme.io"


# --- the loader's checks on composite fields ------------------------------------------------


def _section(*fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": "person",
        "stream": "users",
        "updated_field": "updated_at",
        "natural_key": "email",
        "fields": [{"unified": "email", "tool": "email", "transform": "email"}, *fields],
    }


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        (
            [{"unified": "first_name", "tool": "name", "transform": "full_name"}],
            "needs options.part",
        ),
        (
            [
                {
                    "unified": "first_name",
                    "tool": "name",
                    "transform": "full_name",
                    "options": {"part": "first"},
                },
                {
                    "unified": "last_name",
                    "tool": "name",
                    "transform": "full_name",
                    "options": {"part": "first"},
                },
            ],
            "mapped twice",
        ),
        (
            [
                {
                    "unified": "first_name",
                    "tool": "name",
                    "transform": "full_name",
                    "options": {"part": "first"},
                },
                {
                    "unified": "last_name",
                    "tool": "name",
                    "transform": "full_name",
                    "options": {"part": "last"},
                    "direction": "in",
                },
            ],
            "all be written or all not",
        ),
        (
            [
                {
                    "unified": "first_name",
                    "tool": "name",
                    "transform": "full_name",
                    "options": {"part": "first"},
                },
                {"unified": "last_name", "tool": "name", "transform": "name"},
            ],
            "cannot map it too",
        ),
    ],
)
def test_composite_mistakes_are_refused_at_load(
    fields: list[dict[str, Any]], complaint: str
) -> None:
    with pytest.raises(MappingConfigError, match=complaint):
        parse_mapping("zendesk", _section(*fields))


def test_a_ticket_reads_its_status_people_and_times_in_the_unified_shape() -> None:
    ticket = load_mapping("zendesk", "ticket")
    raw = {
        "id": 35436,
        "subject": "  Printer on fire ",
        "status": "hold",
        "priority": "urgent",
        "via": {"channel": "email"},
        "requester_id": 10000000042,
        "assignee_id": 10000000003,
        "organization_id": None,
        "created_at": "2026-05-01T10:30:00+02:00",
        "updated_at": STAMP,
        "agent_url": "https://acme.zendesk.com/agent/tickets/35436",
        # the sideloaded metric set the manifest joins on
        "metric_set": {"ticket_id": 35436, "solved_at": "2026-05-01T11:00:00Z"},
    }
    record = to_unified(ticket, raw)
    assert record.values == {
        "subject": "Printer on fire",
        "status": "pending",
        "priority": "urgent",
        "channel": "email",
        "requester_id": "10000000042",
        "company_id": None,
        "assignee": "10000000003",
        "created_at": "2026-05-01T08:30:00Z",
        "updated_at": "2026-05-01T12:00:00Z",
        "solved_at": "2026-05-01T11:00:00Z",
        "url": "https://acme.zendesk.com/agent/tickets/35436",
    }
    assert not record.gone
    assert to_unified(ticket, {**raw, "status": "deleted"}).gone
    assert mapped_fields(ticket, "out") == (), "tickets are never written"
