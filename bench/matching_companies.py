"""Company matching quality on the seeded world: HubSpot companies and Zendesk organizations
(duplicates, messy domains, legal-form name variants, organizations without a domain,
look-alike companies in other countries), resolved by the flow's own path
(``matching.probabilistic``, ``matching/company.yaml``) against the world's truth.

Usage: ``python -m bench.matching_companies [--people 10000 100000] [--no-readme]``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

from bench.matching import score
from bench.matching_scale import seeded_records
from bench.readme_table import update_readme

__all__ = ["run"]

logger = logging.getLogger(__name__)

SEED = 11
TOOLS = ("hubspot", "zendesk")


def _lookalikes(people: int) -> int:
    from sandbox.world import generate_people

    return sum(1 for o in generate_people(people, SEED).orgs if o.lookalike_of)


def run(people: int) -> dict[str, str]:
    from matching.model import KnownIndex
    from matching.probabilistic import prepare_model, resolve
    from matching.settings import load_settings

    records, truth = seeded_records(people, TOOLS, seed=SEED, entity="company")
    lookalikes = _lookalikes(people)
    settings = load_settings("company")
    start = time.perf_counter()
    known = KnownIndex.build({}, {})
    model, _ = prepare_model(records, known, settings=settings)
    matches = resolve(records, known, settings=settings, model=model)
    seconds = time.perf_counter() - start
    clusters: dict[str, list[str]] = {}
    for m in matches:
        clusters.setdefault(m.unified_id, []).append(m.record.key)
    s = score(list(clusters.values()), truth)
    reviews = sum(len(m.evidence.get("review", ())) for m in matches)
    wrong_lookalike = sum(1 for keys in clusters.values() if len({truth[k] for k in keys}) > 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = f"matching: seeded world companies, {people:,} people (HubSpot+Zendesk)"
    figure = (
        f"P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} "
        f"cF1 {s['cluster_f1']:.3f} at auto-merge {settings.thresholds.auto_merge}; "
        f"{len(records):,} records of {len(set(truth.values())):,} organizations "
        f"({lookalikes} look-alikes), {wrong_lookalike} clusters mixing organizations, "
        f"{reviews} pairs sent to review; {len(records) / seconds:,.0f} rec/s, "
        f"peak {peak:,.0f} MiB"
    )
    print(f"{label}: {figure}")
    return {label: figure}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    rows: dict[str, str] = {}
    for people in args.people:
        rows.update(run(people))
    if not args.no_readme:
        update_readme(rows)


if __name__ == "__main__":
    main()
