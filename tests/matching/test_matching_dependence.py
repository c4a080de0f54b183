"""EM on data with a known answer: the joint pass recovers m and the fields' dependence that
one-rule sessions get wrong, the dependence factor is a proper probability and never rewards a
disagreement, and a model learned without labels auto-merges at the precision it promises."""

from __future__ import annotations

import itertools
import random
import string

import numpy as np

from matching.blocking import block_pairs
from matching.comparisons import level_names
from matching.engine import dedupe, train
from matching.fellegi_sunter import (
    ComparisonParams,
    Model,
    dependence_weights,
    fit_m,
)
from matching.scoring import explain, score_pairs
from matching.settings import settings_for_columns
from matching.table import Table, build_table

KINDS = {"first": "name", "last": "name", "by": "code", "bm": "code", "bd": "code"}
FIRST = [
    "anna", "maria", "thomas", "christa", "andre", "karin", "peter", "julia", "jonas", "lena",
    "felix", "sofia", "lukas", "emma", "paul", "mia", "leon", "clara", "noah", "ida", "elias",
    "greta", "oskar", "frieda", "henrik", "marta", "viktor", "ronja", "anton", "helga",
]  # fmt: skip
LAST = [
    "okafor", "lindqvist", "moreau", "tanaka", "novak", "duarte", "haddad", "kowalski",
    "brenner", "castillo", "dubois", "eriksen", "fischer", "gallo", "horvat", "ivanova",
    "jensen", "keller", "lorenz", "marsh", "nilsen", "ortega", "pereira", "quinn", "rossi",
    "schulz", "takahashi", "ulrich", "vogel", "weber", "yilmaz", "zimmer", "adler", "berger",
]  # fmt: skip


def _typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(len(name))
    return name[:i] + rng.choice(string.ascii_lowercase.replace(name[i], "")) + name[i + 1 :]


