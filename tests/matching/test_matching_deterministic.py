"""Deterministic matching: links, email, phone, transitive clusters, guards, determinism."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from mappings.spec import MappedRecord
from matching.deterministic import MAX_AGREEMENTS, new_unified_id, resolve
from matching.model import KnownIndex, key_hash

T0 = datetime(2024, 5, 1, tzinfo=UTC)
EMPTY = KnownIndex.build({}, {})


def rec(key: str, email: str | None = None, phone: str | None = None) -> MappedRecord:
    tool, _, rid = key.partition(":")
    return MappedRecord(
        tool=tool, record_id=rid, updated_at=T0, values={"email": email, "phone": phone}
    )


def ids(results: list) -> dict[str, str]:
    return {r.record.key: r.unified_id for r in results}


def test_a_single_record_gets_a_new_deterministic_id() -> None:
    [result] = resolve([rec("hubspot:1", "a@example.com")], EMPTY)
    assert result.created is True
    assert result.unified_id == new_unified_id("person", "hubspot:1")
    assert len(result.unified_id) == 32
    assert result.evidence["rule"] == "new"
    assert resolve([rec("hubspot:1", "a@example.com")], EMPTY)[0].unified_id == result.unified_id


def test_email_match_ignores_case_and_whitespace() -> None:
    results = resolve(
        [rec("hubspot:1", "Jane@Example.com"), rec("mailchimp:m", " jane@example.com ")], EMPTY
    )
    assert results[0].unified_id == results[1].unified_id
    assert results[1].evidence["rule"] == "email"
    assert results[1].evidence["agreements"] == [
        {"rule": "email", "value_hash": key_hash("jane@example.com"), "with": "hubspot:1"}
    ]


def test_evidence_never_holds_raw_emails() -> None:
    results = resolve(
        [rec("hubspot:1", "jane@example.com"), rec("mailchimp:m", "jane@example.com")], EMPTY
    )
    for r in results:
        assert "jane@example.com" not in repr(r.evidence)


def test_phone_only_match() -> None:
    results = resolve(
        [
            rec("hubspot:1", None, "+14155550100"),
            rec("mailchimp:m", "x@example.com", "+14155550100"),
        ],
        EMPTY,
    )
    assert results[0].unified_id == results[1].unified_id
    assert results[0].evidence["rule"] == "phone"
    assert results[0].evidence["review"] is False  # one side has no email: nothing disagrees


def test_different_emails_same_tool_matched_by_phone_are_flagged() -> None:
    results = resolve(
        [
            rec("hubspot:1", "a@example.com", "+14155550100"),
            rec("hubspot:2", "b@example.com", "+14155550100"),
        ],
        EMPTY,
    )
    assert results[0].unified_id == results[1].unified_id
    for r in results:
        assert r.evidence["rule"] == "phone"
        assert r.evidence["review"] is True
        assert r.evidence["agreements"][0]["same_tool"] is True
        assert r.evidence["agreements"][0]["emails_differ"] is True


def test_transitive_cluster() -> None:
    records = [
        rec("hubspot:a", "a@example.com", None),
        rec("mailchimp:b", "a@example.com", "+14155550100"),
        rec("hubspot:c", "c@example.com", "+14155550100"),
    ]
    results = resolve(records, EMPTY)
    assert len(set(ids(results).values())) == 1
    assert all(r.evidence["cluster_size"] == 3 for r in results)
    assert results[0].unified_id == new_unified_id("person", "hubspot:a")


def test_shared_phone_guard() -> None:
    office = "+14155550100"
    records = [rec(f"hubspot:{i}", f"p{i}@example.com", office) for i in range(4)]
    results = resolve(records, EMPTY)
    assert len(set(ids(results).values())) == 4
    for r in results:
        assert r.evidence["rule"] == "new"
        assert r.evidence["ignored"][0]["rule"] == "phone"
        assert r.evidence["ignored"][0]["value_hash"] == key_hash(office)
    # At the limit (3 distinct emails) the phone still counts.
    assert len(set(ids(resolve(records[:3], EMPTY)).values())) == 1


def test_shared_phone_guard_counts_known_golden_emails() -> None:
    office = "+14155550100"
    golden = {f"u{i}": {"email": f"g{i}@example.com", "phone": office} for i in range(3)}
    known = KnownIndex.build(golden, {})
    [result] = resolve([rec("hubspot:9", "new@example.com", office)], known)
    assert result.created is True
    assert "ignored" in result.evidence


def test_existing_links_are_respected() -> None:
    known = KnownIndex.build(
        {"u1": {"email": "a@example.com"}, "u2": {"email": "b@example.com"}},
        {("hubspot", "1"): "u2"},
    )
    # hubspot:1 now carries u1's email but it is linked to u2: the link wins.
    [result] = resolve([rec("hubspot:1", "a@example.com")], known)
    assert (result.unified_id, result.created, result.evidence) == ("u2", False, {"rule": "link"})


def test_unlinked_record_joins_known_golden_by_email_then_phone() -> None:
    known = KnownIndex.build(
        {
            "u1": {"email": "a@example.com", "phone": "+14155550100"},
            "u2": {"email": "z@example.com", "phone": "+442079460958"},
        },
        {},
    )
    results = resolve(
        [rec("mailchimp:m", "A@example.com"), rec("hubspot:7", None, "+442079460958")], known
    )
    assert [(r.unified_id, r.created) for r in results] == [("u1", False), ("u2", False)]
    assert results[0].evidence["agreements"][0]["with"] == "unified:u1"
    assert results[0].evidence["target"] == "known"
    assert results[1].evidence["rule"] == "phone"


def test_email_beats_phone_when_they_point_to_different_people() -> None:
    known = KnownIndex.build(
        {
            "u1": {"email": "a@example.com"},
            "u2": {"email": "z@example.com", "phone": "+14155550100"},
        },
        {},
    )
    [result] = resolve([rec("mailchimp:m", "a@example.com", "+14155550100")], known)
    assert result.unified_id == "u1"
    assert result.evidence["conflicts"] == ["u2"]


def test_batch_record_joins_a_linked_record_of_the_same_batch() -> None:
    # hubspot:1 is linked to u1 and just changed its email; the new Mailchimp member has it.
    known = KnownIndex.build({"u1": {"email": "old@example.com"}}, {("hubspot", "1"): "u1"})
    results = resolve(
        [rec("hubspot:1", "new@example.com"), rec("mailchimp:m", "new@example.com")], known
    )
    assert ids(results) == {"hubspot:1": "u1", "mailchimp:m": "u1"}
    assert results[1].created is False


def test_a_record_always_matches_itself() -> None:
    record = rec("hubspot:1", "a@example.com", "+14155550100")
    twice = resolve([record, record], EMPTY)
    assert twice[0].unified_id == twice[1].unified_id
    # Once its golden record exists, the same record finds it again even without a link.
    known = KnownIndex.build({twice[0].unified_id: dict(record.values)}, {})
    again = resolve([record], known)[0]
    assert (again.unified_id, again.created) == (twice[0].unified_id, False)


def test_input_order_does_not_change_clusters_or_ids() -> None:
    rng = random.Random(99)
    emails = [f"p{i}@example.com" for i in range(8)] + [None]
    phones = ["+14155550100", "+14155550101", "+442079460958", None, None]
    for _ in range(60):
        records = [
            rec(
                f"{rng.choice(['hubspot', 'mailchimp'])}:{i}",
                rng.choice(emails),
                rng.choice(phones),
            )
            for i in range(rng.randint(1, 15))
        ]
        expected = ids(resolve(records, EMPTY))
        for _ in range(3):
            shuffled = records[:]
            rng.shuffle(shuffled)
            assert ids(resolve(shuffled, EMPTY)) == expected


def test_results_follow_input_order_and_clusters_are_connected() -> None:
    rng = random.Random(7)
    records = [rec(f"hubspot:{i}", f"p{rng.randint(0, 5)}@example.com") for i in range(20)]
    results = resolve(records, EMPTY)
    assert [r.record for r in results] == records
    by_id: dict[str, set[str]] = {}
    for r in results:
        by_id.setdefault(r.unified_id, set()).add(r.record.values["email"] or "")
    assert all(len(emails) == 1 for emails in by_id.values())  # email-only: one email per person


def test_evidence_of_a_big_cluster_stays_bounded() -> None:
    records = [rec(f"hubspot:{i:03}", "same@example.com") for i in range(50)]
    results = resolve(records, EMPTY)
    assert len(set(ids(results).values())) == 1
    for r in results:
        assert len(r.evidence["agreements"]) == MAX_AGREEMENTS
        assert r.evidence["agreements_total"] == 49
        assert r.evidence["rule"] == "email"
