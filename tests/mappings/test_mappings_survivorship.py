"""Survivorship: authoritative tool, most recent non-empty, no empty-over-value, incremental."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from mappings.spec import MappedRecord
from mappings.survivorship import (
    FieldSource,
    GoldenView,
    Rules,
    golden_from_scratch,
    load_rules,
    merge,
)

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
RULES = Rules(authoritative={"lifecycle_stage": "hubspot"})


def rec(tool: str, rid: str, minutes: int, **values: str | None) -> MappedRecord:
    return MappedRecord(
        tool=tool, record_id=rid, updated_at=T0 + timedelta(minutes=minutes), values=values
    )


def test_shipped_rules_load() -> None:
    rules = load_rules("person")
    assert rules.default == "most_recent_non_empty"
    assert rules.authoritative["lifecycle_stage"] == "hubspot"
    with pytest.raises(ValueError, match="no rules"):
        load_rules("spaceship")


def test_most_recent_non_empty_wins() -> None:
    golden = golden_from_scratch(
        [rec("hubspot", "1", 0, city="Paris"), rec("mailchimp", "m", 5, city="Lyon")], RULES
    )
    assert golden.values["city"] == "Lyon"
    assert golden.provenance["city"] == FieldSource(
        tool="mailchimp", record_id="m", updated_at=T0 + timedelta(minutes=5), value="Lyon"
    )


def test_authoritative_tool_wins_even_when_older() -> None:
    golden = golden_from_scratch(
        [
            rec("hubspot", "1", 0, lifecycle_stage="customer"),
            rec("mailchimp", "m", 60, lifecycle_stage="lead"),
        ],
        RULES,
    )
    assert golden.values["lifecycle_stage"] == "customer"
    assert golden.provenance["lifecycle_stage"].tool == "hubspot"


def test_authoritative_tool_without_value_falls_back_to_most_recent() -> None:
    golden = golden_from_scratch(
        [
            rec("hubspot", "1", 90, lifecycle_stage=None),
            rec("mailchimp", "m", 0, lifecycle_stage="lead"),
            rec("mailchimp", "n", 30, lifecycle_stage="customer"),
        ],
        RULES,
    )
    assert golden.values["lifecycle_stage"] == "customer"


def test_empty_never_replaces_a_value() -> None:
    first = golden_from_scratch([rec("hubspot", "1", 0, city="Paris", company="Acme")], RULES)
    later = merge(first, [rec("hubspot", "1", 10, city=None, company="  ")], RULES)
    assert later.values == {"city": "Paris", "company": "Acme"}
    assert later.provenance == first.provenance


def test_fields_nobody_filled_stay_none() -> None:
    golden = golden_from_scratch([rec("hubspot", "1", 0, city=None, company="Acme")], RULES)
    assert golden.values == {"city": None, "company": "Acme"}
    assert "city" not in golden.provenance


def test_ties_are_broken_by_tool_then_record_id() -> None:
    records = [
        rec("mailchimp", "a", 0, city="Mailchimp-a"),
        rec("hubspot", "2", 0, city="Hubspot-2"),
        rec("hubspot", "1", 0, city="Hubspot-1"),
    ]
    for order in (records, records[::-1], records[1:] + records[:1]):
        assert golden_from_scratch(order, RULES).values["city"] == "Hubspot-1"


def test_value_without_provenance_is_kept_with_lowest_precedence() -> None:
    legacy = GoldenView(values={"city": "Rome", "company": "Acme"})
    merged = merge(legacy, [rec("mailchimp", "m", 0, city="Milan", company=None)], RULES)
    assert merged.values == {"city": "Milan", "company": "Acme"}
    assert merged.provenance["company"].tool == "golden"


def _random_records(rng: random.Random, n: int) -> list[MappedRecord]:
    fields = ("city", "company", "lifecycle_stage", "first_name")
    out = []
    for _ in range(n):
        values = {f: rng.choice([None, "", "a", "b", "c", "d"]) for f in rng.sample(fields, k=3)}
        out.append(
            rec(
                rng.choice(["hubspot", "mailchimp"]),
                str(rng.randint(1, 4)),
                rng.randint(0, 5),
                **values,
            )
        )
    return out


def test_incremental_merge_equals_merge_from_scratch() -> None:
    rng = random.Random(11)
    for _ in range(300):
        records = _random_records(rng, rng.randint(1, 12))
        expected = golden_from_scratch(records, RULES)
        golden: GoldenView | None = None
        i = 0
        while i < len(records):
            step = rng.randint(1, 4)
            golden = merge(golden, records[i : i + step], RULES)
            i += step
        assert golden == expected
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert golden_from_scratch(shuffled, RULES) == expected


def test_golden_values_always_match_their_provenance() -> None:
    rng = random.Random(12)
    for _ in range(200):
        golden = golden_from_scratch(_random_records(rng, 6), RULES)
        for name, value in golden.values.items():
            if value is None:
                assert name not in golden.provenance
            else:
                assert golden.provenance[name].value == value


def test_a_ticket_golden_is_its_record_as_read_last_empty_values_included() -> None:
    rules = load_rules("ticket")
    assert rules.default == "latest_record"
    url = "https://acme.zendesk.com/agent/tickets/7"
    first = merge(None, [rec("zendesk", "7", 0, url=url, requester_id="u1", assignee="a1")], rules)
    assert first.values == {"assignee": "a1", "requester_id": "u1", "url": url}
    # Unassigned, and its requester deleted, in the helpdesk: the golden says so too.
    cleared = merge(first, [rec("zendesk", "7", 5, url=url, requester_id=None, assignee="")], rules)
    assert cleared.values == {"assignee": None, "requester_id": None, "url": url}
    assert set(cleared.provenance) == {"url"}
    # An older image read late does not bring the old values back.
    assert merge(cleared, [rec("zendesk", "7", 1, url=url, requester_id="u1")], rules) == cleared


def test_latest_record_takes_no_per_field_rules() -> None:
    with pytest.raises(ValueError, match="latest_record"):
        Rules(default="latest_record", fields={"city": "most_frequent"})
