"""Scale of identity resolution: the compact golden index finds exactly what batch blocking
finds, one record's work does not grow with the golden set, and the properties hold
(incremental equals a full re-run, same input gives the same clusters)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from mappings.spec import MappedRecord
from matching.blocking import BlockIndex, block_pairs
from matching.cluster import cluster
from matching.engine import train
from matching.fellegi_sunter import term_frequencies
from matching.model import KnownIndex, MatchResult
from matching.probabilistic import GoldenIndex, resolve
from matching.settings import load_settings
from matching.table import Table, build_table

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SETTINGS = load_settings("person")
COLUMNS = sorted({c.source for c in SETTINGS.comparisons})
FIRSTS = ["Olivia", "Noah", "Amara", "Kenji", "Lucia", "Tomasz", "Ines", "Ravi", "Maya", "Bob"]
LASTS = ["Okonkwo", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Iyer"]


def rec(key: str, **values: str | None) -> MappedRecord:
    tool, _, rid = key.partition(":")
    return MappedRecord(tool=tool, record_id=rid, updated_at=T0, values=dict(values))


def people(n: int, seed: int, start: int = 0) -> list[MappedRecord]:
    """People in a CRM, some copied (messily) into a mailing tool."""
    rng = random.Random(seed)
    out: list[MappedRecord] = []
    for i in range(start, start + n):
        f, last = rng.choice(FIRSTS), rng.choice(LASTS) + str(i % 41)
        email = f"{f.lower()}.{last.lower()}{i}@corp{i % 13}.com"
        phone = f"+1415555{i:04d}"
        out.append(
            rec(f"crm:{i}", first_name=f, last_name=last, email=email, phone=phone,
                company=f"Corp {i % 13}", city="Lyon")
        )  # fmt: skip
        if i % 2 == 0:
            out.append(
                rec(f"mail:{i}", first_name=f.upper(), last_name=last, email=email, phone=None,
                    company=None, city="Lyon")
            )  # fmt: skip
        elif i % 3 == 0:
            out.append(
                rec(f"mail:{i}", first_name=f, last_name=last, email=f"{last.lower()}{i}@home.net",
                    phone=phone, company=f"Corp {i % 13}", city="Lyon")
            )  # fmt: skip
    return out


def table_of(records: list[MappedRecord]) -> Table:
    return build_table([r.key for r in records], [r.values for r in records], COLUMNS)


def clusters(results: list[MatchResult]) -> set[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for r in results:
        by.setdefault(r.unified_id, set()).add(r.record.key)
    return {frozenset(v) for v in by.values()}


def test_index_answers_a_whole_batch_like_batch_blocking_with_the_same_rule_bits() -> None:
    records = people(300, 1)
    table = table_of(records)
    index = BlockIndex(table, SETTINGS.blocking, max_block=SETTINGS.max_block)
    probes = np.array([3, 40, 41, 77, 150, 299], dtype=np.int64)
    found = index.candidates(table.take(probes))
    got = {
        (int(probes[q]), int(t), int(bits))
        for q, t, bits in zip(found.left, found.right, found.rules, strict=True)
    }
    batch = block_pairs(table, SETTINGS.blocking, max_block=SETTINGS.max_block)
    expected: set[tuple[int, int, int]] = set()
    for a, b, bits in zip(batch.left, batch.right, batch.rules, strict=True):
        for q, t in ((int(a), int(b)), (int(b), int(a))):
            if q in set(probes.tolist()):
                expected.add((q, t, int(bits)))
    # A record shares every key with itself: it is its own candidate under each rule it has.
    itself = {(q, t, bits) for q, t, bits in got if q == t}
    assert got - itself == expected
    assert {q for q, _, _ in itself} == set(probes.tolist())


def test_index_leaves_out_oversized_groups_and_records_missing_a_key_part() -> None:
    records = [rec(f"crm:{i}", first_name="Ann", last_name="Lee") for i in range(5)]
    records.append(rec("crm:9", first_name=None, last_name="Lee"))
    table = table_of(records)
    rules = [r for r in SETTINGS.blocking if r.name == "last_name+initial(first_name)"]
    assert rules, [r.name for r in SETTINGS.blocking]
    probe = table_of([rec("mail:1", first_name="Anna", last_name="Lee")])
    assert set(BlockIndex(table, rules, max_block=5).candidates(probe).right.tolist()) == set(
        range(5)
    )
    assert len(BlockIndex(table, rules, max_block=4).candidates(probe)) == 0
    missing = table_of([rec("mail:2", first_name=None, last_name="Lee")])
    assert len(BlockIndex(table, rules, max_block=5).candidates(missing)) == 0


def test_index_memory_is_a_few_arrays_not_objects_per_key() -> None:
    records = people(2000, 2)
    index = BlockIndex(table_of(records), SETTINGS.blocking)
    per_record_rule = index.nbytes / len(records) / len(SETTINGS.blocking)
    assert per_record_rule <= 24  # hash 8 + offset 8 + row 4 (at most), per key


def test_table_interns_values_and_does_not_keep_uncached_derived_keys() -> None:
    records = people(200, 3)
    table = table_of(records)
    cities = table.column("city")
    assert len({id(v) for v in cities}) == 1  # one "lyon" object for every row
    key = "metaphone(last_name)"
    uncached = table.column(key, cache=False)
    assert key not in table._derived
    assert list(uncached) == list(table.column(key))
    assert key in table._derived


def _known(results: list[MatchResult]) -> KnownIndex:
    return KnownIndex.build(
        {r.unified_id: dict(r.record.values) for r in results},
        {(r.record.tool, r.record.record_id): r.unified_id for r in results},
    )


def test_unrelated_goldens_never_change_a_decision() -> None:
    """One record's clustering only sees the goldens it was compared with."""
    records = people(300, 4)
    table = table_of(records)
    model = train(SETTINGS, table, block_pairs(table, SETTINGS.blocking))
    old = [r for r in records if r.tool == "crm"]
    new = [r for r in records if r.tool == "mail"]
    first = resolve(old, KnownIndex.build({}, {}), model=model)
    small = resolve(new, _known(first), model=model)
    others = [
        rec(f"crm:{i}", first_name="Quentin", last_name=f"Zorn{i}", email=f"q{i}@far.org",
            phone=f"+4930{i:07d}", company="Far GmbH", city="Berlin")
        for i in range(10_000, 10_400)
    ]  # fmt: skip
    many = first + resolve(others, KnownIndex.build({}, {}), model=model)
    large = resolve(new, _known(many), model=model)
    assert [(r.unified_id, r.created) for r in small] == [(r.unified_id, r.created) for r in large]
    assert [r.evidence for r in small] == [r.evidence for r in large]


