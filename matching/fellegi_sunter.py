"""Fellegi-Sunter weights: m and u per comparison level, learned without labels.

u (how often two *different* people agree at a level) is measured on random pairs, where
almost every pair is a non-match, and then held fixed. m (how often the *same* person agrees)
is learned by expectation-maximisation over candidate pairs' comparison vectors, compressed
to their distinct patterns so that millions of pairs cost a few thousand rows per iteration.
The prior is the chance that two *random* records match (not two candidates: agreeing on a
blocking key is already counted in the weights). Hand-set values from the settings file
override what was learned. A pair's match weight is ``log2(prior odds) + sum(log2(m/u))``,
plus a term-frequency adjustment on exact matches of rare or common values, plus the
dependence weight below.

The same person's fields are not independent: a copy of a record usually carries few errors,
so "exactly one field off" is far more common among matches, and "three fields off" far
rarer, than the product of the per-field m says. The match side therefore has one more
factor, ``psi(k)`` for ``k`` present fields short of exact agreement, learned by the same EM
and normalised per set of present fields so that it stays a probability. ``psi`` never rises
with ``k``: one more disagreement is never evidence *for* a match.
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
    "Fitted",
    "Model",
    "apply_overrides",
    "capped",
    "comparison_vectors",
    "default_model",
    "dependence_weights",
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
    # log2 psi(k) per number k of present fields short of exact; empty: fields independent.
    dependence: list[float] = field(default_factory=list)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "trained_on": self.trained_on,
            "trained_records": self.trained_records,
            "dependence": self.dependence,
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
        comparison levels with another release's weights. A model stored before fields'
        dependence was learned is retrained too.
        """
        model = cls._from_dict(data)
        stale = [c.name for c in model.comparisons if c.levels != level_names(c.kind)]
        if stale:
            logger.warning("stored model has outdated levels for %s: retraining", stale)
            model.trained_records = 0
        elif "dependence" not in data:
            logger.warning("stored model predates the dependence of fields: retraining")
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
            dependence=[float(x) for x in data.get("dependence", [])],
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


def _shortfall(comparisons: Sequence[ComparisonParams], gamma: Gamma) -> tuple[IntArray, IntArray]:
    """Per row: how many present fields fall short of exact, and the present fields as bits."""
    tops = np.asarray([len(p.levels) - 1 for p in comparisons], dtype=np.int8)
    present = gamma != NULL
    short = ((gamma != tops) & present).sum(axis=1).astype(np.int64)
    bits = np.left_shift(np.int64(1), np.arange(gamma.shape[1], dtype=np.int64))
    return short, (present.astype(np.int64) * bits).sum(axis=1)


def _independent_shortfall(exact: FloatArray, mask: int) -> FloatArray:
    """Chance of k fields short of exact (index k) among the fields in ``mask``, if the
    fields were independent: ``exact[c]`` is field c's m at its exact level."""
    dist = np.ones(1)
    for c, e in enumerate(exact):
        if mask >> c & 1:
            dist = np.convolve(dist, [e, 1.0 - e])
    out = np.zeros(len(exact) + 1)
    out[: len(dist)] = dist
    return out


def dependence_weights(
    comparisons: Sequence[ComparisonParams], dependence: Sequence[float], gamma: Gamma
) -> FloatArray:
    """log2 of each pair's dependence factor ``psi(k) / Z``: 0 when fields are independent.

    ``Z`` sums ``psi`` over what independent fields would give for the same present fields,
    so the match side stays a probability whichever fields a pair is missing.
    """
    if not len(dependence) or not len(gamma):
        return np.zeros(len(gamma))
    log_psi = np.asarray(dependence, dtype=np.float64)
    short, mask = _shortfall(comparisons, gamma)
    exact = np.asarray([p.m[-1] for p in comparisons], dtype=np.float64)
    masks, inverse = np.unique(mask, return_inverse=True)
    log_z = np.array(
        [math.log2(float(_independent_shortfall(exact, int(b)) @ np.exp2(log_psi))) for b in masks]
    )
    return np.asarray(log_psi[short] - log_z[inverse.reshape(-1)], dtype=np.float64)


def _log_ratio(
    comparisons: Sequence[ComparisonParams],
    patterns: Gamma,
    dependence: Sequence[float] = (),
) -> FloatArray:
    """Natural-log m/u ratio of each pattern, capped as in scoring (missing adds nothing)."""
    out = np.zeros(len(patterns))
    for c, params in enumerate(comparisons):
        # Index -1 (null) lands on the appended 0: a missing value says nothing.
        table = np.append(params.weights() * math.log(2.0), 0.0)
        out += table[patterns[:, c]]
    return out + dependence_weights(comparisons, dependence, patterns) * math.log(2.0)


def _posterior(log_ratio: FloatArray, prior: float) -> FloatArray:
    logit = math.log(prior / (1 - prior)) + log_ratio
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700))), dtype=np.float64)


def _floored(probs: FloatArray) -> list[float]:
    # No level is impossible for the same person: a floor keeps one typo from vetoing a match.
    floored = np.maximum(probs, _M_FLOOR)
    return list(floored / floored.sum())


