"""Clustering: connected components over auto-merge edges, with cannot-link guards.

Edges are joined strongest first. Two components are never joined when a pair known to be
distinct (a review rejection) would end up inside, or when both already carry a different
anchor (two existing golden records: merging goldens is a human's call, through review).
The cluster label is the smallest row in it, so the same edges always give the same labels.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["cluster"]

IntArray = npt.NDArray[np.int64]


def cluster(
    n: int,
    left: IntArray,
    right: IntArray,
    weight: npt.NDArray[np.float64],
    *,
    cannot_link: Iterable[tuple[int, int]] = (),
    anchors: IntArray | None = None,
) -> tuple[IntArray, list[int]]:
    """(label per row, indices of edges refused by a guard)."""
    parent = np.arange(n, dtype=np.int64)
    anchor: dict[int, int] = {}
    if anchors is not None:
        rows = np.flatnonzero(anchors >= 0)
        anchor = dict(zip(rows.tolist(), anchors[rows].tolist(), strict=True))
    forbidden: dict[int, set[int]] = {}
    for a, b in cannot_link:
        if a != b:
            forbidden.setdefault(int(a), set()).add(int(b))
            forbidden.setdefault(int(b), set()).add(int(a))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = int(parent[root])
        while parent[x] != root:
            parent[x], x = root, int(parent[x])
        return root

    def blocked(ra: int, rb: int) -> bool:
        aa, ab = anchor.get(ra), anchor.get(rb)
        if aa is not None and ab is not None and aa != ab:
            return True
        fa, fb = forbidden.get(ra), forbidden.get(rb)
        # Cannot-links are symmetric: a conflict leaves a trace on both sides.
        if not fa or not fb:
            return False
        small, other = (fa, rb) if len(fa) <= len(fb) else (fb, ra)
        return any(find(x) == other for x in small)

    order = np.lexsort((right, left, -weight))
    refused: list[int] = []
    for e in order:
        ra, rb = find(int(left[e])), find(int(right[e]))
        if ra == rb:
            continue
        if blocked(ra, rb):
            refused.append(int(e))
            continue
        lo, hi = (ra, rb) if ra < rb else (rb, ra)
        parent[hi] = lo
        if hi in anchor:
            anchor.setdefault(lo, anchor.pop(hi))
        if hi in forbidden:
            forbidden.setdefault(lo, set()).update(forbidden.pop(hi))
    labels = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
    return labels, refused
