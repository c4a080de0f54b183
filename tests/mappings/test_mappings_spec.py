"""Mapping files applied both ways: golden records, malformed input, round trip."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mappings.consent import CONSENT_FIELDS, CONSENT_REASONS
from mappings.errors import MappingConfigError, MappingError
from mappings.model import PERSON_FIELDS, reference_target
from mappings.spec import (
    MappedRecord,
    Mapping,
    from_unified,
    load_mapping,
    mapped_fields,
    parse_mapping,
    to_unified,
)
from mappings.transforms import country_name

GOLDEN = Path(__file__).parent / "golden"
TOOLS = ("hubspot", "mailchimp")
PLAIN_FIELDS = tuple(
    f for f in PERSON_FIELDS if reference_target("person", f) is None and f not in CONSENT_REASONS
)
"""Person fields holding values (a reference holds a record id: tests/reconcile/..._refs.py), but
the consent reason, which only some tools record and none is written."""
ROUND_TRIP = tuple(f for f in PLAIN_FIELDS if f not in CONSENT_FIELDS)
"""Fields every tool writes as it reads them (consent states map onto fewer tool values and are
never loosened: tests/mappings/test_mappings_consent.py)."""


def _load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _as_read(m: Mapping, payload: dict[str, Any], record_id: str, when: datetime) -> dict:
    """Wrap a write payload the way the tool returns the record on read."""
    stamp = when.isoformat()
    if m.tool == "hubspot":
        return {"id": record_id, "properties": {**payload, "lastmodifieddate": stamp}}
    return {"id": record_id, "last_changed": stamp, "merge_fields": {}, **payload}


# --- golden ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "fixture"), [("hubspot", "hubspot_contact"), ("mailchimp", "mailchimp_member")]
)
def test_golden_record_maps_to_expected_unified(tool: str, fixture: str) -> None:
    raw = _load(f"{fixture}.json")
    expected = _load(f"{fixture}.expected.json")
    record = to_unified(load_mapping(tool), raw)
    assert record.tool == expected["tool"]
    assert record.record_id == expected["record_id"]
    assert record.updated_at == datetime.fromisoformat(expected["updated_at"])
    assert record.updated_at.tzinfo is UTC
    assert record.values == expected["values"]
    assert list(record.warnings) == expected["warnings"]
    assert record.raw == raw


def test_golden_hubspot_update_payload_leaves_out_identity() -> None:
    m = load_mapping("hubspot")
    expected = _load("hubspot_contact.expected.json")
    payload = from_unified(m, expected["values"], create=False)
    assert payload == expected["payload_update"]
    assert "email" not in payload
    created = from_unified(m, expected["values"], create=True)
    assert created["email"] == expected["values"]["email"]


def test_golden_mailchimp_create_payload_has_constants_and_identity() -> None:
    m = load_mapping("mailchimp")
    expected = _load("mailchimp_member.expected.json")
    assert from_unified(m, expected["values"], create=True) == expected["payload_create"]
    update = from_unified(m, expected["values"], create=False)
    assert "email_address" not in update
    assert "status_if_new" not in update
    assert update["merge_fields"] == expected["payload_create"]["merge_fields"]


# --- both mapping files ------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_mapping_files_cover_every_person_field(tool: str) -> None:
    m = load_mapping(tool)
    assert m.entity == "person"
    assert m.natural_key == "email"
    assert set(mapped_fields(m, "in")) - {"company_id"} - set(CONSENT_REASONS) == set(PLAIN_FIELDS)
    assert set(mapped_fields(m, "out")) - {"company_id"} - CONSENT_FIELDS == set(ROUND_TRIP)
    assert load_mapping(tool) is m  # cached


def test_unknown_tool_is_a_config_error() -> None:
    with pytest.raises(MappingConfigError, match="no mapping file"):
        load_mapping("nosuchtool")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"fields": [{"unified": "shoe_size", "tool": "x"}]}, "not a person field"),
        ({"fields": [{"unified": "email", "tool": "x", "transform": "rot13"}]}, "transform"),
        (
            {
                "fields": [
                    {"unified": "email", "tool": "x", "transform": "picklist", "picklist": "nope"}
                ]
            },
            "picklist",
        ),
        ({"entity": "spaceship"}, "unknown entity"),
        ({"natural_key": "phone"}, "natural_key"),
        (
            {"write_root": "properties", "fields": [{"unified": "email", "tool": "email"}]},
            "write_root",
        ),
    ],
)
def test_invalid_mapping_documents_are_rejected(patch: dict[str, Any], message: str) -> None:
    document = {
        "entity": "person",
        "stream": "s",
        "updated_field": "u",
        "natural_key": "email",
        "fields": [{"unified": "email", "tool": "email", "transform": "email"}],
        **patch,
    }
    with pytest.raises(MappingConfigError, match=message):
        parse_mapping("t", document)


# --- malformed records -------------------------------------------------------------------


def _hubspot(**properties: Any) -> dict[str, Any]:
    props = {"email": "a@example.com", "lastmodifieddate": "2024-05-01T10:00:00.000Z"}
    props.update(properties)
    return {"id": "1", "properties": props}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"properties": {"email": "a@example.com"}}, "record id"),
        ({"id": "", "properties": {}}, "record id"),
        ({"id": {"x": 1}, "properties": {}}, "record id"),
        (_hubspot(lastmodifieddate="yesterday"), "unparseable timestamp"),
        (_hubspot(lastmodifieddate="2024-05-01T10:00:00"), "without a timezone"),
        ({"id": "1", "properties": {"email": "a@example.com"}}, "missing update timestamp"),
        (_hubspot(email="not-an-email"), "invalid email"),
        (_hubspot(email="a@@example.com"), "invalid email"),
        (_hubspot(firstname={"nested": True}), "expected text"),
        (_hubspot(city=["a"]), "expected text"),
    ],
)
def test_malformed_hubspot_records_raise_mapping_error(raw: Any, message: str) -> None:
    with pytest.raises(MappingError, match=message) as info:
        to_unified(load_mapping("hubspot"), raw)
    assert info.value.tool == "hubspot"
    assert info.value.reason


def test_mapping_error_names_record_and_field() -> None:
    with pytest.raises(MappingError) as info:
        to_unified(load_mapping("hubspot"), _hubspot(email="bad@"))
    assert info.value.record_id == "1"
    assert info.value.field == "properties.email"


def test_non_dict_record_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="record object"):
        to_unified(load_mapping("mailchimp"), ["not", "a", "record"])  # type: ignore[arg-type]


def test_hubspot_falls_back_to_updated_at_and_accepts_epoch_millis() -> None:
    m = load_mapping("hubspot")
    raw = {"id": 7, "properties": {"email": "a@example.com"}, "updatedAt": "2024-05-01T10:00:00Z"}
    record = to_unified(m, raw)
    assert record.record_id == "7"
    assert record.updated_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    millis = to_unified(m, _hubspot(lastmodifieddate="1714557600000"))
    assert millis.updated_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_bad_phone_and_unknown_picklist_are_dropped_with_warnings() -> None:
    record = to_unified(
        load_mapping("mailchimp"),
        {
            "id": "h",
            "email_address": "a@example.com",
            "last_changed": "2024-05-01T10:00:00+00:00",
            "merge_fields": {"PHONE": "call me maybe", "LIFECYCLE": "Hot prospect"},
        },
    )
    assert record.values["phone"] is None
    assert record.values["lifecycle_stage"] is None
    assert len(record.warnings) == 2
    assert any("phone" in w for w in record.warnings)
    assert any("picklist" in w for w in record.warnings)


def test_missing_email_is_not_fatal() -> None:
    record = to_unified(load_mapping("hubspot"), _hubspot(email=""))
    assert record.values["email"] is None


def test_empty_values_are_never_sent() -> None:
    m = load_mapping("hubspot")
    values = dict.fromkeys(PERSON_FIELDS, None) | {"city": "  ", "company": "Acme"}
    assert from_unified(m, values, create=True) == {"company": "Acme"}
    assert from_unified(load_mapping("mailchimp"), {"email": None}, create=False) == {}


def test_outbound_rejects_values_the_tool_cannot_hold() -> None:
    with pytest.raises(MappingError, match="picklist"):
        from_unified(load_mapping("mailchimp"), {"lifecycle_stage": "zombie"}, create=False)
    with pytest.raises(MappingError, match="text"):
        from_unified(load_mapping("hubspot"), {"city": 12}, create=False)


# --- round trip --------------------------------------------------------------------------

_STAGES = (
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_NAMES = ("Jane", "O'Neil", "McDonald", "van der Berg", "Mary-Jane", "José", "Ng", "deBoer")
_PHONES = ("+14155550100", "+442079460958", "+33142685300", "+4930901820", "+61293744000")
_COUNTRIES = ("US", "GB", "NL", "FR", "DE", "JP", "CI", "Narnia")


def _text(rng: random.Random) -> str:
    words = [
        "".join(rng.choices(string.ascii_letters + "éü&.-", k=rng.randint(1, 8)))
        for _ in range(rng.randint(1, 3))
    ]
    return " ".join(words)


def _unified(rng: random.Random) -> dict[str, str | None]:
    def maybe(value: str) -> str | None:
        return None if rng.random() < 0.2 else value

    local = "".join(rng.choices(string.ascii_lowercase + string.digits + "._+", k=6)).strip(".")
    return {
        "email": f"x{local.replace('..', '.')}x@{rng.choice(['example.com', 'acme.io'])}",
        "first_name": maybe(rng.choice(_NAMES)),
        "last_name": maybe(rng.choice(_NAMES)),
        "phone": maybe(rng.choice(_PHONES)),
        "company": maybe(_text(rng)),
        "job_title": maybe(_text(rng)),
        "lifecycle_stage": maybe(rng.choice(_STAGES)),
        "city": maybe(_text(rng)),
        "country": maybe(rng.choice(_COUNTRIES)),
    }


@pytest.mark.parametrize("tool", TOOLS)
def test_round_trip_gives_back_unified_values(tool: str) -> None:
    m = load_mapping(tool)
    rng = random.Random(20240501)
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for i in range(300):
        values = _unified(rng)
        when = base + timedelta(seconds=i)
        payload = from_unified(m, values, create=True)
        back = to_unified(m, _as_read(m, payload, f"r{i}", when))
        assert {k: v for k, v in back.values.items() if k in ROUND_TRIP} == values, (i, payload)
        assert back.updated_at == when
        assert back.warnings == ()


@pytest.mark.parametrize("tool", TOOLS)
def test_update_round_trip_keeps_everything_but_identity(tool: str) -> None:
    m = load_mapping(tool)
    rng = random.Random(7)
    identity = {f.unified for f in m.fields if f.identity}
    for i in range(100):
        values = _unified(rng)
        payload = from_unified(m, values, create=False)
        back = to_unified(m, _as_read(m, payload, f"r{i}", datetime(2024, 1, 1, tzinfo=UTC)))
        for name in ROUND_TRIP:
            assert back.values[name] == (None if name in identity else values[name])


def test_country_names_come_back_as_codes() -> None:
    assert country_name("US") == "United States"
    m = load_mapping("hubspot")
    payload = from_unified(m, {"country": "GB"}, create=False)
    assert payload == {"country": "United Kingdom"}


def test_mapped_record_requires_an_aware_timestamp_and_stores_utc() -> None:
    paris = timezone(timedelta(hours=2))
    record = MappedRecord(
        tool="t", record_id="1", updated_at=datetime(2024, 5, 1, 12, tzinfo=paris), values={}
    )
    assert record.updated_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert record.updated_at.tzinfo is UTC
    assert record.key == "t:1"
    with pytest.raises(ValidationError, match="timezone-aware"):
        MappedRecord(tool="t", record_id="1", updated_at=datetime(2024, 5, 1), values={})  # noqa: DTZ001
