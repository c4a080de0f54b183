"""Matching at scale, through the flow's own path (``matching.probabilistic``), not the batch
engine: how long one new record (and 1,000) takes against a large golden set, and what an
initial load of 50k records costs end to end (map, train, match, survivorship).

The data is the seeded world: golden records are built from the HubSpot contacts (as a
first sync would leave them), the new records are the Mailchimp members (a tool connected
later), which hold both known people and people HubSpot never saw.
"""

from __future__ import annotations

import logging
import random
import resource
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from mappings.spec import MappedRecord

__all__ = ["CHUNK_PEOPLE", "end_to_end", "latency", "seeded_records", "world_records"]

logger = logging.getLogger(__name__)

SEED = 11


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seeded_records(
    people: int, tools: tuple[str, ...], *, seed: int = SEED, entity: str = "person"
) -> tuple[list[MappedRecord], dict[str, str]]:
    """The world's ``entity`` records of ``tools``, mapped as the flow maps them, and the
    truth (record key -> person or organization id)."""
    from mappings.errors import MappingError
    from mappings.spec import load_mapping, to_unified
    from sandbox.world import generate_world

    world = generate_world(people, seed, tools=tools)
    records: list[MappedRecord] = []
    truth: dict[str, str] = {}
    for tool in tools:
        mapping = load_mapping(tool, entity)
        for raw in world.seeds[tool].streams[mapping.stream]:
            if tool == "hubspot":
                raw = {"id": raw["hs_object_id"], "properties": dict(raw)}
            try:
                rec = to_unified(mapping, raw)
            except MappingError:
                continue
            records.append(rec)
            truth[rec.key] = world.truth[f"{tool}:{mapping.stream}:{rec.record_id}"]
    return records, truth


CHUNK_PEOPLE = 125_000


def world_records(people: int) -> tuple[list[MappedRecord], dict[str, str]]:
    """HubSpot and Mailchimp records of ``people``, generated as seeded worlds of at most
    ``CHUNK_PEOPLE`` (the generator's working memory stays that of one chunk). Chunks after
    the first get their own record ids and email addresses: separate worlds reuse addresses
    for different people, which one larger world would not."""
    records: list[MappedRecord] = []
    truth: dict[str, str] = {}
    c = 0
    while people > 0:
        part, part_truth = seeded_records(min(people, CHUNK_PEOPLE), _TOOLS, seed=SEED + c)
        for rec in part:
            person = part_truth[rec.key]
            # Matching and survivorship never read the raw vendor payload (most of a mapped
            # record's memory at 1M records): it is not kept here.
            update: dict[str, Any] = {"raw": {}}
            if c:
                values = dict(rec.values)
                if values.get("email"):
                    values["email"] = f"w{c}.{values['email']}"
                update.update(record_id=f"{c}-{rec.record_id}", values=values)
            rec = rec.model_copy(update=update)
            records.append(rec)
            truth[rec.key] = f"{c}-{person}"
        del part, part_truth
        people -= CHUNK_PEOPLE
        c += 1
    return records, truth


_TOOLS = ("hubspot", "mailchimp")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _index_bytes(index: Any) -> int:
    """What the golden index holds: column arrays, each distinct string once, the key arrays."""
    seen: set[int] = set()
    total = index.index.nbytes + sys.getsizeof(index.uids)
    for column in index.table.columns.values():
        total += column.nbytes
        for value in column:
            if id(value) not in seen:
                seen.add(id(value))
                total += sys.getsizeof(value)
    for uid in index.uids:
        total += sys.getsizeof(uid)
    return total


