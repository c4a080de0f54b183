"""The memory-lean candidate pairs: generated rule by rule and merged piece by piece, scored
chunk by chunk. They must be exactly the pairs (order, rule bits, skipped groups) and the
decisions of the plain way: every rule's pairs at once, one sort, every weight held."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest

import matching.blocking as blocking
import matching.probabilistic as probabilistic
from mappings.spec import MappedRecord
from matching.blocking import BlockIndex, block_pairs, pair_codes, rule_keys
from matching.model import KnownIndex
from matching.settings import BlockingRule, load_settings
from matching.table import Table, build_table

SETTINGS = load_settings("person")
COLUMNS = sorted({c.source for c in SETTINGS.comparisons})
T0 = datetime(2025, 3, 1, tzinfo=UTC)
FIRSTS = ["Ann", "Anna", "Bob", "Robert", "Chen", "Dara", "Eve", ""]
LASTS = ["Smith", "Smyth", "Li", "Lee", "Novak", "Diaz", ""]


def _values(rng: random.Random, i: int) -> dict[str, str | None]:
    first, last = rng.choice(FIRSTS), rng.choice(LASTS)
    local = f"{first or 'x'}.{last or 'y'}{rng.randrange(6)}".lower()
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{local}@{rng.choice(['a.com', 'b.org'])}" if rng.random() < 0.8 else None,
        "phone": f"+3361234{rng.randrange(40):04d}" if rng.random() < 0.5 else None,
        "company": rng.choice(["Acme", "Globex", None]),
        "city": rng.choice(["Lyon", "Paris", None]),
        "country": "FR",
        "job_title": None,
    }


def _table(n: int, seed: int) -> Table:
    rng = random.Random(seed)
    return build_table([f"t:{i}" for i in range(n)], [_values(rng, i) for i in range(n)], COLUMNS)


def _plain(
    table: Table,
    rules: list[BlockingRule],
    max_block: int,
    labels: npt.NDArray[np.int8] | None,
    keep: str,
) -> tuple[list[tuple[int, int, int]], dict[str, int]]:
    """The reference: every rule's groups by key string, every pair, one sorted union."""
    bits: dict[tuple[int, int], int] = {}
    skipped: dict[str, int] = {}
    for bit, rule in enumerate(rules):
        groups: dict[str, list[int]] = {}
        for row, key in enumerate(rule_keys(table, rule)):
            if key:
                groups.setdefault(key, []).append(row)
        over = sum(len(g) > max_block for g in groups.values())
        if over:
            skipped[rule.name] = over
        for rows in groups.values():
            if len(rows) > max_block:
                continue
            for a, b in itertools.combinations(rows, 2):
                if labels is not None and keep == "cross" and labels[a] == labels[b]:
                    continue
                if labels is not None and keep == "touching" and 1 not in (labels[a], labels[b]):
                    continue
                pair = (min(a, b), max(a, b))
                bits[pair] = bits.get(pair, 0) | 1 << bit
    return [(a, b, bits[(a, b)]) for a, b in sorted(bits)], skipped


@pytest.mark.parametrize("piece", [1, 7, 1000, 4_000_000])
@pytest.mark.parametrize("max_block", [4, 250])
@pytest.mark.parametrize("keep", ["all", "cross", "touching"])
def test_lean_pairs_are_exactly_the_plain_pairs(
    monkeypatch: pytest.MonkeyPatch, piece: int, max_block: int, keep: str
) -> None:
    monkeypatch.setattr(blocking, "_PIECE", piece)  # 1: every group merged on its own
    table = _table(160, 3)
    rules = list(SETTINGS.blocking)
    labels = np.array([i % 3 == 0 for i in range(len(table))], dtype=np.int8)
    use = None if keep == "all" else labels
    pairs = block_pairs(table, rules, max_block=max_block, labels=use, keep=keep)  # type: ignore[arg-type]
    expected, skipped = _plain(table, rules, max_block, use, keep)
    got = list(zip(pairs.left.tolist(), pairs.right.tolist(), pairs.rules.tolist(), strict=True))
    assert got == expected
    assert pairs.skipped_blocks == skipped
    assert pairs.left.dtype == pairs.right.dtype == np.int64
    assert pairs.rules.dtype == np.uint32
    assert len({bits for *_, bits in expected}) > 3  # rules overlap: bits are merged
    if max_block == 4:
        assert skipped  # some groups were too big: the cap is exercised
    else:
        assert len(expected) > 200


