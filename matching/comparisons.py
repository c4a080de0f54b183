"""Comparisons with levels: how alike two values are, as a small integer per pair.

Level -1 is "missing on either side" (it says nothing, weight 0), 0 is "different", and
higher levels are closer agreement up to the last level, "exact". String similarity comes from
``rapidfuzz`` in batches (``process.cpdist``, C++ over every pair at once), never from a Python
loop per pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from matching.keys import canonical_first_name, company_core
from matching.table import StrArray

__all__ = ["LEVELS", "NULL", "WORKERS", "Levels", "compare", "level_names"]

Levels = npt.NDArray[np.int8]
NULL = -1
WORKERS = 2

LEVELS: dict[str, tuple[str, ...]] = {
    "name": (
        "different",
        "jaro_winkler>=0.80",
        "jaro_winkler>=0.92",
        "one_edit",
        "nickname",
        "exact",
    ),
    "email": ("different", "exact"),
    "phone": ("different", "one_digit_off", "exact"),
    "text": ("different", "similarity>=0.75", "similarity>=0.90", "exact"),
    "code": ("different", "one_edit", "exact"),
    "exact": ("different", "exact"),
    "company": ("different", "similarity>=0.80", "similarity>=0.92", "same_core", "exact"),
}


def level_names(kind: str) -> tuple[str, ...]:
    return LEVELS[kind]


def _jw(a: StrArray, b: StrArray) -> npt.NDArray[np.float64]:
    return np.asarray(
        process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=WORKERS),
        dtype=np.float64,
    )


def _edits(a: StrArray, b: StrArray) -> npt.NDArray[np.float64]:
    return np.asarray(
        process.cpdist(a, b, scorer=DamerauLevenshtein.distance, workers=WORKERS),
        dtype=np.float64,
    )


def _tokens(a: StrArray, b: StrArray) -> npt.NDArray[np.float64]:
    return (
        np.asarray(
            process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=WORKERS),
            dtype=np.float64,
        )
        / 100.0
    )


def _name(a: StrArray, b: StrArray) -> Levels:
    # One edit (a typo: "thomavs", "karinj") is told apart from a similar but different name
    # ("maria"/"marianne", "christa"/"christina"), which Jaro-Winkler alone scores alike.
    out = np.zeros(len(a), dtype=np.int8)
    exact = a == b
    out[exact] = 5
    rest = np.flatnonzero(~exact)
    if len(rest):
        sim = _jw(a[rest], b[rest])
        lv = np.where(sim >= 0.92, 2, np.where(sim >= 0.80, 1, 0)).astype(np.int8)
        close = np.flatnonzero(sim >= 0.80)
        if len(close):
            typo = _edits(a[rest][close], b[rest][close]) <= 1
            lv[close[typo]] = 3
        nick = np.fromiter(
            (
                canonical_first_name(x) == canonical_first_name(y)
                for x, y in zip(a[rest], b[rest], strict=True)
            ),
            dtype=bool,
            count=len(rest),
        )
        lv[nick] = 4
        out[rest] = lv
    return out


def _email(a: StrArray, b: StrArray) -> Levels:
    # Exact or not: a similar local part ("jane.doe" vs "jane.doe2") is the names again, and
    # counting it on top of them merged every same-name pair in the seeded world.
    return np.asarray(a == b, dtype=np.int8)


def _by_edits(top: int) -> Callable[[StrArray, StrArray], Levels]:
    def levels(a: StrArray, b: StrArray) -> Levels:
        out = np.zeros(len(a), dtype=np.int8)
        exact = a == b
        out[exact] = top
        rest = np.flatnonzero(~exact)
        if len(rest):
            out[rest] = np.where(_edits(a[rest], b[rest]) <= 1, 1, 0).astype(np.int8)
        return out

    return levels


def _text(a: StrArray, b: StrArray) -> Levels:
    out = np.zeros(len(a), dtype=np.int8)
    exact = a == b
    out[exact] = 3
    rest = np.flatnonzero(~exact)
    if len(rest):
        sim = _tokens(a[rest], b[rest])
        out[rest] = np.where(sim >= 0.90, 2, np.where(sim >= 0.75, 1, 0)).astype(np.int8)
    return out


def _company(a: StrArray, b: StrArray) -> Levels:
    # "Acme Inc." and "ACME" are the same name once legal forms go; the fuzzy levels then
    # compare those cores, so a typo counts and a different word ("Acme Robotics") less so.
    out = np.zeros(len(a), dtype=np.int8)
    exact = a == b
    out[exact] = 4
    rest = np.flatnonzero(~exact)
    if len(rest):
        ca = np.asarray([company_core(x) for x in a[rest]], dtype=object)
        cb = np.asarray([company_core(y) for y in b[rest]], dtype=object)
        same = ca == cb
        sim = _tokens(ca, cb)
        lv = np.where(sim >= 0.92, 2, np.where(sim >= 0.80, 1, 0)).astype(np.int8)
        lv[same] = 3
        out[rest] = lv
    return out


def _exact(a: StrArray, b: StrArray) -> Levels:
    return np.asarray(a == b, dtype=np.int8)


@dataclass(frozen=True)
class _Kind:
    levels: Callable[[StrArray, StrArray], Levels]


_KINDS: dict[str, _Kind] = {
    "name": _Kind(_name),
    "email": _Kind(_email),
    "phone": _Kind(_by_edits(2)),
    "text": _Kind(_text),
    "code": _Kind(_by_edits(2)),
    "exact": _Kind(_exact),
    "company": _Kind(_company),
}


def compare(kind: str, a: StrArray, b: StrArray) -> Levels:
    """Level per pair of values ``(a[k], b[k])``; ``NULL`` where either is missing."""
    out = np.full(len(a), NULL, dtype=np.int8)
    present = np.flatnonzero((a != "") & (b != ""))
    if len(present):
        out[present] = _KINDS[kind].levels(a[present], b[present])
    return out
