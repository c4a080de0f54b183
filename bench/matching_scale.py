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
import time
from collections import defaultdict
from typing import Any

from mappings.spec import MappedRecord

__all__ = ["end_to_end", "latency"]

logger = logging.getLogger(__name__)

SEED = 11


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _records(people: int, tools: tuple[str, ...]) -> tuple[list[MappedRecord], dict[str, str]]:
    """The world's records of ``tools``, mapped as the flow maps them, and the truth."""
    from mappings.errors import MappingError
    from mappings.spec import load_mapping, to_unified
    from sandbox.world import generate_world

    world = generate_world(people, SEED, tools=tools)
    records: list[MappedRecord] = []
    truth: dict[str, str] = {}
    for tool in tools:
        mapping = load_mapping(tool)
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


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(goldens: int, *, singles: int = 50, batches: int = 5) -> dict[str, Any]:
    """p50/p95 of matching 1 record and 1,000 records against ``goldens`` golden records."""
    from mappings.survivorship import golden_from_scratch, load_rules
    from matching.model import KnownIndex
    from matching.probabilistic import GoldenIndex, prepare_model, resolve
    from matching.settings import load_settings

    started = time.perf_counter()
    people = int(goldens / 0.8) + 1  # HubSpot holds ~80% of the people
    records, truth = _records(people, ("hubspot", "mailchimp"))
    rules, settings = load_rules(), load_settings("person")
    by_person: dict[str, list[MappedRecord]] = defaultdict(list)
    for rec in records:
        if rec.tool == "hubspot":
            by_person[truth[rec.key]].append(rec)
    persons = sorted(by_person)[:goldens]
    golden = {f"g{p}": dict(golden_from_scratch(by_person[p], rules).values) for p in persons}
    golden_of = {p: f"g{p}" for p in persons}
    links = {(r.tool, r.record_id): f"g{p}" for p in persons for r in by_person[p]}
    queries = [r for r in records if r.tool == "mailchimp"]
    random.Random(SEED).shuffle(queries)
    prepared = time.perf_counter() - started

    t0 = time.perf_counter()
    known = KnownIndex.build(golden, links)
    t_known = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = GoldenIndex.build({u: dict(v) for u, v in known.golden.items()}, settings)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, _ = prepare_model(queries[:1000], known, None, settings=settings)
    t_train = time.perf_counter() - t0

    one: list[float] = []
    correct = wrong = known_people = 0
    for rec in queries[:singles]:
        t0 = time.perf_counter()
        [result] = resolve([rec], known, model=model, golden_index=index, settings=settings)
        one.append(time.perf_counter() - t0)
        expected = golden_of.get(truth[rec.key])
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
    return {
        "goldens": len(golden),
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
        "peak_mib": _peak_mib(),
    }


def end_to_end(records_target: int) -> dict[str, Any]:
    """An initial load of ``records_target`` records: map, train, match, survivorship."""
    from bench.matching import score
    from mappings.survivorship import load_rules, merge
    from matching.model import KnownIndex
    from matching.probabilistic import prepare_model, resolve

    people = int(records_target / 1.45) + 1  # ~1.5 HubSpot+Mailchimp records per person
    t0 = time.perf_counter()
    records, truth = _records(people, ("hubspot", "mailchimp"))
    records = records[:records_target]
    t_map = time.perf_counter() - t0  # world generation + to_unified
    known = KnownIndex.build({}, {})
    t0 = time.perf_counter()
    model, _ = prepare_model(records, known, None)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    matches = resolve(records, known, model=model)
    t_match = time.perf_counter() - t0
    t0 = time.perf_counter()
    contributions: dict[str, list[MappedRecord]] = defaultdict(list)
    for m in matches:
        contributions[m.unified_id].append(m.record)
    rules = load_rules()
    goldens = {uid: merge(None, recs, rules) for uid, recs in contributions.items()}
    t_merge = time.perf_counter() - t0
    clusters: dict[str, list[str]] = defaultdict(list)
    for m in matches:
        clusters[m.unified_id].append(m.record.key)
    quality = score(list(clusters.values()), {r.key: truth[r.key] for r in records})
    total = t_train + t_match + t_merge
    return {
        "records": len(records),
        "goldens": len(goldens),
        "generate_and_map_s": t_map,
        "train_s": t_train,
        "match_s": t_match,
        "merge_s": t_merge,
        "match_merge_total_s": total,
        "records_per_s": len(records) / total,
        "peak_mib": _peak_mib(),
        **quality,
    }
