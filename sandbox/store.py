"""In-memory record store with a modification-time index.

Records live in a dict (O(1) by id); two sorted lists give O(log n + page) access in creation
order and in modification order, which is what list endpoints and incremental reads need to
stay fast at 100k records. Not thread-safe on its own: `SandboxState.lock` guards it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

__all__ = ["RecordStore"]

K = TypeVar("K", int, str)


class RecordStore(Generic[K]):
    """Records keyed by id, each with a creation sequence and a modification time (ms epoch)."""

    def __init__(self) -> None:
        self._records: dict[K, dict[str, Any]] = {}
        self._seq: dict[K, int] = {}
        self._mtime: dict[K, int] = {}
        self._by_seq: list[tuple[int, K]] = []
        self._by_mtime: list[tuple[int, int, K]] = []
        self._next_seq = 0
        self._bulk = False

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def get(self, key: K) -> dict[str, Any] | None:
        return self._records.get(key)

    def mtime(self, key: K) -> int:
        return self._mtime[key]

    def put(self, key: K, record: dict[str, Any], mtime_ms: int) -> None:
        """Insert or replace a record and move it in the modification index."""
        if key in self._records:
            if self._bulk:
                self._by_mtime.sort()
            seq = self._seq[key]
            old = (self._mtime[key], seq, key)
            i = bisect.bisect_left(self._by_mtime, old)
            if i < len(self._by_mtime) and self._by_mtime[i] == old:
                del self._by_mtime[i]
        else:
            seq = self._next_seq
            self._next_seq += 1
            self._seq[key] = seq
            self._by_seq.append((seq, key))
        self._records[key] = record
        self._mtime[key] = mtime_ms
        if self._bulk:
            self._by_mtime.append((mtime_ms, seq, key))
        else:
            bisect.insort(self._by_mtime, (mtime_ms, seq, key))

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Defer index sorting while loading many records (seeding 100k stays fast)."""
        self._bulk = True
        try:
            yield
        finally:
            self._bulk = False
            self._by_mtime.sort()

    def remove(self, key: K) -> dict[str, Any] | None:
        record = self._records.pop(key, None)
        if record is None:
            return None
        seq = self._seq.pop(key)
        mtime = self._mtime.pop(key)
        i = bisect.bisect_left(self._by_mtime, (mtime, seq, key))
        if i < len(self._by_mtime) and self._by_mtime[i] == (mtime, seq, key):
            del self._by_mtime[i]
        j = bisect.bisect_left(self._by_seq, (seq, key))
        if j < len(self._by_seq) and self._by_seq[j] == (seq, key):
            del self._by_seq[j]
        return record

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def page_by_creation(self, offset: int, count: int) -> list[K]:
        """Keys in creation order, `count` from `offset`."""
        return [key for _, key in self._by_seq[offset : offset + count]]

    def seq_of(self, key: K) -> int:
        return self._seq[key]

    def page_after_seq(self, after_seq: int, count: int) -> list[tuple[int, K]]:
        """Up to `count` (seq, key) pairs with seq >= after_seq, in creation order."""
        i = bisect.bisect_left(self._by_seq, (after_seq,))
        return self._by_seq[i : i + count]

    def mtime_range(self, low: int | None, high: int | None) -> tuple[int, int]:
        """Index bounds [lo, hi) of records with low <= mtime <= high (inclusive ms bounds)."""
        lo = 0 if low is None else bisect.bisect_left(self._by_mtime, (low,))
        if high is None:
            hi = len(self._by_mtime)
        else:
            hi = bisect.bisect_left(self._by_mtime, (high + 1,))
        return lo, max(lo, hi)

    def keys_by_mtime(self, lo: int, hi: int, *, descending: bool = False) -> list[K]:
        """Keys at modification-index positions [lo, hi), ascending or descending."""
        part = self._by_mtime[lo:hi]
        if descending:
            part.reverse()
        return [key for _, _, key in part]

    def iter_keys(self) -> Iterator[K]:
        return (key for _, key in self._by_seq)

    def values(self) -> Iterator[dict[str, Any]]:
        return (self._records[key] for _, key in self._by_seq)
