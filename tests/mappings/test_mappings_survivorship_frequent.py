"""Survivorship ``most_frequent``: the value most records hold, kept incrementally by votes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mappings.spec import MappedRecord
from mappings.survivorship import GoldenView, Rules, golden_from_scratch, merge, repoint

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
RULES = Rules(authoritative={"company": "hubspot"}, fields={"country": "most_frequent"})


def rec(tool: str, rid: str, minutes: int, **values: str | None) -> MappedRecord:
    return MappedRecord(
        tool=tool, record_id=rid, updated_at=T0 + timedelta(minutes=minutes), values=values
    )


def _stored(view: GoldenView) -> GoldenView:
    """What the state store gives back (JSON and back), so votes survive a run boundary."""
    return GoldenView.model_validate(view.model_dump(mode="json"))


def test_the_value_most_records_hold_wins_over_the_most_recent() -> None:
    golden = golden_from_scratch(
        [
            rec("hubspot", "1", 0, country="FR"),
            rec("mailchimp", "m", 1, country="FR"),
            rec("zendesk", "z", 9, country="DE"),
        ],
        RULES,
    )
    assert golden.values["country"] == "FR"
    source = golden.provenance["country"]
    assert (source.tool, source.record_id) == ("mailchimp", "m")  # FR's latest voter
    assert {k: v.value for k, v in source.votes.items()} == {
        "hubspot:1": "FR",
        "mailchimp:m": "FR",
        "zendesk:z": "DE",
    }


def test_a_tie_goes_to_the_value_voted_most_recently() -> None:
    golden = golden_from_scratch(
        [rec("hubspot", "1", 5, country="FR"), rec("mailchimp", "m", 1, country="DE")], RULES
    )
    assert golden.values["country"] == "FR"


def test_a_record_that_changes_moves_its_vote_instead_of_adding_one() -> None:
    first = golden_from_scratch(
        [
            rec("hubspot", "1", 0, country="FR"),
            rec("mailchimp", "m", 1, country="FR"),
            rec("zendesk", "z", 2, country="DE"),
        ],
        RULES,
    )
    moved = merge(_stored(first), [rec("mailchimp", "m", 10, country="DE")], RULES)
    assert moved.values["country"] == "DE"
    assert len(moved.provenance["country"].votes) == 3
    # An older image of a record read late does not take its vote back.
    stale = merge(_stored(moved), [rec("mailchimp", "m", 3, country="FR")], RULES)
    assert stale.values["country"] == "DE"


def test_an_empty_value_never_takes_a_vote_away() -> None:
    first = golden_from_scratch([rec("hubspot", "1", 0, country="FR")], RULES)
    after = merge(_stored(first), [rec("hubspot", "1", 5, country=None)], RULES)
    assert after.values["country"] == "FR"


def test_other_fields_keep_their_own_rules() -> None:
    golden = golden_from_scratch(
        [
            rec("hubspot", "1", 0, company="Acme", city="Paris", country="FR"),
            rec("mailchimp", "m", 5, company="Globex", city="Lyon", country="FR"),
        ],
        RULES,
    )
    assert golden.values == {"company": "Acme", "city": "Lyon", "country": "FR"}
    assert not golden.provenance["city"].votes


def test_a_field_cannot_be_authoritative_and_most_frequent() -> None:
    with pytest.raises(ValidationError, match="both authoritative"):
        Rules(authoritative={"country": "hubspot"}, fields={"country": "most_frequent"})


def test_a_winner_stored_before_votes_existed_counts_as_one_vote() -> None:
    legacy = golden_from_scratch([rec("hubspot", "1", 0, country="FR")], Rules())
    assert not legacy.provenance["country"].votes
    after = merge(
        legacy,
        [rec("mailchimp", "m", 1, country="DE"), rec("zendesk", "z", 2, country="DE")],
        RULES,
    )
    assert after.values["country"] == "DE"
    assert set(after.provenance["country"].votes) == {"hubspot:1", "mailchimp:m", "zendesk:z"}


def _random_records(rng: random.Random, n: int) -> list[MappedRecord]:
    out = []
    for _ in range(n):
        values = {
            f: rng.choice([None, "", "FR", "DE", "US"])
            for f in rng.sample(("country", "company", "city"), k=2)
        }
        tool = rng.choice(["hubspot", "mailchimp", "zendesk"])
        out.append(rec(tool, str(rng.randint(1, 3)), rng.randint(0, 6), **values))
    return out


def test_incremental_merge_equals_merge_from_scratch() -> None:
    rng = random.Random(21)
    for _ in range(400):
        records = _random_records(rng, rng.randint(1, 14))
        expected = golden_from_scratch(records, RULES)
        golden: GoldenView | None = None
        i = 0
        while i < len(records):
            step = rng.randint(1, 4)
            golden = merge(
                None if golden is None else _stored(golden), records[i : i + step], RULES
            )
            i += step
        assert golden == expected
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert golden_from_scratch(shuffled, RULES) == expected


def test_following_a_vendor_merge_moves_or_drops_the_vote_of_the_merged_record() -> None:
    golden = golden_from_scratch(
        [
            rec("hubspot", "1", 0, country="FR", city="Paris"),
            rec("hubspot", "2", 1, country="DE"),
            rec("hubspot", "3", 2, country="DE", city="Berlin"),
        ],
        RULES,
    )
    assert golden.values["country"] == "DE"
    # 3 merged into 1: 1 already votes, so 3's vote goes; FR and DE then tie and DE, the
    # more recent vote (record 2), keeps the field.
    merged = repoint(golden, "hubspot", "3", "1")
    assert set(merged.provenance["country"].votes) == {"hubspot:1", "hubspot:2"}
    assert merged.values["country"] == "DE"
    assert (merged.provenance["city"].record_id, merged.values["city"]) == ("1", "Berlin")
    # 2 merged into 4 (not voting yet): the vote moves with the record.
    moved = repoint(merged, "hubspot", "2", "4")
    assert set(moved.provenance["country"].votes) == {"hubspot:1", "hubspot:4"}
    assert "hubspot:2" not in str(moved.model_dump())
