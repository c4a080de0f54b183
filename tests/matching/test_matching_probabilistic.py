"""The probabilistic engine: comparison levels, blocking, weights, thresholds, clustering,
and the properties (a record matches itself; input order never changes the clusters)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from mappings.spec import MappedRecord
from matching.blocking import BlockIndex, block_pairs
from matching.cluster import cluster
from matching.comparisons import NULL, compare, level_names
from matching.engine import train
from matching.fellegi_sunter import Model, default_model, term_frequencies
from matching.model import KnownIndex
from matching.probabilistic import prepare_model, resolve
from matching.scoring import decide, score_pairs
from matching.settings import BlockingRule, load_settings, parse_settings
from matching.table import build_table

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SETTINGS = load_settings("person")
COLUMNS = sorted({c.source for c in SETTINGS.comparisons})


def arr(*values: str) -> np.ndarray:
    return np.array(list(values), dtype=object)


def level(kind: str, a: str, b: str) -> str:
    lv = int(compare(kind, arr(a), arr(b))[0])
    return "missing" if lv == NULL else level_names(kind)[lv]


def test_name_levels_exact_nickname_fuzzy_different_missing() -> None:
    assert level("name", "robert", "robert") == "exact"
    assert level("name", "bob", "robert") == "nickname"
    assert level("name", "jonathon", "jonathan") == "one_edit"
    assert level("name", "christa", "christina") == "jaro_winkler>=0.92"
    assert level("name", "meyer", "mueller") == "jaro_winkler>=0.80"
    assert level("name", "smith", "okonkwo") == "different"
    assert level("name", "", "smith") == "missing"


def test_email_phone_code_levels() -> None:
    assert level("email", "a.b@x.com", "a.b@x.com") == "exact"
    # A shared local part is the names again: not counted twice.
    assert level("email", "a.b@x.com", "a.b@gmail.com") == "different"
    assert level("phone", "+14155550100", "+14155550101") == "one_digit_off"
    assert level("code", "19560412", "19561234") == "different"
    assert level("code", "19560412", "19650412") == "one_edit"


def rec(key: str, **values: str | None) -> MappedRecord:
    tool, _, rid = key.partition(":")
    return MappedRecord(tool=tool, record_id=rid, updated_at=T0, values=dict(values))


def people(n: int, seed: int) -> list[MappedRecord]:
    """n people in two tools, messy copies in the second, plus same-name look-alikes."""
    rng = random.Random(seed)
    firsts = ["Olivia", "Noah", "Amara", "Kenji", "Lucia", "Tomasz", "Ines", "Ravi", "Maya"]
    lasts = ["Okonkwo", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Iyer"]
    out: list[MappedRecord] = []
    for i in range(n):
        f, last = rng.choice(firsts), rng.choice(lasts) + str(i % 37)
        email = f"{f.lower()}.{last.lower()}{i}@corp{i % 11}.com"
        phone = f"+1415555{i:04d}"
        out.append(
            rec(f"crm:{i}", first_name=f, last_name=last, email=email, phone=phone,
                company=f"Corp {i % 11}", city="Lyon")
        )  # fmt: skip
        if i % 2 == 0:
            out.append(
                rec(f"mail:{i}", first_name=f.upper(), last_name=last, email=email, phone=None,
                    company=None, city="Lyon")
            )  # fmt: skip
        elif i % 3 == 0:  # a second address at another domain, same phone and name
            out.append(
                rec(f"mail:{i}", first_name=f, last_name=last, email=f"{last.lower()}{i}@home.net",
                    phone=phone, company=f"Corp {i % 11}", city="Lyon")
            )  # fmt: skip
    return out


def clusters(results: list) -> set[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for r in results:
        by.setdefault(r.unified_id, set()).add(r.record.key)
    return {frozenset(v) for v in by.values()}


EMPTY = KnownIndex.build({}, {})


def test_settings_file_is_data_and_validated() -> None:
    assert SETTINGS.deterministic == ("email",)
    assert BlockingRule(keys=("phone",)) in SETTINGS.blocking
    with pytest.raises(ValueError, match="thresholds"):
        parse_settings(
            {"comparisons": [{"name": "x", "kind": "name"}], "blocking": [["x"]],
             "thresholds": {"auto_merge": 0.5, "review": 0.9}}
        )  # fmt: skip
    with pytest.raises(ValueError, match="unknown comparisons"):
        parse_settings(
            {"comparisons": [{"name": "x", "kind": "name"}], "blocking": [["x"]],
             "parameters": {"y": {"exact": {"m": 0.9}}}}
        )  # fmt: skip


def test_hand_set_parameters_override_learned_ones() -> None:
    settings = parse_settings(
        {**SETTINGS.model_dump(), "parameters": {"city": {"exact": {"m": 0.5, "u": 0.25}}}}
    )
    params = next(c for c in default_model(settings).comparisons if c.name == "city")
    assert params.m[-1] == 0.5
    assert params.u[-1] == 0.25


def test_blocking_pairs_only_records_sharing_a_key_and_caps_huge_groups() -> None:
    table = build_table(
        ["a", "b", "c", "d"],
        [{"last_name": "x"}, {"last_name": "x"}, {"last_name": "y"}, {"last_name": "x"}],
        ["last_name"],
    )
    pairs = block_pairs(table, [BlockingRule(keys=("last_name",))], max_block=10)
    assert sorted(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == [
        (0, 1),
        (0, 3),
        (1, 3),
    ]
    capped = block_pairs(table, [BlockingRule(keys=("last_name",))], max_block=2)
    assert len(capped) == 0
    assert capped.skipped_blocks == {"last_name": 1}


def test_block_index_finds_the_same_candidates_as_batch_blocking() -> None:
    records = people(60, 1)
    table = build_table([r.key for r in records], [r.values for r in records], COLUMNS)
    index = BlockIndex(table, SETTINGS.blocking)
    probe = table.take(np.array([5], dtype=np.int64))
    found = set(index.candidates(probe).right.tolist())
    batch = block_pairs(table, SETTINGS.blocking)
    expected = {int(b) for a, b in zip(batch.left, batch.right, strict=True) if a == 5} | {
        int(a) for a, b in zip(batch.left, batch.right, strict=True) if b == 5
    }
    assert found == expected | {5}


def test_a_record_always_matches_itself_at_the_top_probability() -> None:
    records = people(40, 2)
    table = build_table([r.key for r in records], [r.values for r in records], COLUMNS)
    model = default_model(SETTINGS)
    rows = np.arange(len(table), dtype=np.int64)
    scored = score_pairs(model, SETTINGS, table, rows, table, rows)
    assert (scored.probability >= SETTINGS.thresholds.auto_merge).all()


def test_thresholds_give_three_outcomes() -> None:
    assert decide(0.999, SETTINGS) == "auto_merge"
    assert decide(SETTINGS.thresholds.review, SETTINGS) == "review"
    assert decide(0.01, SETTINGS) == "distinct"


def test_term_frequency_makes_a_rare_name_count_more_than_a_common_one() -> None:
    rows = [{"last_name": "smith"} for _ in range(50)]
    rows += [{"last_name": "okonkwo"}, {"last_name": "okonkwo"}]
    table = build_table([str(i) for i in range(len(rows))], rows, COLUMNS)
    model = default_model(SETTINGS)

    def weight(a: int, b: int) -> float:
        return float(
            score_pairs(model, SETTINGS, table, np.array([a]), table, np.array([b])).weight[0]
        )

    assert weight(0, 1) == weight(50, 51)  # without frequencies both exact matches weigh the same
    model.tf_tables = term_frequencies([table], ["last_name"])
    assert weight(50, 51) > weight(0, 1)


def test_clustering_never_chains_a_rejected_pair_or_two_anchors() -> None:
    left, right = np.array([0, 1, 3], dtype=np.int64), np.array([1, 2, 4], dtype=np.int64)
    weight = np.array([10.0, 9.0, 8.0])
    labels, refused = cluster(5, left, right, weight, cannot_link=[(0, 2)])
    assert labels[0] == labels[1] != labels[2]
    assert refused == [1]
    anchors = np.array([-1, -1, -1, 0, 1], dtype=np.int64)
    labels, refused = cluster(5, left, right, weight, anchors=anchors)
    assert labels[3] != labels[4]


def test_known_duplicates_merge_and_distinct_people_stay_apart() -> None:
    records = people(300, 3)
    results = resolve(records, EMPTY)
    found = clusters(results)
    for i in range(300):
        expected = {f"crm:{i}"} | ({f"mail:{i}"} if i % 2 == 0 or i % 3 == 0 else set())
        assert frozenset(expected) in found, i


def test_look_alikes_with_the_same_name_are_not_merged() -> None:
    a = rec("crm:1", first_name="Maria", last_name="Garcia", email="maria.garcia@acme.io",
            phone="+14155550100", company="Acme", city="Austin")  # fmt: skip
    b = rec("crm:2", first_name="Maria", last_name="Garcia", email="mgarcia@globex.com",
            phone="+442071234567", company="Globex", city="London")  # fmt: skip
    filler = people(100, 4)
    results = resolve([a, b, *filler], EMPTY)
    ids = {r.record.key: r.unified_id for r in results}
    assert ids["crm:1"] != ids["crm:2"]


def test_input_order_never_changes_the_clusters() -> None:
    records = people(120, 5)
    first = clusters(resolve(records, EMPTY))
    shuffled = list(records)
    random.Random(9).shuffle(shuffled)
    assert clusters(resolve(shuffled, EMPTY)) == first
    assert {r.unified_id for r in resolve(shuffled, EMPTY)} == {
        r.unified_id for r in resolve(records, EMPTY)
    }


def test_incremental_matching_against_goldens_equals_a_full_run() -> None:
    records = people(200, 6)
    table = build_table([r.key for r in records], [r.values for r in records], COLUMNS)
    model = train(SETTINGS, table, block_pairs(table, SETTINGS.blocking))
    full = resolve(records, EMPTY, model=model)
    old = [r for r in records if r.tool == "crm"]
    first = resolve(old, EMPTY, model=model)
    golden = {r.unified_id: dict(r.record.values) for r in first}
    links = {(r.record.tool, r.record.record_id): r.unified_id for r in first}
    known = KnownIndex.build(golden, links)
    new = [r for r in records if r.tool == "mail"]
    later = resolve(new, known, model=model)
    incremental = clusters(first + later)
    assert incremental == clusters(full)
    assert all(not r.created for r in later)


def test_a_rejected_pair_never_merges_and_evidence_explains_every_merge() -> None:
    records = people(80, 7)
    results = resolve(records, EMPTY)
    merged = next(r for r in results if r.record.key == "mail:0")
    assert merged.evidence["rule"] == "email"
    names = [c["name"] for c in merged.evidence["comparisons"]]
    assert names == [c.name for c in SETTINGS.comparisons]
    assert merged.evidence["score"] >= SETTINGS.thresholds.auto_merge
    assert "@" not in repr(merged.evidence)
    known = KnownIndex.build({}, {}, rejected=[("crm:0", "mail:0")])
    again = {r.record.key: r.unified_id for r in resolve(records, known)}
    assert again["crm:0"] != again["mail:0"]


def test_a_stored_model_round_trips_and_an_incremental_run_equals_a_full_run() -> None:
    records = people(600, 8)  # > MIN_TRAINING_RECORDS: the model is learned, then stored
    model, trained = prepare_model(records, EMPTY)
    assert trained
    stored = Model.from_dict(model.to_dict())
    assert stored.prior == model.prior
    assert [c.m for c in stored.comparisons] == [c.m for c in model.comparisons]
    full = clusters(resolve(records, EMPTY, model=Model.from_dict(model.to_dict())))
    old = [r for r in records if r.tool == "crm"]
    again, retrained = prepare_model(old, EMPTY, stored)
    assert again is stored  # the data has not doubled: reuse, no retraining
    assert not retrained
    first = resolve(old, EMPTY, model=Model.from_dict(model.to_dict()))
    known = KnownIndex.build(
        {r.unified_id: dict(r.record.values) for r in first},
        {(r.record.tool, r.record.record_id): r.unified_id for r in first},
    )
    new = [r for r in records if r.tool == "mail"]
    later = resolve(new, known, model=Model.from_dict(model.to_dict()))
    assert clusters(first + later) == full


def test_learned_weights_are_not_degenerate() -> None:
    """u comes from random pairs and stays fixed: disagreeing on a name is never evidence for
    a match, and the prior is the chance that two random records match (below 1/n)."""
    records = people(600, 10)
    model, _ = prepare_model(records, EMPTY)
    for params in model.comparisons:
        if params.name in ("first_name", "last_name", "email", "phone"):
            weights = params.weights()
            assert weights[0] < 0 < weights[-1], params.name
    assert model.prior < 1 / len(records)


def test_distinct_records_are_each_a_golden_of_their_own() -> None:
    distinct = load_settings("ticket")
    assert distinct.distinct
    with pytest.raises(ValueError, match="never compared"):
        parse_settings({"distinct": True, "blocking": [["x"]]})
    with pytest.raises(ValueError, match="at least one comparison"):
        parse_settings({"blocking": [["x"]]})
    same = {"subject": "Refund", "requester_id": "p1"}
    records = [rec("zendesk:1", **same), rec("freshdesk:1", **same)]
    known = KnownIndex.build({"g1": {"subject": "Refund"}}, {("zendesk", "9"): "g1"})
    again = [*records, rec("zendesk:9", **same)]
    model, trained = prepare_model(again, known, settings=distinct)
    assert not trained

    results = resolve(again, known, settings=distinct, model=model)

    first, second, linked = results
    assert first.created
    assert second.created
    assert first.unified_id != second.unified_id
    assert (linked.unified_id, linked.created) == ("g1", False)
    assert [r.unified_id for r in resolve(again, known, settings=distinct)] == [
        r.unified_id for r in results
    ], "the same records get the same ids on a re-run"
