"""Blocking: which pairs get compared at all, so cost grows near linearly with the records.

A rule's key is the concatenation of its parts (a record missing a part has no key). Pairs
inside a key's group are generated with numpy, group size by group size, never in a Python
loop per pair; groups larger than ``max_block`` are skipped and counted (a key shared by
thousands of records is a bad key, not a person). ``BlockIndex`` keeps the same keys of an
already resolved set (the golden records) in dictionaries, so one new record finds its
candidates in microseconds without regrouping the whole set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from matching.settings import BlockingRule
from matching.table import StrArray, Table

__all__ = ["BlockIndex", "Pairs", "block_pairs", "rule_hashes", "rule_keys"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]
_SEP = "\x1f"
_MIX = np.uint64(0x100000001B3)
_CATEGORIZE_FROM = 10_000


@dataclass
class Pairs:
    """Candidate pairs ``(left[k], right[k])`` and which rules proposed them (bit per rule)."""

    left: IntArray
    right: IntArray
    rules: npt.NDArray[np.uint32]
    skipped_blocks: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.left)


def rule_keys(table: Table, rule: BlockingRule) -> StrArray:
    """The rule's key per record, "" when a part is missing."""
    parts = [table.column(k) for k in rule.keys]
    if len(parts) == 1:
        return parts[0]
    out = np.empty(len(table), dtype=object)
    for row, values in enumerate(zip(*parts, strict=True)):
        out[row] = _SEP.join(values) if all(values) else ""
    return out


def _codes(table: Table, rule: BlockingRule) -> IntArray:
    """A group number per record (-1: no key), from the key hashes: no key string is built."""
    hashes, present = rule_hashes(table, rule)
    codes = np.full(len(table), -1, dtype=np.int64)
    rows = np.flatnonzero(present)
    if len(rows):
        _, inverse = np.unique(hashes[rows], return_inverse=True)
        codes[rows] = inverse.reshape(-1)
    return codes


def _pairs_from_codes(codes: IntArray, max_block: int) -> tuple[IntArray, IntArray, int]:
    """All pairs of rows sharing a code; (left, right, number of oversized groups skipped)."""
    rows = np.flatnonzero(codes >= 0)
    if len(rows) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, 0
    order = np.argsort(codes[rows], kind="stable")
    rows = rows[order]
    sorted_codes = codes[rows]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_codes)) + 1))
    sizes = np.diff(np.concatenate((starts, [len(rows)])))
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    for size in np.unique(sizes):
        s = int(size)
        if s < 2 or s > max_block:
            continue
        group_starts = starts[sizes == s]
        a, b = np.triu_indices(s, 1)
        lefts.append(rows[(group_starts[:, None] + a[None, :]).ravel()])
        rights.append(rows[(group_starts[:, None] + b[None, :]).ravel()])
    skipped = int(np.count_nonzero(sizes > max_block))
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, skipped
    return np.concatenate(lefts), np.concatenate(rights), skipped


def _dedupe(
    lefts: list[IntArray], rights: list[IntArray], bits: list[int], n: int
) -> tuple[IntArray, IntArray, npt.NDArray[np.uint32]]:
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.uint32)
    lo = np.concatenate([np.minimum(a, b) for a, b in zip(lefts, rights, strict=True)])
    hi = np.concatenate([np.maximum(a, b) for a, b in zip(lefts, rights, strict=True)])
    rule_bits = np.concatenate(
        [np.full(len(a), 1 << bit, dtype=np.uint32) for a, bit in zip(lefts, bits, strict=True)]
    )
    code = lo * np.int64(n) + hi
    order = np.argsort(code, kind="stable")
    code, rule_bits = code[order], rule_bits[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(code)) + 1)) if len(code) else code
    merged_bits = np.bitwise_or.reduceat(rule_bits, starts) if len(code) else rule_bits
    unique = code[starts]
    return unique // n, unique % n, merged_bits.astype(np.uint32)


def block_pairs(
    table: Table,
    rules: Sequence[BlockingRule],
    *,
    max_block: int = 250,
    labels: npt.NDArray[np.int8] | None = None,
    keep: Literal["all", "cross", "touching"] = "all",
) -> Pairs:
    """Unique candidate pairs (left < right) of ``table`` under any of ``rules``.

    ``keep="cross"`` keeps pairs whose ``labels`` differ (linking two files);
    ``keep="touching"`` keeps pairs where at least one side has label 1 (new records).
    """
    n = len(table)
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    bits: list[int] = []
    skipped: dict[str, int] = {}
    for bit, rule in enumerate(rules):
        left, right, over = _pairs_from_codes(_codes(table, rule), max_block)
        if over:
            skipped[rule.name] = over
        if labels is not None and keep != "all":
            if keep == "cross":
                mask = labels[left] != labels[right]
            else:
                mask = (labels[left] == 1) | (labels[right] == 1)
            left, right = left[mask], right[mask]
        lefts.append(left)
        rights.append(right)
        bits.append(bit)
    if skipped:
        logger.info("blocking skipped oversized groups: %s", skipped)
    lo, hi, rule_bits = _dedupe(lefts, rights, bits, max(n, 1))
    return Pairs(left=lo, right=hi, rules=rule_bits, skipped_blocks=skipped)