def test_pair_codes_decode_to_the_same_pairs_whole_or_in_parts() -> None:
    table = _table(120, 5)
    pairs = block_pairs(table, SETTINGS.blocking)
    codes = pair_codes(table, SETTINGS.blocking)
    assert len(codes) == len(pairs)
    assert codes.rules.dtype == np.uint8  # 5 rules: one byte a pair
    assert np.all(np.diff(codes.codes) > 0)  # sorted and unique
    parts = [codes.pairs(slice(s, s + 13)) for s in range(0, len(codes), 13)]
    assert np.concatenate([p.left for p in parts]).tolist() == pairs.left.tolist()
    assert np.concatenate([p.right for p in parts]).tolist() == pairs.right.tolist()
    assert np.concatenate([p.rules for p in parts]).tolist() == pairs.rules.tolist()
    rows = np.array([0, 3, 4, len(codes) - 1])
    some = codes.pairs(rows)
    assert some.left.tolist() == pairs.left[rows].tolist()
    assert some.rules.tolist() == pairs.rules[rows].tolist()


def test_index_candidates_are_the_plain_cross_pairs() -> None:
    resolved, query = _table(150, 7), _table(40, 8)
    index = BlockIndex(resolved, SETTINGS.blocking, max_block=6)
    found = index.candidates(query)
    both = Table.concat([resolved, query])
    labels = np.array([0] * len(resolved) + [1] * len(query), dtype=np.int8)
    plain, _ = _plain(both, list(SETTINGS.blocking), 10**9, labels, "cross")
    # The index leaves out groups of more than 6 resolved rows, whatever the query adds.
    sizes: list[dict[str, int]] = []
    for rule in SETTINGS.blocking:
        counts: dict[str, int] = {}
        for key in rule_keys(resolved, rule):
            if key:
                counts[key] = counts.get(key, 0) + 1
        sizes.append(counts)
    keys = [rule_keys(both, rule) for rule in SETTINGS.blocking]
    expected: dict[tuple[int, int], int] = {}
    for a, b, bits in plain:
        kept = 0
        for bit in range(len(SETTINGS.blocking)):
            if bits >> bit & 1 and sizes[bit].get(keys[bit][a], 0) <= 6:
                kept |= 1 << bit
        if kept:
            expected[(b - len(resolved), a)] = kept
    got = list(zip(found.left.tolist(), found.right.tolist(), found.rules.tolist(), strict=True))
    assert got == [(q, t, expected[(q, t)]) for q, t in sorted(expected)]
    assert len(got) > 20


def test_strongest_pair_fed_in_chunks_is_the_one_lexsort_picks() -> None:
    rng = np.random.default_rng(4)
    n, b = 500, 60
    left = rng.integers(0, b, n)
    right = rng.integers(0, b, n)
    weight = rng.choice([1.5, 2.0, -3.0, np.inf, -np.inf, np.nan, 0.0, -0.0], n)
    plain = rng.random(n) < 0.5  # half ordinary weights, half ties, infinities and NaN
    weight[plain] = rng.normal(size=int(plain.sum()))
    # The plain way (all weights held): per record, lowest -weight then lowest pair number.
    ends = np.concatenate((left, right))
    edges = np.concatenate((np.arange(n), np.arange(n)))
    order = np.lexsort((edges, -weight[edges], ends))
    first = np.concatenate(([True], np.diff(ends[order]) != 0))
    expected = dict(zip(ends[order][first].tolist(), edges[order][first].tolist(), strict=True))
    for chunk in (1, 3, 64, n):
        strongest = probabilistic._Strongest(b)
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            strongest.offer((left[part], right[part]), start, weight[part])
        got = {node: int(e) for node, e in enumerate(strongest.edge) if e >= 0}
        assert got == expected, chunk
    assert np.isnan(weight).any()
    assert np.isinf(weight).any()


def _records(n: int, seed: int) -> list[MappedRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        values = _values(rng, i)
        tool = "crm" if i % 2 else "mail"
        out.append(MappedRecord(tool=tool, record_id=str(i), updated_at=T0, values=values))
    return out


def test_pieces_and_chunks_change_no_decision_or_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    records = _records(400, 11)
    empty = KnownIndex.build({}, {})
    model, _ = probabilistic.prepare_model(records, empty)
    whole = probabilistic.resolve(records, empty, model=model)
    first = whole[:150]
    known = KnownIndex.build(
        {r.unified_id: dict(r.record.values) for r in first},
        {(r.record.tool, r.record.record_id): r.unified_id for r in first},
    )
    later = probabilistic.resolve(records[150:], known, model=model)
    monkeypatch.setattr(blocking, "_PIECE", 5)
    monkeypatch.setattr(probabilistic, "SCORE_CHUNK", 11)
    again = probabilistic.resolve(records, empty, model=model)
    again_later = probabilistic.resolve(records[150:], known, model=model)
    assert [(r.unified_id, r.evidence) for r in again] == [
        (r.unified_id, r.evidence) for r in whole
    ]
    assert [(r.unified_id, r.evidence) for r in again_later] == [
        (r.unified_id, r.evidence) for r in later
    ]
    assert len({r.unified_id for r in whole}) < len(records)  # some records did merge
    assert any(not r.created for r in later)  # and some joined a known golden