def _people(n: int, dup_share: float, seed: int) -> tuple[list[dict[str, str]], list[int]]:
    """n people; a share of them copied once with exactly one field wrong (a typo in a name,
    another value in a date part), as copies typed by hand tend to be."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    person: list[int] = []
    for p in range(n):
        row = {
            "first": rng.choice(FIRST),
            "last": rng.choice(LAST),
            "by": str(rng.randint(1930, 2005)),
            "bm": str(rng.randint(1, 12)),
            "bd": str(rng.randint(1, 28)),
        }
        rows.append(row)
        person.append(p)
        if rng.random() < dup_share:
            copy = dict(row)
            field = rng.choice(list(KINDS))
            if field in ("first", "last"):
                copy[field] = _typo(rng, copy[field])
            else:
                span = {"by": (1930, 2005), "bm": (1, 12), "bd": (1, 28)}[field]
                copy[field] = str(rng.choice([v for v in range(*span) if str(v) != row[field]]))
            rows.append(copy)
            person.append(p)
    return rows, person


def _table(rows: list[dict[str, str]]) -> Table:
    return build_table([str(i) for i in range(len(rows))], rows, list(KINDS))


def _params(kind: str, m: list[float], u: list[float]) -> ComparisonParams:
    return ComparisonParams(name=kind, kind=kind, column=kind, levels=level_names(kind), m=m, u=u)


def test_joint_em_recovers_m_and_the_dependence_of_one_error_copies() -> None:
    """Matches carry at most one wrong field; random pairs are independent. Candidates are the
    pairs agreeing exactly on field 0 or on field 1, as two blocking rules would propose."""
    rng = np.random.default_rng(7)
    u_exact = np.array([0.02, 0.03, 0.01, 0.05, 0.08])
    n_fields = len(u_exact)
    n_pairs, n_matches = 2_000_000, 2000
    non = (rng.random((n_pairs, n_fields)) < u_exact).astype(np.int8)
    matches = np.ones((n_matches, n_fields), dtype=np.int8)
    wrong = rng.random(n_matches) < 0.7
    matches[np.flatnonzero(wrong), rng.integers(0, n_fields, wrong.sum())] = 0
    gamma = np.concatenate((non, matches))
    gamma = gamma[(gamma[:, 0] == 1) | (gamma[:, 1] == 1)]
    comparisons = [_params("exact", [0.5, 0.5], [1 - u, u]) for u in u_exact]

    fitted = fit_m(comparisons, gamma, learn_dependence=True, total_pairs=n_pairs + n_matches)

    true_exact = 1 - 0.7 / n_fields
    for params in comparisons:
        assert abs(params.m[-1] - true_exact) < 0.02
    assert abs(fitted.prior / (n_matches / (n_pairs + n_matches)) - 1) < 0.05
    psi = np.exp2(fitted.dependence)
    # No match has two fields wrong, though independent fields would give ~9% of them.
    assert psi[0] == psi[1] > 1.0
    assert psi[2] < 0.25 * psi[1]
    assert all(a >= b for a, b in itertools.pairwise(fitted.dependence))


def test_dependence_never_rises_with_more_disagreement() -> None:
    """Copies that are either exact or wrong in two fields at once: the raw ratio would make
    two disagreements likelier than one; the learned factor pools them instead."""
    rng = np.random.default_rng(3)
    n_fields = 4
    matches = np.ones((3000, n_fields), dtype=np.int8)
    for row in np.flatnonzero(rng.random(3000) < 0.5):
        matches[row, rng.choice(n_fields, 2, replace=False)] = 0
    comparisons = [_params("exact", [0.2, 0.8], [0.95, 0.05]) for _ in range(n_fields)]
    fitted = fit_m(comparisons, matches, learn_dependence=True)
    assert all(a >= b for a, b in itertools.pairwise(fitted.dependence))


def test_dependence_factor_is_a_probability_for_any_present_fields() -> None:
    comparisons = [
        _params("code", [0.1, 0.2, 0.7], [0.8, 0.15, 0.05]),
        _params("exact", [0.3, 0.7], [0.9, 0.1]),
        _params("exact", [0.05, 0.95], [0.6, 0.4]),
    ]
    dependence = [0.5, 0.5, -2.0, -4.0]
    for missing in (None, 1):
        ranges = [[-1] if c == missing else range(len(p.levels)) for c, p in enumerate(comparisons)]
        gamma = np.array(list(itertools.product(*ranges)), dtype=np.int8)
        match = np.ones(len(gamma))
        for c, params in enumerate(comparisons):
            if c != missing:
                match *= np.asarray(params.m)[gamma[:, c]]
        total = float((match * np.exp2(dependence_weights(comparisons, dependence, gamma))).sum())
        assert abs(total - 1.0) < 1e-9


def test_identical_records_never_score_below_a_copy_with_a_typo() -> None:
    rows, _ = _people(1500, 0.3, seed=11)
    settings = settings_for_columns(KINDS, first_name="first", last_name="last")
    table = _table(rows)
    model = train(settings, table, block_pairs(table, settings.blocking))
    assert model.dependence  # learned
    pair = [
        {"first": "karin", "last": "okafor", "by": "1960", "bm": "3", "bd": "9"},
        {"first": "karin", "last": "okafor", "by": "1960", "bm": "3", "bd": "9"},
        {"first": "karinj", "last": "okafor", "by": "1960", "bm": "3", "bd": "9"},
        {"first": "karin", "last": "okafor", "by": "1960", "bm": "4", "bd": "9"},
    ]
    other = _table(pair)
    rows_l = np.zeros(3, dtype=np.int64)
    rows_r = np.array([1, 2, 3], dtype=np.int64)
    scored = score_pairs(model, settings, other, rows_l, other, rows_r)
    assert scored.weight[0] >= scored.weight[1]
    assert scored.weight[0] >= scored.weight[2]


def test_evidence_adds_up_to_the_match_weight() -> None:
    rows, _ = _people(1500, 0.3, seed=12)
    settings = settings_for_columns(KINDS, first_name="first", last_name="last")
    table = _table(rows)
    result = dedupe(table, settings)
    scored = result.scored
    k = int(np.argmax(scored.probability < 0.99))  # a pair short of exact agreement
    ev = explain(scored, k, result.model, settings)
    parts = ev["prior_weight"] + sum(
        c["weight"] + c.get("tf_adjustment", 0.0) for c in ev["comparisons"]
    )
    parts += ev.get("dependence_weight", 0.0)
    assert abs(parts - ev["match_weight"]) < 0.01
    assert "dependence_weight" in ev


def test_a_model_stored_before_the_dependence_is_retrained() -> None:
    rows, _ = _people(1200, 0.3, seed=13)
    settings = settings_for_columns(KINDS, first_name="first", last_name="last")
    table = _table(rows)
    model = train(settings, table, block_pairs(table, settings.blocking))
    data = model.to_dict()
    assert Model.from_dict(data).dependence == model.dependence
    assert Model.from_dict(data).trained_records == len(rows)
    old = {k: v for k, v in data.items() if k != "dependence"}
    assert Model.from_dict(old).trained_records == 0


def test_auto_merges_keep_the_promised_precision_without_labels() -> None:
    """Learned without labels, the model's 0.99 cut-off merges pairs that are right at least
    99% of the time. Names come from small pools here, so many copies have a look-alike and
    stay below the cut-off: the probability is honest rather than eager."""
    rows, person = _people(4000, 0.2, seed=5)
    settings = settings_for_columns(KINDS, first_name="first", last_name="last")
    result = dedupe(_table(rows), settings)
    truth = np.asarray(person)
    left, right = result.auto_pairs(0.99)  # calibration, whatever the merge threshold
    right_pairs = int((truth[left] == truth[right]).sum())
    copies = len(rows) - len(set(person))
    assert right_pairs / max(len(left), 1) >= 0.99
    assert right_pairs / copies >= 0.35
    # The number of matches the model expects among all pairs is close to the truth.
    expected = result.model.prior * len(rows) * (len(rows) - 1) / 2
    assert abs(expected / copies - 1) < 0.1
