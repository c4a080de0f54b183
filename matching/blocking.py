"""Blocking: which pairs get compared at all, so cost grows near linearly with the records.

A rule's key is the concatenation of its parts (a record missing a part has no key). Pairs
inside a key's group are generated with numpy, group size by group size, never in a Python
loop per pair; groups larger than ``max_block`` are skipped and counted (a key shared by
thousands of records is a bad key, not a person). Pairs are merged rule by rule, piece by
piece, into one sorted set of ``left * n + right`` codes with a byte of rule bits: a million
records' ~80M candidate pairs never exist as every rule's lists plus a global sort (that
made the 1M-record run peak at 10 GiB). ``BlockIndex`` keeps the same keys of an already
resolved set (the golden records) as sorted hash arrays, so one new record finds its
candidates in microseconds without regrouping the whole set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from matching.settings import BlockingRule
from matching.table import StrArray, Table

__all__ = [
    "BlockIndex",
    "PairCodes",
    "Pairs",
    "block_pairs",
    "pair_codes",
    "rule_hashes",
    "rule_keys",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]
_SEP = "\x1f"
_MIX = np.uint64(0x100000001B3)
_CATEGORIZE_FROM = 10_000
# Raw pairs generated before they are merged into the unique set (8 bytes each, a few copies).
_PIECE = 4_000_000


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


def _groups(codes: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Rows with a code, sorted by code (ascending rows inside a group); group starts, sizes."""
    rows = np.flatnonzero(codes >= 0)
    order = np.argsort(codes[rows], kind="stable")
    rows = rows[order]
    del order
    if not len(rows):
        return rows, rows, rows
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes[rows])) + 1))
    sizes = np.diff(np.append(starts, len(rows)))
    return rows, starts, sizes


def _group_pairs(
    rows: IntArray, starts: IntArray, sizes: IntArray, max_block: int
) -> Iterator[tuple[IntArray, IntArray]]:
    """All pairs inside the groups of 2..max_block rows, in pieces of about ``_PIECE`` pairs;
    left < right, since rows ascend inside a group."""
    for size in np.unique(sizes):
        s = int(size)
        if s < 2 or s > max_block:
            continue
        group_starts = starts[sizes == s]
        a, b = np.triu_indices(s, 1)
        step = max(1, _PIECE // len(a))
        for i in range(0, len(group_starts), step):
            first = group_starts[i : i + step, None]
            yield rows[(first + a).ravel()], rows[(first + b).ravel()]


class _PairSet:
    """Sorted unique pair codes with the bits of the rules that proposed each, grown piece by
    piece: a piece is merged in place of holding every rule's pairs until one global sort, so
    the peak is this set about twice plus one piece (8 + 1 bytes per unique pair)."""

    def __init__(self, n_rules: int) -> None:
        self.codes: IntArray = np.empty(0, dtype=np.int64)
        self.bits_type = _bits_type(n_rules)
        self.bits: npt.NDArray[np.unsignedinteger[Any]] = np.empty(0, dtype=self.bits_type)

    def add(self, codes: IntArray, bit: int) -> None:
        """Merge ``codes`` of rule ``bit`` (distinct, in any order: sorted in place)."""
        if not len(codes):
            return
        codes.sort()
        flag = self.bits_type(1 << bit)
        pos = np.searchsorted(self.codes, codes)
        if len(self.codes):
            seen = self.codes[np.minimum(pos, len(self.codes) - 1)] == codes
            self.bits[pos[seen]] |= flag
            fresh = np.flatnonzero(~seen)
            del seen
            codes, pos = codes[fresh], pos[fresh]
            del fresh
        # Where each new code lands once the codes before it are in: its insertion point plus
        # the new codes ahead of it (they are sorted), as np.insert does without its argsort.
        pos += np.arange(len(pos), dtype=pos.dtype)
        total = len(self.codes) + len(codes)
        old = np.ones(total, dtype=bool)
        old[pos] = False
        merged = np.empty(total, dtype=np.int64)
        merged[pos] = codes
        merged[old] = self.codes
        self.codes = merged
        del merged
        bits = np.empty(total, dtype=self.bits_type)
        bits[pos] = flag
        bits[old] = self.bits
        self.bits = bits


def _bits_type(n_rules: int) -> type[np.unsignedinteger[Any]]:
    for kind in (np.uint8, np.uint16, np.uint32):
        if n_rules <= np.iinfo(kind).bits:
            return kind
    raise ValueError(f"at most 32 blocking rules, got {n_rules}")


@dataclass
class PairCodes:
    """Unique candidate pairs as sorted codes ``left * n + right`` with rule bits: 9 bytes a
    pair (a million records' 80M candidate pairs are 0.7 GiB, not 1.6 as ``Pairs``). Sorted
    codes are pairs in (left, right) order, the order ``block_pairs`` gives."""

    codes: IntArray
    rules: npt.NDArray[np.unsignedinteger[Any]]
    n: int
    skipped_blocks: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.codes)

    def pairs(self, rows: slice | IntArray) -> Pairs:
        """These pairs (a slice or sorted positions) as ``Pairs``."""
        left, right = np.divmod(self.codes[rows], self.n)
        rules = self.rules[rows].astype(np.uint32)
        return Pairs(left=left, right=right, rules=rules, skipped_blocks=self.skipped_blocks)