def _non_increasing(values: FloatArray, weights: FloatArray) -> FloatArray:
    """The weighted least-squares non-increasing fit of ``values`` (pool adjacent violators)."""
    blocks: list[tuple[float, float, int]] = []  # (weighted sum, weight, length)
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append((v * w, w, 1))
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] < blocks[-1][0] * blocks[-2][1]:
            s2, w2, n2 = blocks.pop()
            s1, w1, n1 = blocks.pop()
            blocks.append((s1 + s2, w1 + w2, n1 + n2))
    return np.concatenate([np.full(n, s / w) for s, w, n in blocks])


def _fit_dependence(
    comparisons: Sequence[ComparisonParams], short: IntArray, mask: IntArray, w_match: FloatArray
) -> list[float]:
    """log2 psi(k): how much likelier the matches' count of fields short of exact is than
    independent fields (with the current m) predict, floored like m and never rising in k."""
    total = float(w_match.sum())
    n = len(comparisons)
    if total <= 0:
        return []
    exact = np.asarray([p.m[-1] for p in comparisons], dtype=np.float64)
    masks, inverse = np.unique(mask, return_inverse=True)
    per_mask = np.bincount(inverse.reshape(-1), weights=w_match, minlength=len(masks))
    expected = sum(
        (w * _independent_shortfall(exact, int(b)) for b, w in zip(masks, per_mask, strict=True)),
        start=np.zeros(n + 1),
    )
    expected = expected / total
    possible = np.flatnonzero(expected > 1e-12)
    observed = np.bincount(short, weights=w_match, minlength=n + 1)[possible] / total
    observed = np.maximum(observed, _M_FLOOR)
    observed /= observed.sum()
    ratio = _non_increasing(observed / expected[possible], expected[possible])
    psi = np.full(n + 1, ratio[-1])  # counts no pair can reach keep the last (lowest) value
    psi[possible] = ratio
    return [float(x) for x in np.log2(psi)]


@dataclass
class Fitted:
    """What one EM run learned besides m: the share of matches among the pairs it saw, the
    prior (when it ran over all possible pairs) and, if asked, log2 psi."""

    share: float
    prior: float
    dependence: list[float]


def fit_m(
    comparisons: list[ComparisonParams],
    gamma: Gamma,
    *,
    learn_dependence: bool = False,
    total_pairs: float | None = None,
    scale: float = 1.0,
    iterations: int = 60,
    tolerance: float = 1e-5,
) -> Fitted:
    """EM over candidate pairs: m per level, in place (and the fields' dependence if asked).

    u stays what random sampling measured (as in Splink): re-estimating it among candidate
    pairs, which agree on their blocking keys by construction, lets EM call "shares a last
    name" a match and learn absurd weights. The share of matches is free among the pairs of
    one blocking rule (a session). With ``total_pairs`` the pairs are the candidates of many
    rules (``scale`` candidates per row), and the prior is the one of all possible pairs, as
    in ``fit_prior``: a free share would let a rule that proposes many pairs ("same birth
    year") pass for what matches have in common.
    """
    if len(gamma) == 0 or not comparisons:
        return Fitted(0.0, _DEFAULT_PRIOR, [])
    patterns, counts = _patterns(gamma)
    short, mask = _shortfall(comparisons, patterns)
    dependence: list[float] = []
    # Over all pairs the prior starts where m and u as they are put it (the fixed point).
    free = total_pairs is None
    prior = 0.1 if total_pairs is None else fit_prior(comparisons, gamma, total_pairs, scale=scale)
    share = prior
    for _ in range(iterations):
        p = _posterior(_log_ratio(comparisons, patterns, dependence), prior)
        w_match = p * counts
        share = float(w_match.sum() / counts.sum())
        new_prior = share if free else float(w_match.sum()) * scale / (total_pairs or 1.0)
        delta = abs(math.log(max(new_prior, 1e-12) / prior))
        prior = min(max(new_prior, 1e-12), 1 - 1e-6)
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
        if learn_dependence:
            new_dep = _fit_dependence(comparisons, short, mask, w_match)
            if len(dependence) == len(new_dep):
                change = np.abs(np.exp2(new_dep) - np.exp2(dependence)).max(initial=0.0)
                delta = max(delta, float(change))
            else:
                delta = max(delta, 1.0)
            dependence = new_dep
        if delta < tolerance:
            break
    return Fitted(share, prior, dependence)


def fit_prior(
    comparisons: Sequence[ComparisonParams],
    gamma: Gamma,
    total_pairs: float,
    *,
    scale: float = 1.0,
    iterations: int = 100,
    dependence: Sequence[float] = (),
) -> float:
    """Chance that two random records match, with m, u and the dependence held fixed.

    A fixed point over all ``total_pairs`` possible pairs, the pairs blocking never proposed
    counted as non-matches: ``prior = expected matches among candidates / total_pairs``, the
    posteriors computed with that same prior. ``gamma`` may be a sample of the candidates;
    ``scale`` is how many candidates each sampled row stands for.
    """
    if len(gamma) == 0 or total_pairs <= 0:
        return _DEFAULT_PRIOR
    patterns, counts = _patterns(gamma)
    ratio = _log_ratio(comparisons, patterns, dependence)
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
