"""Model quality: a typo is told apart from a similar other name, no fuzzy level outweighs an
exact one (even when random pairs never showed it), and a stored model from an older level
layout is retrained rather than misread."""

from __future__ import annotations

import random

import numpy as np

from matching.blocking import block_pairs
from matching.comparisons import compare, level_names
from matching.engine import train
from matching.fellegi_sunter import ComparisonParams, Model, capped, estimate_u, fit_prior
from matching.settings import settings_for_columns
from matching.table import build_table

FIRST = ["anna", "maria", "thomas", "christa", "andre", "karin", "peter", "julia", "jonas"]
LAST = ["okafor", "lindqvist", "moreau", "tanaka", "novak", "duarte", "haddad", "kowalski"]


def _levels(a: list[str], b: list[str]) -> list[str]:
    names = level_names("name")
    out = compare("name", np.array(a, dtype=object), np.array(b, dtype=object))
    return [names[int(v)] for v in out]


def test_one_typo_ranks_above_a_similar_different_name() -> None:
    got = _levels(
        ["thomavs", "karinj", "maria", "andre"], ["thomas", "karin", "marianne", "andreas"]
    )
    assert got == ["one_edit", "one_edit", "jaro_winkler>=0.92", "jaro_winkler>=0.92"]
    # Short names one edit apart are different names, not typos.
    assert _levels(["al"], ["el"]) == ["different"]


def test_capped_keeps_exact_and_caps_the_fuzzy_levels_at_it() -> None:
    got = capped(np.array([-3.0, 9.5, 2.0, 6.0]))
    assert got.tolist() == [-3.0, 6.0, 2.0, 6.0]


def test_level_never_seen_among_random_pairs_weighs_at_most_exact() -> None:
    rng = random.Random(3)
    rows = [{"first": rng.choice(FIRST), "last": rng.choice(LAST)} for _ in range(400)]
    table = build_table([str(i) for i in range(len(rows))], rows, ["first", "last"])
    params = ComparisonParams(
        name="first",
        kind="name",
        column="first",
        levels=level_names("name"),
        m=[0.02, 0.02, 0.02, 0.02, 0.42, 0.5],
        u=[0.9, 0.02, 0.02, 0.02, 0.02, 0.02],
    )
    estimate_u([params], table)
    nickname = params.levels.index("nickname")
    # No two of these first names are nicknames of each other: u rests on smoothing alone.
    raw = np.log2(np.asarray(params.m) / np.asarray(params.u))
    assert raw[nickname] > raw[-1]
    assert params.weights()[nickname] == params.weights()[-1]
    assert params.weights()[0] == raw[0]


def test_em_sees_the_same_capped_weights_as_scoring() -> None:
    params = ComparisonParams(
        name="first",
        kind="name",
        column="first",
        levels=level_names("name"),
        m=[0.01, 0.01, 0.01, 0.01, 0.46, 0.5],
        u=[0.97, 0.01, 0.01, 0.01, 1e-6, 0.01 - 1e-6],
    )
    nickname = np.array([[params.levels.index("nickname")]], dtype=np.int8)
    exact = np.array([[len(params.levels) - 1]], dtype=np.int8)
    # The prior a fixed point finds is the same whether the pair agrees exactly or by
    # nickname: the nickname level's huge raw ratio does not leak into EM.
    assert fit_prior([params], nickname, 1000.0) == fit_prior([params], exact, 1000.0)


def test_stale_stored_model_counts_as_untrained() -> None:
    kinds = {"first": "name", "last": "name"}
    settings = settings_for_columns(kinds, first_name="first", last_name="last")
    rng = random.Random(5)
    rows = [{"first": rng.choice(FIRST), "last": rng.choice(LAST)} for _ in range(300)]
    table = build_table([str(i) for i in range(len(rows))], rows, ["first", "last"])
    model = train(settings, table, block_pairs(table, settings.blocking), learn_m=False)
    data = model.to_dict()
    assert Model.from_dict(data).trained_records == 300
    old = {**data, "comparisons": [dict(c) for c in data["comparisons"]]}
    old["comparisons"][0]["levels"] = [
        "different",
        "jaro_winkler>=0.80",
        "jaro_winkler>=0.92",
        "nickname",
        "exact",
    ]
    assert Model.from_dict(old).trained_records == 0
