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

from matching.settings import BlockingRule
from matching.table import StrArray, Table

__all__ = ["BlockIndex", "Pairs", "block_pairs", "rule_keys"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
_SEP = "\x1f"


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


def _codes(keys: StrArray) -> IntArray:
    lookup: dict[str, int] = {}
    codes = np.fromiter(
        (lookup.setdefault(k, len(lookup)) if k else -1 for k in keys),
        dtype=np.int64,
        count=len(keys),
    )
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
        left, right, over = _pairs_from_codes(_codes(rule_keys(table, rule)), max_block)
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


class BlockIndex:
    """Blocking keys of a resolved set, for looking up candidates of a few new records."""

    def __init__(self, table: Table, rules: Sequence[BlockingRule], max_block: int = 250):
        self.table = table
        self.rules = tuple(rules)
        self.max_block = max_block
        self._index: list[dict[str, IntArray]] = []
        for rule in self.rules:
            groups: dict[str, list[int]] = {}
            for row, key in enumerate(rule_keys(table, rule)):
                if key:
                    groups.setdefault(key, []).append(row)
            self._index.append(
                {k: np.asarray(v, dtype=np.int64) for k, v in groups.items() if len(v) <= max_block}
            )

    def candidates(self, query: Table) -> Pairs:
        """Pairs (query row, indexed row) sharing a key of any rule."""
        lefts: list[IntArray] = []
        rights: list[IntArray] = []
        bits: list[int] = []
        for bit, (rule, index) in enumerate(zip(self.rules, self._index, strict=True)):
            q_rows: list[IntArray] = []
            t_rows: list[IntArray] = []
            for row, key in enumerate(rule_keys(query, rule)):
                hits = index.get(key) if key else None
                if hits is not None:
                    q_rows.append(np.full(len(hits), row, dtype=np.int64))
                    t_rows.append(hits)
            if q_rows:
                lefts.append(np.concatenate(q_rows))
                rights.append(np.concatenate(t_rows))
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