def test_records_one_by_one_against_a_prebuilt_index_equal_a_full_run() -> None:
    records = people(240, 6)
    table = table_of(records)
    model = train(SETTINGS, table, block_pairs(table, SETTINGS.blocking))
    full = resolve(records, KnownIndex.build({}, {}), model=model)
    old = [r for r in records if r.tool == "crm"]
    first = resolve(old, KnownIndex.build({}, {}), model=model)
    known = _known(first)
    index = GoldenIndex.build(known.golden, SETTINGS)
    # Mailchimp copies only ever join a CRM golden here, so one at a time decides alike.
    later = [
        resolve([r], known, model=model, golden_index=index)[0] for r in records if r.tool == "mail"
    ]
    assert clusters(first + later) == clusters(full)
    again = [resolve([r.record], known, model=model, golden_index=index)[0] for r in later]
    assert [r.unified_id for r in again] == [r.unified_id for r in later]


def test_a_rejection_against_a_golden_member_is_honoured_without_scanning_links() -> None:
    records = people(60, 7)
    old = [r for r in records if r.tool == "crm"]
    first = resolve(old, KnownIndex.build({}, {}))
    golden_of = {r.record.key: r.unified_id for r in first}
    known = KnownIndex.build(
        {r.unified_id: dict(r.record.values) for r in first},
        {(r.record.tool, r.record.record_id): r.unified_id for r in first},
        rejected=[("crm:0", "mail:0")],
    )
    mail0 = next(r for r in records if r.key == "mail:0")
    mail2 = next(r for r in records if r.key == "mail:2")
    [refused, accepted] = resolve([mail0, mail2], known)
    assert refused.unified_id != golden_of["crm:0"]
    assert accepted.unified_id == golden_of["crm:2"]


def test_clustering_with_sparse_anchors_matches_dense_anchors() -> None:
    rng = np.random.default_rng(8)
    n = 50
    left = rng.integers(0, n, 120).astype(np.int64)
    right = rng.integers(0, n, 120).astype(np.int64)
    weight = rng.normal(size=120)
    anchors = np.where(rng.random(n) < 0.2, np.arange(n), -1).astype(np.int64)
    labels, refused = cluster(n, left, right, weight, anchors=anchors)
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        assert np.count_nonzero(anchors[members] >= 0) <= 1
    shuffled = rng.permutation(120)
    again, _ = cluster(n, left[shuffled], right[shuffled], weight[shuffled], anchors=anchors)
    assert again.tolist() == labels.tolist()
    assert refused  # 20% anchors over 120 random edges: some joins must be refused


def test_a_large_set_trains_on_a_seeded_sample_but_counts_the_whole_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matching.probabilistic as probabilistic

    records = people(700, 9)
    monkeypatch.setattr(probabilistic, "MAX_TRAINING_RECORDS", 400)
    empty = KnownIndex.build({}, {})
    model, trained = probabilistic.prepare_model(records, empty)
    again, _ = probabilistic.prepare_model(list(reversed(records)), empty)
    assert trained
    assert model.trained_records == len(records) > 400
    assert model.to_dict() == again.to_dict()  # same input, same model
    whole = term_frequencies([table_of(records)], ["first_name", "last_name", "city"])
    assert model.tf_tables["last_name"] == whole["last_name"]
    assert resolve(records, empty, model=model)  # the sampled model scores the whole set


def test_scoring_in_chunks_and_dropping_weak_pairs_changes_no_decision_or_evidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matching.probabilistic as probabilistic

    records = people(300, 10)
    old = [r for r in records if r.tool == "crm"][:150]
    first = resolve(old, KnownIndex.build({}, {}))
    known = KnownIndex.build(
        {r.unified_id: dict(r.record.values) for r in first},
        {(r.record.tool, r.record.record_id): r.unified_id for r in first},
        rejected=[("crm:4", "mail:4")],
    )
    rest = [r for r in records if r.key not in {x.record.key for x in first}]
    with monkeypatch.context() as every_pair:  # the reference: every candidate pair kept
        every_pair.setattr(
            probabilistic,
            "_kept_pairs",
            lambda *a: (np.arange(len(a[4]), dtype=np.int64), np.arange(len(a[5]), dtype=np.int64)),
        )
        whole = resolve(rest, known)
    monkeypatch.setattr(probabilistic, "SCORE_CHUNK", 7)
    chunked = resolve(rest, known)
    assert [(r.unified_id, r.created, r.evidence) for r in chunked] == [
        (r.unified_id, r.created, r.evidence) for r in whole
    ]
    assert any("best_candidate" in r.evidence for r in whole)  # weak pairs were in play