def rule_hashes(table: Table, rule: BlockingRule) -> tuple[HashArray, npt.NDArray[np.bool_]]:
    """A 64-bit hash of the rule's key per record, and where the key exists (no part missing).

    Parts are hashed column by column (``pandas.util.hash_array``: stable across processes)
    and combined, so no joined key string is ever built. Two different keys share a hash
    with probability ~2^-64 per pair: at worst a pair gets scored that blocking would skip.
    """
    present = np.ones(len(table), dtype=bool)
    combined = np.zeros(len(table), dtype=np.uint64)
    for key in rule.keys:
        values = table.column(key, cache=False)
        present &= values != ""
        # Factorizing first pays off on large columns only (a few queries: plain hashing).
        hashed = pd.util.hash_array(values, categorize=len(values) > _CATEGORIZE_FROM)
        combined = combined * _MIX ^ hashed
    return combined, present


class BlockIndex:
    """Blocking keys of a resolved set, for looking up candidates of a few new records.

    Per rule, a sorted array of key hashes and the rows holding each (CSR: ``starts`` into
    ``rows``): about 20 bytes per record and rule, no Python object per key, and a batch of
    queries is answered with one ``searchsorted`` per rule. Groups larger than ``max_block``
    are left out, as batch blocking skips them.
    """

    def __init__(self, table: Table, rules: Sequence[BlockingRule], max_block: int = 250):
        self.table = table
        self.rules = tuple(rules)
        self.max_block = max_block
        self._hashes: list[HashArray] = []
        self._starts: list[IntArray] = []
        self._rows: list[npt.NDArray[np.int32]] = []
        for rule in self.rules:
            hashes, present = rule_hashes(table, rule)
            rows = np.flatnonzero(present)
            keys = hashes[rows]
            order = np.argsort(keys, kind="stable")
            keys, rows = keys[order], rows[order]
            if len(keys):
                first = np.concatenate(([0], np.flatnonzero(np.diff(keys) != 0) + 1))
            else:
                first = np.empty(0, dtype=np.int64)
            sizes = np.diff(np.append(first, len(keys)))
            small = sizes <= max_block
            kept_rows = rows[np.repeat(small, sizes)]
            self._hashes.append(keys[first[small]])
            self._starts.append(np.concatenate(([0], np.cumsum(sizes[small]))).astype(np.int64))
            self._rows.append(kept_rows.astype(np.int32))

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays (not the table)."""
        total = sum(a.nbytes for a in self._hashes) + sum(a.nbytes for a in self._starts)
        return int(total + sum(a.nbytes for a in self._rows))

    def candidates(self, query: Table) -> Pairs:
        """Pairs (query row, indexed row) sharing a key of any rule."""
        lefts: list[IntArray] = []
        rights: list[IntArray] = []
        bits: list[int] = []
        for bit, rule in enumerate(self.rules):
            hashes, present = rule_hashes(query, rule)
            q_rows = np.flatnonzero(present)
            index = self._hashes[bit]
            if not len(q_rows) or not len(index):
                continue
            pos = np.searchsorted(index, hashes[q_rows])
            pos = np.minimum(pos, len(index) - 1)
            hit = index[pos] == hashes[q_rows]
            q_rows, pos = q_rows[hit], pos[hit]
            if not len(q_rows):
                continue
            starts, stops = self._starts[bit][pos], self._starts[bit][pos + 1]
            counts = stops - starts
            offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
            flat = offsets + np.arange(int(counts.sum()), dtype=np.int64)
            lefts.append(np.repeat(q_rows, counts).astype(np.int64))
            rights.append(self._rows[bit][flat].astype(np.int64))
            bits.append(bit)
        if not lefts:
            empty = np.empty(0, dtype=np.int64)
            return Pairs(left=empty, right=empty, rules=np.empty(0, dtype=np.uint32))
        n = max(len(self.table), 1)
        # Encode (query, indexed) as query * n + indexed to dedupe across rules.
        code_l = [q * np.int64(n) + t for q, t in zip(lefts, rights, strict=True)]
        zeros = [np.zeros(len(c), dtype=np.int64) for c in code_l]
        lo, hi, rule_bits = _dedupe(zeros, code_l, bits, 1 << 62)
        del lo
        return Pairs(left=hi // n, right=hi % n, rules=rule_bits)
