"""References by value (``ref_by``): a call's other party found by phone number among every
golden person: one holder is linked, a number several people hold (a switchboard) links to
none, a withheld or unparseable number links to none and the call is still kept."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.errors import MappingConfigError
from mappings.spec import load_mapping, parse_mapping
from reconcile.mapped import map_stream
from reconcile.plan import build_plan
from reconcile.refs import (
    RefIndex,
    reference_fields,
    referenced_entities,
    to_golden,
    value_refs,
    value_rows,
)

CALLS = load_mapping("aircall", "call")

# Ada holds +14155550100 in her golden record and in a linked record; Bob and Cleo both hold
# the office line +14155550199 (one through a tool record only).
HOLDERS: list[tuple[str, dict[str, Any] | None]] = [
    ("gold-ada", {"phone": "+14155550100", "email": "ada@acme.io"}),
    ("gold-ada", {"phone": "+14155550100"}),
    ("gold-bob", {"phone": "+14155550199"}),
    ("gold-cleo", {"phone": "+14155550142"}),
    ("gold-cleo", {"phone": "+14155550199"}),
    ("gold-dan", {"phone": None}),
    ("gold-eve", None),
]
REFS = RefIndex.build([], value_rows("person", "phone", HOLDERS))


def _call(call_id: int, raw_digits: str | None) -> dict[str, Any]:
    return {
        "id": call_id,
        "direct_link": f"https://api.aircall.io/v1/calls/{call_id}",
        "direction": "inbound",
        "started_at": 1_764_000_000 + call_id,
        "started_at_iso": "2025-11-24T16:00:00Z",
        "answered_at": None,
        "ended_at": 1_764_000_030 + call_id,
        "duration": 30,
        "raw_digits": raw_digits,
        "outcome": "missed",
        "tags": [],
        "user": None,
        "number": {"digits": "+14155550000"},
    }


def test_the_call_mapping_points_at_people_by_phone_not_by_record_id() -> None:
    assert reference_fields(CALLS) == {"person_id": "person"}
    assert value_refs([CALLS]) == {("person", "phone")}
    assert referenced_entities([CALLS]) == set()  # no record-id links to load


def test_rows_come_from_every_holder_with_a_value() -> None:
    rows = value_rows("person", "phone", HOLDERS)
    assert ("person", "phone", "+14155550199", "gold-cleo") in rows
    assert {uid for *_, uid in rows} == {"gold-ada", "gold-bob", "gold-cleo"}


def test_a_number_one_person_holds_links_the_call_to_that_person() -> None:
    (record,) = map_stream(CALLS, [_call(1, "+1 415-555-0100")], {}, REFS).changed
    assert record.values["phone"] == "+14155550100"
    assert record.values["person_id"] == "gold-ada"
    assert not record.warnings


def test_a_number_two_people_hold_links_to_none_with_a_warning() -> None:
    (record,) = map_stream(CALLS, [_call(2, "+14155550199")], {}, REFS).changed
    assert record.values["phone"] == "+14155550199"
    assert record.values["person_id"] is None
    assert any("held by 2 persons" in w for w in record.warnings), record.warnings


@pytest.mark.parametrize("raw", ["anonymous", "12", "", None])
def test_a_withheld_or_unparseable_number_links_to_none_and_the_call_is_kept(
    raw: str | None,
) -> None:
    mapped = map_stream(CALLS, [_call(3, raw)], {}, REFS)
    assert not mapped.invalid
    (record,) = mapped.changed
    assert record.values["phone"] is None
    assert record.values["person_id"] is None
    if raw in ("anonymous", "12"):
        assert any("unparseable phone" in w for w in record.warnings), record.warnings


def test_a_number_nobody_holds_links_to_none() -> None:
    values = to_golden(CALLS, {"person_id": "+14155550123", "phone": "+14155550123"}, REFS)
    assert values["person_id"] is None
    assert values["phone"] == "+14155550123"


def test_the_golden_id_changes_the_hash_so_a_later_holder_relinks_a_call_read_again() -> None:
    first = map_stream(CALLS, [_call(4, "+14155550142")], {}, REFS)
    assert first.changed[0].values["person_id"] == "gold-cleo"
    known = {"4": {first.hashes["4"]}}
    again = map_stream(CALLS, [_call(4, "+14155550142")], known, REFS)
    assert again.unchanged == 1
    more = RefIndex.build(
        [], value_rows("person", "phone", [*HOLDERS, ("gold-fay", {"phone": "+14155550142"})])
    )
    shared = map_stream(CALLS, [_call(4, "+14155550142")], known, more)
    assert shared.changed[0].values["person_id"] is None


def test_calls_are_never_written() -> None:
    (record,) = map_stream(CALLS, [_call(5, "+14155550100")], {}, REFS).changed
    plan = build_plan({"gold-call": record.values}, {}, [CALLS], refs=REFS)
    assert plan.writes == []


def _section(field: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": "call",
        "stream": "calls",
        "updated_field": "started_at",
        "natural_key": "url",
        "fields": [{"unified": "url", "tool": "direct_link", "direction": "in"}, field],
    }


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ({"unified": "person_id", "tool": "raw_digits", "ref_by": "fax"}, "not a person field"),
        ({"unified": "person_id", "tool": "raw_digits", "ref_by": "phone"}, "read only"),
        ({"unified": "phone", "tool": "raw_digits", "ref_by": "phone", "direction": "in"}, "only"),
    ],
)
def test_the_loader_refuses_a_reference_by_value_it_cannot_resolve(
    field: dict[str, Any], says: str
) -> None:
    with pytest.raises(MappingConfigError, match=says):
        parse_mapping("acme", _section(field))


def test_a_read_only_reference_by_phone_loads() -> None:
    field = {
        "unified": "person_id",
        "tool": "raw_digits",
        "transform": "phone_e164",
        "direction": "in",
        "ref_by": "phone",
    }
    assert parse_mapping("acme", _section(field)).fields[1].ref_by == "phone"