def _reset_peak() -> None:
    """Restart the kernel's high-water mark (VmHWM), so the next peak excludes making the data."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        logger.warning("cannot reset the peak RSS: the stage peak includes earlier stages")


def _stage_peak_mib() -> float:
    """Peak resident memory since ``_reset_peak`` (VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _peak_mib()


def _rss_mib() -> float:
    """Current resident memory (the peak above includes generating the test data)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _goldens(
    goldens: int, keep_queries: int
) -> tuple[
    dict[str, dict[str, str | None]],
    dict[tuple[str, str], str],
    list[MappedRecord],
    dict[str, str | None],
]:
    """Golden values, links, Mailchimp queries and their expected golden, built in chunks.

    Each chunk is its own seeded world (people prefixed by chunk), so a million goldens
    never hold a million people's raw tool records in memory at once.
    """
    from mappings.survivorship import golden_from_scratch, load_rules

    rules = load_rules()
    golden: dict[str, dict[str, str | None]] = {}
    links: dict[tuple[str, str], str] = {}
    queries: list[MappedRecord] = []
    expected: dict[str, str | None] = {}
    chunk, c = _CHUNK_GOLDENS, 0
    while len(golden) < goldens:
        want = min(chunk, goldens - len(golden))
        records, truth = seeded_records(
            int(want / 0.8) + 1, ("hubspot", "mailchimp"), seed=SEED + c
        )
        by_person: dict[str, list[MappedRecord]] = defaultdict(list)
        for rec in records:
            if rec.tool == "hubspot":
                by_person[truth[rec.key]].append(rec)
        persons = sorted(by_person)[:want]
        for p in persons:
            uid = f"g{c}-{p}"
            values = dict(golden_from_scratch(by_person[p], rules).values)
            if c and values.get("email"):
                # Separate seeded worlds reuse addresses for different people: keep each
                # chunk's emails its own, or a query would "match" another world's person.
                values["email"] = f"w{c}.{values['email']}"
            golden[uid] = values
            for r in by_person[p]:
                links[(r.tool, f"{c}-{r.record_id}")] = uid
        if len(queries) < keep_queries:
            chosen = set(persons)
            for rec in records:
                if rec.tool == "mailchimp" and len(queries) < keep_queries:
                    queries.append(rec)
                    person = truth[rec.key]
                    expected[rec.key] = f"g{c}-{person}" if person in chosen else None
        del records, truth, by_person
        c += 1
    random.Random(SEED).shuffle(queries)
    return golden, links, queries, expected


_CHUNK_GOLDENS = 100_000


def latency(goldens: int, *, singles: int = 200, batches: int = 5) -> dict[str, Any]:
    """p50/p95 of matching 1 record and 1,000 records against ``goldens`` golden records."""
    from matching.model import KnownIndex
    from matching.probabilistic import GoldenIndex, prepare_model, resolve
    from matching.settings import load_settings

    started = time.perf_counter()
    settings = load_settings("person")
    golden, links, queries, golden_of = _goldens(goldens, singles + batches * 1000)
    prepared = time.perf_counter() - started
    data_peak = _peak_mib()
    _reset_peak()

    t0 = time.perf_counter()
    known = KnownIndex.build(golden, links)
    del golden, links
    t_known = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = GoldenIndex.build(known.golden, settings)
    t_index = time.perf_counter() - t0
    index_mib = _index_bytes(index) / 2**20
    t0 = time.perf_counter()
    model, _ = prepare_model(queries[:1000], known, None, settings=settings)
    t_train = time.perf_counter() - t0

    one: list[float] = []
    correct = wrong = known_people = 0
    for rec in queries[:singles]:
        t0 = time.perf_counter()
        [result] = resolve([rec], known, model=model, golden_index=index, settings=settings)
        one.append(time.perf_counter() - t0)
        expected = golden_of.get(rec.key)
        if not result.created and result.unified_id != expected:
            wrong += 1  # merged into another person's golden record
        elif expected is not None and result.unified_id == expected:
            correct += 1
        known_people += expected is not None
    thousand: list[float] = []
    for b in range(batches):
        batch = queries[singles + b * 1000 : singles + (b + 1) * 1000]
        if len(batch) < 1000:
            break
        t0 = time.perf_counter()
        resolve(batch, known, model=model, golden_index=index, settings=settings)
        thousand.append(time.perf_counter() - t0)
    n = len(index.uids)
    return {
        "goldens": n,
        "setup_s": prepared,
        "known_index_s": t_known,
        "golden_index_s": t_index,
        "train_s": t_train,
        "one_p50_ms": 1000 * statistics.median(one),
        "one_p95_ms": 1000 * _pct(one, 0.95),
        "thousand_p50_s": statistics.median(thousand) if thousand else float("nan"),
        "thousand_p95_s": _pct(thousand, 0.95) if thousand else float("nan"),
        "singles_correct": correct,
        "singles_wrong_merge": wrong,
        "singles": len(one),
        "singles_known": known_people,
        "rss_mib": _rss_mib(),
        "matching_peak_mib": _stage_peak_mib(),
        "golden_index_mib": index_mib,
        "golden_index_bytes_per_record": index_mib * 2**20 / max(n, 1),
        "peak_mib": max(data_peak, _peak_mib()),
    }


def end_to_end(records_target: int) -> dict[str, Any]:
    """An initial load of ``records_target`` records: map, train, match, survivorship."""
    from bench.matching import score
    from mappings.survivorship import load_rules, merge
    from matching.model import KnownIndex
    from matching.probabilistic import prepare_model, resolve

    people = int(records_target / 1.45) + 1  # ~1.5 HubSpot+Mailchimp records per person
    t0 = time.perf_counter()
    records, truth = world_records(people)
    records = records[:records_target]
    t_map = time.perf_counter() - t0  # world generation + to_unified
    data_mib, data_peak = _rss_mib(), _peak_mib()
    _reset_peak()
    known = KnownIndex.build({}, {})
    t0 = time.perf_counter()
    model, _ = prepare_model(records, known, None)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    matches = resolve(records, known, model=model)
    t_match = time.perf_counter() - t0
    match_peak = _stage_peak_mib()  # training and matching (blocking, scoring, evidence)
    t0 = time.perf_counter()
    contributions: dict[str, list[MappedRecord]] = defaultdict(list)
    for m in matches:
        contributions[m.unified_id].append(m.record)
    rules = load_rules()
    goldens = {uid: merge(None, recs, rules) for uid, recs in contributions.items()}
    t_merge = time.perf_counter() - t0
    n_goldens = len(goldens)
    del goldens  # survivorship is done: scoring the clusters need not stack on the goldens
    clusters = [[r.key for r in recs] for recs in contributions.values()]
    del contributions, matches
    quality = score(clusters, {r.key: truth[r.key] for r in records})
    total = t_train + t_match + t_merge
    return {
        "records": len(records),
        "goldens": n_goldens,
        "generate_and_map_s": t_map,
        "train_s": t_train,
        "match_s": t_match,
        "merge_s": t_merge,
        "match_merge_total_s": total,
        "records_per_s": len(records) / total,
        "data_rss_mib": data_mib,
        "match_peak_mib": match_peak,
        "matching_peak_mib": _stage_peak_mib(),
        "peak_mib": max(data_peak, _peak_mib()),
        **quality,
    }


def _fmt_latency(r: dict[str, Any]) -> str:
    return (
        f"1 record: p50 {r['one_p50_ms']:,.1f} ms, p95 {r['one_p95_ms']:,.1f} ms "
        f"({r['singles']} singles); 1,000 records: p50 {r['thousand_p50_s']:.2f} s, "
        f"p95 {r['thousand_p95_s']:.2f} s (golden index built once: {r['golden_index_s']:.1f} s, "
        f"{r['golden_index_mib']:,.0f} MiB = {r['golden_index_bytes_per_record']:,.0f} B/record; "
        f"known index {r['known_index_s']:.1f} s; training "
        f"{r['train_s']:.0f} s); {r['singles_correct']}/{r['singles_known']} known people found, "
        f"{r['singles_wrong_merge']} wrong merges; peak {r['matching_peak_mib']:,.0f} MiB "
        f"from the goldens' values on (process peak {r['peak_mib']:,.0f} MiB with generating "
        f"the data)"
    )


def _fmt_e2e(r: dict[str, Any]) -> str:
    return (
        f"{r['match_merge_total_s']:.0f} s ({r['records_per_s']:,.0f} rec/s: training "
        f"{r['train_s']:.0f} s, match {r['match_s']:.0f} s, survivorship {r['merge_s']:.0f} s), "
        f"peak {r['matching_peak_mib']:,.0f} MiB from the mapped records on "
        f"({r['match_peak_mib']:,.0f} MiB through matching, before survivorship; the records alone "
        f"{r['data_rss_mib']:,.0f} MiB, raw payloads dropped; process peak "
        f"{r['peak_mib']:,.0f} MiB with generating them); P {r['precision']:.3f} "
        f"R {r['recall']:.3f} "
        f"F1 {r['f1']:.3f} cF1 {r['cluster_f1']:.3f}, {r['goldens']:,} goldens"
    )


def _job(args: tuple[str, int]) -> dict[str, Any]:
    kind, n = args
    logging.basicConfig(level=logging.WARNING)
    return latency(n) if kind == "latency" else end_to_end(n)


def _isolated(kind: str, n: int) -> dict[str, Any]:
    """One measurement in a fresh process: peak memory is a per-process high-water mark."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_job, ((kind, n),))
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.matching_scale --latency 100000 --e2e 50000``: writes the README rows."""
    import argparse
    import json

    from bench.readme_table import update_readme

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, nargs="*", default=[])
    parser.add_argument("--e2e", type=int, nargs="*", default=[])
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for n in args.latency:
        result = _isolated("latency", n)
        print(json.dumps(result), flush=True)
        if not args.no_readme:
            name = f"matching: new records vs {n:,} golden records (flow path)"
            update_readme({name: _fmt_latency(result)})
    for n in args.e2e:
        result = _isolated("e2e", n)
        print(json.dumps(result), flush=True)
        if not args.no_readme:
            name = f"matching: {n:,} records end to end (flow path, seeded world)"
            update_readme({name: _fmt_e2e(result)})


if __name__ == "__main__":
    main()
