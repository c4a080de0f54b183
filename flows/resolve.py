"""Match and merge: assign each changed record to a golden record and recompute those goldens."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE

from mappings.spec import MappedRecord
from mappings.survivorship import GoldenView, Rules, merge
from matching.deterministic import resolve
from matching.model import KnownIndex, MatchResult

__all__ = ["Merged", "match_records", "merge_goldens"]


@dataclass
class Merged:
    goldens: dict[str, GoldenView]
    changed: set[str]


@task(name="match", task_run_name="match", cache_policy=NO_CACHE)
def match_records(records: list[MappedRecord], known: KnownIndex) -> list[MatchResult]:
    return resolve(records, known)


@task(name="merge", task_run_name="merge", cache_policy=NO_CACHE)
def merge_goldens(
    matches: list[MatchResult], existing: dict[str, GoldenView], rules: Rules
) -> Merged:
    """Fold each cluster's changed records into its golden record (survivorship per field)."""
    contributions: dict[str, list[MappedRecord]] = defaultdict(list)
    for match in matches:
        contributions[match.unified_id].append(match.record)
    goldens: dict[str, GoldenView] = {}
    changed: set[str] = set()
    for unified_id in sorted(contributions):
        before = existing.get(unified_id)
        after = merge(before, contributions[unified_id], rules)
        goldens[unified_id] = after
        if before is None or before.values != after.values:
            changed.add(unified_id)
    return Merged(goldens=goldens, changed=changed)
