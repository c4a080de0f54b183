"""Fellegi-Sunter weights: m and u per comparison level, learned without labels.

u (how often two *different* people agree at a level) is measured on random pairs, where
almost every pair is a non-match, and then held fixed. m (how often the *same* person agrees)
is learned by expectation-maximisation over candidate pairs' comparison vectors, compressed
to their distinct patterns so that millions of pairs cost a few thousand rows per iteration.
The prior is the chance that two *random* records match (not two candidates: agreeing on a
blocking key is already counted in the weights). Hand-set values from the settings file
override what was learned. A pair's match weight is ``log2(prior odds) + sum(log2(m/u))``,
plus a term-frequency adjustment on exact matches of rare or common values.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from matching.comparisons import NULL, compare, level_names
from matching.settings import ComparisonSpec, MatchSettings
from matching.table import Table

__all__ = [
    "ComparisonParams",
    "Model",
    "apply_overrides",
    "capped",
    "comparison_vectors",
    "default_model",
    "estimate_u",
    "fit_m",
    "fit_prior",
    "term_frequencies",
]

logger = logging.getLogger(__name__)

Gamma = npt.NDArray[np.int8]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_SMOOTH = 0.5
_TF_CLIP = 6.0
_DEFAULT_PRIOR = 0.05
_M_FLOOR = 1e-3
_U_FLOOR = 1e-6


@dataclass
class ComparisonParams:
    """Learned (or hand-set) probabilities of one comparison, one entry per level."""

    name: str
    kind: str
    column: str
    levels: tuple[str, ...]
    m: list[float]
    u: list[float]
    tf: bool = False
    u_exact_random: float = 0.0

    def weights(self) -> FloatArray:
        """log2(m/u) per level (index = level), no level above the exact one."""
        return capped(np.log2(np.asarray(self.m) / np.asarray(self.u)))


def capped(weights: FloatArray) -> FloatArray:
    """Weights per level with every level below "exact" (the last) capped at exact's weight.

    A fuzzy level seldom or never seen among random pairs rests its u on a handful of counts
    (or on smoothing alone) and can come out far above exact agreement; a fuzzier agreement
    never says more than an exact one.
    """
    out = np.asarray(weights, dtype=np.float64).copy()
    out[:-1] = np.minimum(out[:-1], out[-1])
    return out


@dataclass
class Model:
    """Everything needed to score a pair: per-comparison parameters, prior, term frequencies."""

    comparisons: list[ComparisonParams]
    prior: float = _DEFAULT_PRIOR
    tf_tables: dict[str, dict[str, float]] = field(default_factory=dict)
    trained_on: int = 0
    trained_records: int = 0

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "trained_on": self.trained_on,
            "trained_records": self.trained_records,
            "comparisons": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "column": c.column,
                    "levels": list(c.levels),
                    "m": c.m,
                    "u": c.u,
                    "tf": c.tf,
                    "u_exact_random": c.u_exact_random,
                }
                for c in self.comparisons
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """The stored model; one stored with other levels than today's counts as untrained.

        ``trained_records = 0`` makes the next run retrain it instead of scoring today's
        comparison levels with another release's weights.
        """
        model = cls._from_dict(data)
        stale = [c.name for c in model.comparisons if c.levels != level_names(c.kind)]
        if stale:
            logger.warning("stored model has outdated levels for %s: retraining", stale)
            model.trained_records = 0
        return model

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> Model:
        return cls(
            comparisons=[
                ComparisonParams(
                    name=c["name"],
                    kind=c["kind"],
                    column=c["column"],
                    levels=tuple(c["levels"]),
                    m=list(c["m"]),
                    u=list(c["u"]),
                    tf=bool(c["tf"]),
                    u_exact_random=float(c["u_exact_random"]),
                )
                for c in data["comparisons"]
            ],
            prior=float(data["prior"]),
            trained_on=int(data.get("trained_on", 0)),
            trained_records=int(data.get("trained_records", 0)),
        )


def _default_m(n_levels: int) -> list[float]:
    # The same person mostly agrees exactly; the rest spreads over the fuzzier levels.
    rest = [0.5**k for k in range(n_levels - 1, 0, -1)]
    weights = [*rest, 2.0**n_levels]
    total = sum(weights)
    return [w / total for w in weights]


def _default_u(n_levels: int) -> list[float]:
    # Two different people agree exactly about 1% of the time, at each fuzzy level as often.
    agree = [0.01] * (n_levels - 1)
    return [1.0 - sum(agree), *agree]


def _params(spec: ComparisonSpec) -> ComparisonParams:
    levels = level_names(spec.kind)
    u = _default_u(len(levels))
    return ComparisonParams(
        name=spec.name,
        kind=spec.kind,
        column=spec.source,
        levels=levels,
        m=_default_m(len(levels)),
        u=u,
        tf=spec.tf,
        u_exact_random=u[-1],
    )


def _apply_overrides(model: Model, settings: MatchSettings) -> Model:
    for params in model.comparisons:
        for level, override in settings.parameters.get(params.name, {}).items():
            if level not in params.levels:
                raise ValueError(f"{params.name}: unknown level {level!r} ({params.levels})")
            k = params.levels.index(level)
            if override.m is not None:
                params.m[k] = override.m
            if override.u is not None:
                params.u[k] = override.u
    return model


def default_model(settings: MatchSettings) -> Model:
    """Untrained parameters (generic per kind, then the settings' hand-set values)."""
    return _apply_overrides(Model(comparisons=[_params(s) for s in settings.comparisons]), settings)


def comparison_vectors(
    comparisons: Sequence[ComparisonParams],
    left: Table,
    left_rows: IntArray,
    right: Table,
    right_rows: IntArray,
) -> Gamma:
    """(pairs x comparisons) levels of the pairs ``(left[left_rows[k]], right[right_rows[k]])``."""
    gamma = np.empty((len(left_rows), len(comparisons)), dtype=np.int8)
    for c, params in enumerate(comparisons):
        a = left.column(params.column)[left_rows]
        b = right.column(params.column)[right_rows]
        gamma[:, c] = compare(params.kind, a, b)
    return gamma


def term_frequencies(
    tables: Sequence[Table], columns: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Share of records holding each value, per column (missing values not counted)."""
    out: dict[str, dict[str, float]] = {}
    for column in columns:
        counts: Counter[str] = Counter()
        for table in tables:
            counts.update(v for v in table.column(column) if v)
        total = sum(counts.values())
        out[column] = {v: n / total for v, n in counts.items()} if total else {}
    return out


def estimate_u(
    comparisons: list[ComparisonParams],
    left: Table,
    right: Table | None = None,
    *,
    max_pairs: int = 300_000,
    seed: int = 0,
) -> None:
    """Set u per level from random pairs (of one table, or across two), in place."""
    rng = np.random.default_rng(seed)
    other = right if right is not None else left
    if len(left) < 2 or len(other) < 1:
        return
    n_pairs = min(max_pairs, len(left) * len(other))
    li = rng.integers(0, len(left), size=n_pairs)
    ri = rng.integers(0, len(other), size=n_pairs)
    if right is None:
        keep = li != ri
        li, ri = li[keep], ri[keep]
    gamma = comparison_vectors(comparisons, left, li, other, ri)
    for c, params in enumerate(comparisons):
        col = gamma[:, c]
        present = col[col != NULL]
        n_levels = len(params.levels)
        counts = np.bincount(present.astype(np.int64), minlength=n_levels).astype(np.float64)
        total = counts.sum()
        if total == 0:
            continue
        # Laplace: a level never seen among random pairs is rare, not impossible.
        u = np.maximum((counts + 1.0) / (total + n_levels), _U_FLOOR)
        params.u = list(u / u.sum())
        params.u_exact_random = params.u[-1]


def _patterns(gamma: Gamma) -> tuple[Gamma, FloatArray]:
    """Distinct comparison vectors and how many pairs have each."""
    base = 8
    code = np.zeros(len(gamma), dtype=np.int64)
    for c in range(gamma.shape[1]):
        code = code * base + (gamma[:, c].astype(np.int64) + 1)
    unique, counts = np.unique(code, return_counts=True)
    patterns = np.empty((len(unique), gamma.shape[1]), dtype=np.int8)
    rest = unique.copy()
    for c in range(gamma.shape[1] - 1, -1, -1):
        patterns[:, c] = (rest % base - 1).astype(np.int8)
        rest //= base
    return patterns, counts.astype(np.float64)


def _log_ratio(comparisons: Sequence[ComparisonParams], patterns: Gamma) -> FloatArray:
    """Natural-log m/u ratio of each pattern, capped as in scoring (missing adds nothing)."""
    out = np.zeros(len(patterns))
    for c, params in enumerate(comparisons):
        # Index -1 (null) lands on the appended 0: a missing value says nothing.
        table = np.append(params.weights() * math.log(2.0), 0.0)
        out += table[patterns[:, c]]
    return out


def _posterior(log_ratio: FloatArray, prior: float) -> FloatArray:
    logit = math.log(prior / (1 - prior)) + log_ratio
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700))), dtype=np.float64)


def _floored(probs: FloatArray) -> list[float]:
    # No level is impossible for the same person: a floor keeps one typo from vetoing a match.
    floored = np.maximum(probs, _M_FLOOR)
    return list(floored / floored.sum())


def fit_m(
    comparisons: list[ComparisonParams],
    gamma: Gamma,
    *,
    iterations: int = 40,
    tolerance: float = 1e-5,
) -> float:
    """EM over candidate pairs: m per level, in place; returns the share of matches.

    u stays what random sampling measured (as in Splink): re-estimating it among candidate
    pairs, which agree on their blocking keys by construction, lets EM call "shares a last
    name" a match and learn absurd weights.
    """
    if len(gamma) == 0 or not comparisons:
        return 0.0
    patterns, counts = _patterns(gamma)
    prior = 0.1
    for _ in range(iterations):
        p = _posterior(_log_ratio(comparisons, patterns), prior)
        w_match = p * counts
        new_prior = float(w_match.sum() / counts.sum())
        delta = abs(new_prior - prior)
        prior = min(max(new_prior, 1e-6), 1 - 1e-6)
        for c, params in enumerate(comparisons):
            n_levels = len(params.levels)
            col = patterns[:, c]
            present = col != NULL
            m_counts = np.bincount(
                col[present].astype(np.int64), weights=w_match[present], minlength=n_levels
            )
            new_m = _floored((m_counts + _SMOOTH / n_levels) / (m_counts.sum() + _SMOOTH))
            delta = max(delta, float(np.abs(np.asarray(new_m) - params.m).max()))
            params.m = new_m
        if delta < tolerance:
            break
    return prior


def fit_prior(
    comparisons: Sequence[ComparisonParams],
    gamma: Gamma,
    total_pairs: float,
    *,
    scale: float = 1.0,
    iterations: int = 100,
) -> float:
    """Chance that two random records match, with m and u held fixed.

    A fixed point over all ``total_pairs`` possible pairs, the pairs blocking never proposed
    counted as non-matches: ``prior = expected matches among candidates / total_pairs``, the
    posteriors computed with that same prior. ``gamma`` may be a sample of the candidates;
    ``scale`` is how many candidates each sampled row stands for.
    """
    if len(gamma) == 0 or total_pairs <= 0:
        return _DEFAULT_PRIOR
    patterns, counts = _patterns(gamma)
    ratio = _log_ratio(comparisons, patterns)
    counts = counts * scale
    prior = min(max(0.1 * counts.sum() / total_pairs, 1e-12), 0.5)
    for _ in range(iterations):
        expected = float((_posterior(ratio, prior) * counts).sum())
        new_prior = min(max(expected / total_pairs, 1e-12), 0.5)
        if abs(math.log(new_prior / prior)) < 1e-4:
            return new_prior
        prior = new_prior
    return prior


def apply_overrides(model: Model, settings: MatchSettings) -> Model:
    """Hand-set m/u from the settings file win over whatever was learned."""
    return _apply_overrides(model, settings)
