"""The probabilistic engine end to end on a table: block, learn, score, cluster.

``dedupe`` finds the people inside one set of records; ``link`` finds them across two sets
(pairs inside one set are not proposed). Both learn their weights from the data unless a
model is given, and both are pure: the same table gives the same pairs and clusters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching.blocking import Pairs, block_pairs
from matching.cluster import cluster
from matching.fellegi_sunter import (
    ComparisonParams,
    Gamma,
    Model,
    apply_overrides,
    comparison_vectors,
    default_model,
    estimate_u,
    fit_m,
    fit_prior,
    term_frequencies,
)
from matching.keys import parse_key
from matching.scoring import Scored, score_pairs
from matching.settings import BlockingRule, MatchSettings
from matching.table import Table

__all__ = ["Resolution", "dedupe", "link", "tf_columns", "train"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
_EM_SAMPLE = 1_000_000
_MIN_SESSION_PAIRS = 50


@dataclass
class Resolution:
    """Cluster label per row (smallest row of its cluster), the scored pairs, the model."""

    labels: IntArray
    scored: Scored
    model: Model

    def auto_pairs(self, threshold: float) -> tuple[IntArray, IntArray]:
        keep = self.scored.probability >= threshold
        return self.scored.left[keep], self.scored.right[keep]


def _rule_columns(rule: BlockingRule) -> set[str]:
    return {parse_key(k)[1] for k in rule.keys}


def _sample(rows: IntArray, limit: int, seed: int) -> IntArray:
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def _total_pairs(n: int, labels: npt.NDArray[np.int8] | None) -> float:
    if labels is not None:
        ones = int(np.count_nonzero(labels == 1))
        return float(ones * (n - ones))
    return n * (n - 1) / 2.0


def train(
    settings: MatchSettings,
    table: Table,
    pairs: Pairs,
    *,
    labels: npt.NDArray[np.int8] | None = None,
    seed: int = 0,
    learn_m: bool = True,
) -> Model:
    """Learn u, m and the prior from ``table`` and its candidate pairs, without labels.

    u comes from random pairs. m starts from one EM session per blocking rule, each over the
    rule's own pairs and blind to the columns the rule blocks on (those agree by
    construction, so they cannot teach what a match looks like); a comparison's m is the mean
    over the sessions that could see it, as Splink does. Each session only sees matches that
    agree on its rule, though, so when a copy carries few errors it sees the *other* fields
    wrong more often than they are. A joint EM over every training rule's pairs, all fields
    visible, then refines m from that start and learns how the fields' errors go together
    (the dependence factor): a match missed by one rule comes in through another, so no field
    is forced to agree. The prior is the expected number of matches among the candidates over
    the number of all possible pairs. ``learn_m=False`` keeps the generic m (too few records
    for EM) and still measures u and the prior.
    """
    model = default_model(settings)
    if labels is not None:
        left = table.take(np.flatnonzero(labels == 0))
        right = table.take(np.flatnonzero(labels == 1))
        estimate_u(model.comparisons, left, right, seed=seed)
    else:
        estimate_u(model.comparisons, table, seed=seed)
    total = max(_total_pairs(len(table), labels), 1.0)
    rows = _sample(np.arange(len(pairs)), _EM_SAMPLE, seed)
    gamma = comparison_vectors(model.comparisons, table, pairs.left[rows], table, pairs.right[rows])
    scale = len(pairs) / max(len(rows), 1)
    if learn_m:
        _learn_m(settings, model, table, pairs, seed)
        _learn_joint(settings, model, gamma, pairs.rules[rows], total, scale)
    apply_overrides(model, settings)
    model.prior = fit_prior(
        model.comparisons, gamma, total, scale=scale, dependence=model.dependence
    )
    expected = model.prior * total
    model.trained_on = len(pairs)
    model.trained_records = len(table)
    model.tf_tables = term_frequencies([table], tf_columns(model))
    logger.info(
        "trained on %d records, %d pairs: ~%.0f matches, prior weight %.2f",
        len(table),
        len(pairs),
        expected,
        model.prior_weight,
    )
    return model


def _learn_m(settings: MatchSettings, model: Model, table: Table, pairs: Pairs, seed: int) -> None:
    sums: list[np.ndarray | None] = [None] * len(model.comparisons)
    seen = [0] * len(model.comparisons)
    for bit, rule in enumerate(settings.blocking):
        if rule not in settings.training_rules:
            continue
        rows = np.flatnonzero((pairs.rules >> np.uint32(bit)) & np.uint32(1))
        if len(rows) < _MIN_SESSION_PAIRS:
            continue
        rows = _sample(rows, _EM_SAMPLE, seed + bit)
        blind = _rule_columns(rule)
        active = [c for c, p in enumerate(model.comparisons) if p.column not in blind]
        if not active:
            continue
        session = [
            ComparisonParams(**{**model.comparisons[c].__dict__, "m": list(model.comparisons[c].m)})
            for c in active
        ]
        gamma = comparison_vectors(session, table, pairs.left[rows], table, pairs.right[rows])
        share = fit_m(session, gamma).share
        logger.info("EM session %s: %d pairs, %.3f matches", rule.name, len(rows), share)
        for c, params in zip(active, session, strict=True):
            m = np.asarray(params.m)
            sums[c] = m if sums[c] is None else sums[c] + m
            seen[c] += 1
    for c, params in enumerate(model.comparisons):
        total = sums[c]
        if total is not None:
            params.m = list(total / seen[c])


def _learn_joint(
    settings: MatchSettings,
    model: Model,
    gamma: Gamma,
    rules: npt.NDArray[np.uint32],
    total: float,
    scale: float,
) -> None:
    """m (from the sessions' start) and the dependence, over the sampled candidates that a
    training rule proposed (``scale`` candidates per row), the prior over ``total`` pairs."""
    bits = np.uint32(0)
    for bit, rule in enumerate(settings.blocking):
        if rule in settings.training_rules:
            bits |= np.uint32(1) << np.uint32(bit)
    rows = np.flatnonzero(rules & bits)
    if len(rows) < _MIN_SESSION_PAIRS:
        return
    fitted = fit_m(
        model.comparisons, gamma[rows], learn_dependence=True, total_pairs=total, scale=scale
    )
    model.dependence = fitted.dependence
    logger.info(
        "joint EM: %d pairs, %.4f matches, dependence %s",
        len(rows),
        fitted.share,
        [round(d, 2) for d in fitted.dependence],
    )


def tf_columns(model: Model) -> list[str]:
    """Columns (and derived keys) whose value frequencies adjust exact matches."""
    out: list[str] = []
    for c in model.comparisons:
        if c.tf:
            out.append(c.column)
    return out


def _resolve(
    table: Table,
    settings: MatchSettings,
    model: Model | None,
    labels: npt.NDArray[np.int8] | None,
) -> Resolution:
    pairs = block_pairs(
        table,
        settings.blocking,
        max_block=settings.max_block,
        labels=labels,
        keep="cross" if labels is not None else "all",
    )
    logger.info("%d records, %d candidate pairs", len(table), len(pairs))
    if model is None:
        model = train(settings, table, pairs, labels=labels)
    elif not model.tf_tables:
        model.tf_tables = term_frequencies([table], tf_columns(model))
    scored = score_pairs(model, settings, table, pairs.left, table, pairs.right, pairs.rules)
    auto = scored.probability >= settings.thresholds.auto_merge
    clusters, _ = cluster(len(table), scored.left[auto], scored.right[auto], scored.weight[auto])
    return Resolution(labels=clusters, scored=scored, model=model)


def dedupe(table: Table, settings: MatchSettings, model: Model | None = None) -> Resolution:
    """People inside one table."""
    return _resolve(table, settings, model, None)


def link(
    left: Table, right: Table, settings: MatchSettings, model: Model | None = None
) -> Resolution:
    """People across two tables (rows of ``right`` follow those of ``left`` in the result)."""
    labels = np.concatenate(
        (np.zeros(len(left), dtype=np.int8), np.ones(len(right), dtype=np.int8))
    )
    return _resolve(Table.concat([left, right]), settings, model, labels)