def pair_codes(
    table: Table,
    rules: Sequence[BlockingRule],
    *,
    max_block: int = 250,
    labels: npt.NDArray[np.int8] | None = None,
    keep: Literal["all", "cross", "touching"] = "all",
) -> PairCodes:
    """The pairs of ``block_pairs`` as ``PairCodes``: generated rule by rule and merged in
    pieces, so neither every rule's pairs nor a second copy of them is ever held."""
    n = max(len(table), 1)
    found = _PairSet(len(rules))
    skipped: dict[str, int] = {}
    for bit, rule in enumerate(rules):
        rows, starts, sizes = _groups(_codes(table, rule))
        over = int(np.count_nonzero(sizes > max_block))
        if over:
            skipped[rule.name] = over
        piece: list[IntArray] = []
        held = 0
        for left, right in _group_pairs(rows, starts, sizes, max_block):
            if labels is not None and keep != "all":
                if keep == "cross":
                    mask = labels[left] != labels[right]
                else:
                    mask = (labels[left] == 1) | (labels[right] == 1)
                left, right = left[mask], right[mask]
            code = left * np.int64(n)
            code += right
            piece.append(code)
            held += len(code)
            if held >= _PIECE:
                found.add(np.concatenate(piece), bit)
                piece, held = [], 0
        if piece:
            found.add(np.concatenate(piece), bit)
        del rows, starts, sizes, piece
    if skipped:
        logger.info("blocking skipped oversized groups: %s", skipped)
    return PairCodes(codes=found.codes, rules=found.bits, n=n, skipped_blocks=skipped)


def block_pairs(
    table: Table,
    rules: Sequence[BlockingRule],
    *,
    max_block: int = 250,
    labels: npt.NDArray[np.int8] | None = None,
    keep: Literal["all", "cross", "touching"] = "all",
) -> Pairs:
    """Unique candidate pairs (left < right) of ``table`` under any of ``rules``, in (left,
    right) order.

    ``keep="cross"`` keeps pairs whose ``labels`` differ (linking two files);
    ``keep="touching"`` keeps pairs where at least one side has label 1 (new records).
    """
    found = pair_codes(table, rules, max_block=max_block, labels=labels, keep=keep)
    codes, n = found.codes, found.n
    left = codes // n
    right = np.remainder(codes, n, out=codes)  # the codes are not needed any more
    rules_bits = found.rules.astype(np.uint32)
    return Pairs(left=left, right=right, rules=rules_bits, skipped_blocks=found.skipped_blocks)


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
        n = max(len(self.table), 1)
        # (query, indexed) as query * n + indexed: one code to merge the rules' hits by.
        found = _PairSet(len(self.rules))
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
            code = np.repeat(q_rows, counts).astype(np.int64) * np.int64(n)
            code += self._rows[bit][flat]
            found.add(code, bit)
        left, right = np.divmod(found.codes, n)
        return Pairs(left=left, right=right, rules=found.bits.astype(np.uint32))
