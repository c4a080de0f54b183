"""Consent: the most restrictive state wins, whatever the order or time of the records."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mappings.consent import CONSENT_VALUES, loosens, restrictiveness
from mappings.spec import MappedRecord, from_unified, load_mapping, to_unified
from mappings.survivorship import Rules, golden_from_scratch, load_rules, merge

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _record(tool: str, value: str, minutes: int) -> MappedRecord:
    return MappedRecord(
        tool=tool,
        record_id=f"{tool}-1",
        updated_at=T0 + timedelta(minutes=minutes),
        values={"email_consent": value},
    )


def test_states_rank_most_restrictive_first() -> None:
    ranks = [restrictiveness(v) for v in CONSENT_VALUES]
    assert ranks == sorted(ranks, reverse=True)
    assert restrictiveness("cleaned") > restrictiveness("unsubscribed")
    assert restrictiveness("unsubscribed") > restrictiveness("subscribed")
    assert restrictiveness("subscribed") > restrictiveness("never_asked")


def test_a_later_subscribed_never_overrides_an_unsubscribe() -> None:
    rules = load_rules("person")
    older_opt_out = _record("hubspot", "unsubscribed", 0)
    newer_opt_in = _record("mailchimp", "subscribed", 60)
    golden = golden_from_scratch([older_opt_out, newer_opt_in], rules)
    assert golden.values["email_consent"] == "unsubscribed"
    assert golden.provenance["email_consent"].tool == "hubspot"


def test_a_bounce_outranks_an_unsubscribe_and_the_newest_breaks_ties() -> None:
    rules = load_rules("person")
    golden = golden_from_scratch(
        [
            _record("mailchimp", "cleaned", 0),
            _record("hubspot", "unsubscribed", 30),
            _record("salesforce", "unsubscribed", 90),
        ],
        rules,
    )
    assert golden.values["email_consent"] == "cleaned"
    tie = golden_from_scratch(
        [_record("hubspot", "unsubscribed", 30), _record("salesforce", "unsubscribed", 90)], rules
    )
    assert tie.provenance["email_consent"].tool == "salesforce"


def test_folding_batch_by_batch_equals_merging_at_once() -> None:
    """The order records arrive in (runs, batches) never changes the golden state."""
    rules = load_rules("person")
    records = [
        _record("hubspot", "never_asked", 50),
        _record("mailchimp", "subscribed", 40),
        _record("salesforce", "unsubscribed", 10),
        _record("intercom", "subscribed", 70),
    ]
    at_once = golden_from_scratch(records, rules)
    for order in itertools.permutations(records):
        golden = None
        for record in order:
            golden = merge(golden, [record], rules)
        assert golden is not None
        assert golden.values == at_once.values
        assert golden.provenance == at_once.provenance


def test_consent_cannot_be_given_to_one_tool_or_to_recency() -> None:
    with pytest.raises(ValidationError, match="most_restrictive only"):
        Rules.model_validate({"authoritative": {"email_consent": "mailchimp"}})
    with pytest.raises(ValidationError, match="most_restrictive only"):
        Rules.model_validate({"fields": {"email_consent": "most_frequent"}})
    with pytest.raises(ValidationError, match="consent fields only"):
        Rules.model_validate({"fields": {"city": "most_restrictive"}})
    # Without a line in survivorship.yaml consent is still most_restrictive.
    assert Rules().rule("email_consent") == "most_restrictive"


@pytest.mark.parametrize(
    ("old", "new", "loosened"),
    [
        ("subscribed", "unsubscribed", False),
        ("never_asked", "unsubscribed", False),
        (None, "cleaned", False),
        ("unsubscribed", "cleaned", False),
        ("subscribed", "never_asked", False),
        ("unsubscribed", "subscribed", True),
        ("cleaned", "unsubscribed", True),
        ("never_asked", "subscribed", True),
        (None, "subscribed", True),
        ("unsubscribed", "never_asked", True),
        ("subscribed", "made_up", True),
    ],
)
def test_which_writes_loosen_consent(old: str | None, new: str, loosened: bool) -> None:
    assert loosens(old, new) is loosened


def test_checkbox_tools_read_and_write_booleans() -> None:
    """A boolean opt-out flag maps onto the four states: true is an opt-out, false is no
    recorded opt-out (never asked), and a bounce is written as an opt-out."""
    m = load_mapping("salesforce")
    stamp = T0.isoformat()

    def read(flag: object) -> str | None:
        raw = {"Id": "0031", "SystemModstamp": stamp, "HasOptedOutOfEmail": flag}
        return to_unified(m, raw).values["email_consent"]

    assert read(True) == "unsubscribed"
    assert read(False) == "never_asked"
    assert read(None) is None
    for state, flag in [("unsubscribed", True), ("cleaned", True), ("subscribed", False)]:
        assert from_unified(m, {"email_consent": state}, create=False) == {
            "HasOptedOutOfEmail": flag
        }


def test_mailchimp_statuses_map_onto_states() -> None:
    m = load_mapping("mailchimp")
    stamp = T0.isoformat()
    for status, state in [
        ("subscribed", "subscribed"),
        ("unsubscribed", "unsubscribed"),
        ("cleaned", "cleaned"),
        ("pending", "never_asked"),
        ("transactional", "never_asked"),
    ]:
        raw = {"id": "h", "email_address": "a@b.co", "last_changed": stamp, "status": status}
        assert to_unified(m, raw).values["email_consent"] == state
    # A bounce cannot be set through the API: it is written as an unsubscribe.
    assert from_unified(m, {"email_consent": "cleaned"}, create=False) == {"status": "unsubscribed"}
    # A member whose consent no tool knows joins transactional, never subscribed.
    create = from_unified(m, {"email": "a@b.co"}, create=True)
    assert create["status_if_new"] == "transactional"
    assert "status" not in create


def test_an_unset_opt_out_flag_reads_as_never_asked() -> None:
    """HubSpot leaves hs_email_optout unset until someone opts out (``absent`` option)."""
    m = load_mapping("hubspot")
    stamp = T0.isoformat()
    for properties in (
        {"lastmodifieddate": stamp},
        {"lastmodifieddate": stamp, "hs_email_optout": None},
    ):
        raw = {"id": "1", "properties": properties}
        assert to_unified(m, raw).values["email_consent"] == "never_asked"
    raw = {"id": "1", "properties": {"lastmodifieddate": stamp, "hs_email_optout": "true"}}
    assert to_unified(m, raw).values["email_consent"] == "unsubscribed"


def _with_reason(tool: str, value: str, minutes: int, reason: str | None) -> MappedRecord:
    return MappedRecord(
        tool=tool,
        record_id=f"{tool}-1",
        updated_at=T0 + timedelta(minutes=minutes),
        values={"email_consent": value, "email_consent_reason": reason},
    )


def test_the_reason_comes_from_the_record_whose_state_won() -> None:
    rules = load_rules("person")
    records = [
        _with_reason("mailchimp", "unsubscribed", 0, "The emails are spam and should be reported"),
        _with_reason("brevo", "subscribed", 90, "I no longer want to receive these emails"),
    ]
    for order in itertools.permutations(records):
        golden = golden_from_scratch(order, rules)
        assert golden.values["email_consent"] == "unsubscribed"
        assert golden.values["email_consent_reason"] == "The emails are spam and should be reported"
        assert golden.provenance["email_consent_reason"].tool == "mailchimp"


def test_no_reason_is_borrowed_from_another_record() -> None:
    """The winner gave none: the newer reason of a record whose state lost explains nothing."""
    rules = load_rules("person")
    golden = golden_from_scratch(
        [
            _with_reason("hubspot", "cleaned", 0, None),
            _with_reason("mailchimp", "unsubscribed", 90, "Other"),
        ],
        rules,
    )
    assert golden.values["email_consent"] == "cleaned"
    assert golden.values["email_consent_reason"] is None
    assert "email_consent_reason" not in golden.provenance


def test_a_reason_goes_when_another_record_takes_the_state_over() -> None:
    """Batch by batch: a stored reason stays while its record's state wins, and goes once a
    more restrictive state arrives from elsewhere."""
    rules = load_rules("person")
    first = merge(None, [_with_reason("mailchimp", "unsubscribed", 0, "Other")], rules)
    unrelated = merge(first, [_with_reason("brevo", "subscribed", 30, None)], rules)
    assert unrelated.values["email_consent_reason"] == "Other"
    bounced = merge(unrelated, [_with_reason("hubspot", "cleaned", 60, None)], rules)
    assert bounced.values["email_consent"] == "cleaned"
    assert bounced.values["email_consent_reason"] is None
    resubscribed = merge(first, [_with_reason("mailchimp", "subscribed", 90, None)], rules)
    assert resubscribed.values["email_consent_reason"] is None


def test_a_consent_reason_takes_no_rule_of_its_own() -> None:
    with pytest.raises(ValidationError, match="follows its consent state"):
        Rules(fields={"email_consent_reason": "most_frequent"})


def test_the_same_state_copied_elsewhere_keeps_the_reason_given_with_it() -> None:
    """revsync writes the unsubscribe to the CRM, which reads back newer and wins the tie: the
    state is the one the person gave a reason for, so the reason stays, and its source too."""
    rules = load_rules("person")
    first = merge(None, [_with_reason("mailchimp", "unsubscribed", 0, "Other")], rules)
    copied = merge(first, [_with_reason("salesforce", "unsubscribed", 30, None)], rules)
    assert copied.provenance["email_consent"].tool == "salesforce"
    assert copied.values["email_consent_reason"] == "Other"
    assert copied.provenance["email_consent_reason"].tool == "mailchimp"
    together = golden_from_scratch(
        [
            _with_reason("mailchimp", "unsubscribed", 0, "Other"),
            _with_reason("salesforce", "unsubscribed", 30, None),
        ],
        rules,
    )
    assert together.values["email_consent_reason"] == "Other"
