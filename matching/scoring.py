"""Score candidate pairs and explain each score from its comparison vector.

The total match weight is the prior's log-odds plus one weight per comparison (its level's
``log2(m/u)``; 0 when a value is missing), with the term-frequency adjustment added on exact
matches and the dependence weight (how the count of fields short of exact agreement fits the
way the same person's records differ, see ``fellegi_sunter``). A deterministic key (equal
normalized email) decides on its own: probability 1.
``explain`` turns one pair back into the evidence stored with a link.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from matching.comparisons import NULL
from matching.fellegi_sunter import (
    ComparisonParams,
    Gamma,
    Model,
    comparison_vectors,
    dependence_weights,
)
from matching.settings import MatchSettings
from matching.table import Table

__all__ = ["Decision", "Scored", "decide", "explain", "score_pairs"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Decision = Literal["auto_merge", "review", "distinct"]
_TF_CLIP = 6.0


@dataclass
class Scored:
    """Scored pairs ``(left[k], right[k])`` with everything needed to explain them."""

    left: IntArray
    right: IntArray
    gamma: Gamma
    tf_adjust: FloatArray  # (pairs x comparisons), 0 where no adjustment applies
    dependence: FloatArray  # per pair, 0 when the model treats fields as independent
    weight: FloatArray
    probability: FloatArray
    deterministic: npt.NDArray[np.bool_]
    rules: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.left)


def _tf_level(
    table: dict[str, float], values: npt.NDArray[np.object_], rows: IntArray
) -> FloatArray:
    """log2(average / frequency): an agreement on a common value says less than on a rare one."""
    floor = min(table.values())
    # Chance that two random records agree on a value: what the level's u already implies.
    average = float(sum(f * f for f in table.values()))
    freqs = np.fromiter(
        (table.get(v, floor) for v in values[rows]), dtype=np.float64, count=len(rows)
    )
    return np.clip(np.log2(average / freqs), -_TF_CLIP, _TF_CLIP)


def _tf_adjust(model: Model, gamma: Gamma, values: list[npt.NDArray[np.object_]]) -> FloatArray:
    adjust = np.zeros(gamma.shape, dtype=np.float64)
    for c, params in enumerate(model.comparisons):
        top = len(params.levels) - 1
        table = model.tf_tables.get(params.column)
        if params.tf and table:
            rows = np.flatnonzero(gamma[:, c] == top)
            if len(rows):
                adjust[rows, c] = _tf_level(table, values[c], rows)
    return adjust


def score_pairs(
    model: Model,
    settings: MatchSettings,
    left: Table,
    left_rows: IntArray,
    right: Table,
    right_rows: IntArray,
    rules: npt.NDArray[np.uint32] | None = None,
) -> Scored:
    """Comparison vectors, weights and match probabilities of candidate pairs."""
    gamma = comparison_vectors(model.comparisons, left, left_rows, right, right_rows)
    values = [left.column(p.column)[left_rows] for p in model.comparisons]
    adjust = _tf_adjust(model, gamma, values)
    weight = np.full(len(left_rows), model.prior_weight, dtype=np.float64)
    for c, params in enumerate(model.comparisons):
        table = np.append(params.weights(), 0.0)  # index -1 (missing) -> 0
        weight += table[gamma[:, c]]
    weight += adjust.sum(axis=1)
    dependence = dependence_weights(model.comparisons, model.dependence, gamma)
    weight += dependence
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    deterministic = np.zeros(len(left_rows), dtype=bool)
    for column in settings.deterministic:
        for c, params in enumerate(model.comparisons):
            if params.column == column:
                deterministic |= gamma[:, c] == len(params.levels) - 1
    probability = np.where(deterministic, 1.0, probability)
    return Scored(
        left=left_rows,
        right=right_rows,
        gamma=gamma,
        tf_adjust=adjust,
        dependence=dependence,
        weight=weight,
        probability=probability,
        deterministic=deterministic,
        rules=rules if rules is not None else np.zeros(len(left_rows), dtype=np.uint32),
    )


def decide(probability: float, settings: MatchSettings) -> Decision:
    if probability >= settings.thresholds.auto_merge:
        return "auto_merge"
    if probability >= settings.thresholds.review:
        return "review"
    return "distinct"


def explain(
    scored: Scored,
    k: int,
    model: Model,
    settings: MatchSettings,
    shared: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The evidence of pair ``k``: keys that agreed, each comparison's level and weight.

    With ``shared``, pairs with the same comparison levels and adjustments get the same
    (read-only) ``comparisons``, ``keys`` and ``blocked_by`` objects: a million records'
    evidence would otherwise hold millions of identical small dicts.
    """
    memo: dict[Any, Any] = {} if shared is None else shared
    row = (scored.gamma[k].tobytes(), scored.tf_adjust[k].tobytes())
    parts = memo.get(row)
    if parts is None:
        parts = memo[row] = _comparisons(scored, k, model, settings, memo)
    comparisons, keys = parts
    rule_bits = int(scored.rules[k])
    rules = memo.get(("rules", rule_bits))
    if rules is None:
        rules = [r.name for b, r in enumerate(settings.blocking) if rule_bits >> b & 1]
        memo[("rules", rule_bits)] = rules
    probability = float(scored.probability[k])
    out = {
        "keys": keys,
        "blocked_by": rules,
        "prior_weight": round(model.prior_weight, 3),
        "comparisons": comparisons,
        "match_weight": round(float(scored.weight[k]), 3),
        "score": probability if math.isfinite(probability) else 0.0,
        "decision": decide(probability, settings),
    }
    dependence = float(scored.dependence[k])
    if dependence:
        out["dependence_weight"] = round(dependence, 3)
    return out


def _comparisons(
    scored: Scored, k: int, model: Model, settings: MatchSettings, memo: dict[Any, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pair ``k``'s comparison items (each one shared through ``memo``) and agreeing keys."""
    comparisons: list[dict[str, Any]] = []
    keys: list[str] = []
    for c, params in enumerate(model.comparisons):
        level = int(scored.gamma[k, c])
        tf = float(scored.tf_adjust[k, c])
        item_key = ("item", c, level, tf)
        item = memo.get(item_key)
        if item is None:
            item = memo[item_key] = _item(params, level, tf)
        comparisons.append(item)
        if (
            level != NULL
            and params.column in settings.deterministic
            and level == len(params.levels) - 1
        ):
            keys.append(params.column)
    return comparisons, keys


def _item(params: ComparisonParams, level: int, tf: float) -> dict[str, Any]:
    if level == NULL:
        return {"name": params.name, "level": "missing", "weight": 0.0}
    item: dict[str, Any] = {
        "name": params.name,
        "level": params.levels[level],
        "weight": round(float(params.weights()[level]), 3),
    }
    if tf:
        item["tf_adjustment"] = round(tf, 3)
    return item
