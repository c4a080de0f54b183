"""Match and merge: assign each changed record to a golden record and recompute those goldens.

Matching is the probabilistic engine (``matching.probabilistic``): deterministic keys first,
then Fellegi-Sunter scores; pairs it is unsure about become review items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from mappings.spec import MappedRecord
from mappings.survivorship import GoldenView, Rules, merge
from matching.fellegi_sunter import Model
from matching.model import KnownIndex, MatchResult
from matching.probabilistic import GoldenIndex, prepare_model, resolve
from matching.settings import load_settings

__all__ = ["Merged", "match_records", "merge_goldens", "review_rows", "train_model"]


@dataclass
class Merged:
    goldens: dict[str, GoldenView]
    changed: set[str]


@task(name="train-model", task_run_name="train-model-{entity}", cache_policy=NO_CACHE)
def train_model(
    entity: str, records: list[MappedRecord], known: KnownIndex, stored: Model | None
) -> tuple[Model, bool]:
    """The model this run matches with: the stored one, or freshly trained (then True)."""
    return prepare_model(records, known, stored, settings=load_settings(entity))


@task(name="match", task_run_name="match-{entity}", cache_policy=NO_CACHE)
def match_records(
    records: list[MappedRecord],
    known: KnownIndex,
    model: Model | None = None,
    golden_index: GoldenIndex | None = None,
    entity: str = "person",
) -> list[MatchResult]:
    # Settings are loaded here, not passed: Prefect walks task arguments, and a blocking
    # rule's ``keys`` field reads to it as a mapping protocol.
    settings = load_settings(entity)
    return resolve(records, known, model=model, golden_index=golden_index, settings=settings)


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


def review_rows(entity: str, run_id: str, matches: list[MatchResult]) -> list[dict[str, Any]]:
    """Review-queue rows for the unsure pairs in the matches' evidence (each pair once)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for match in matches:
        for item in match.evidence.get("review", ()):
            left, right = match.record.key, str(item["with"])
            if not right.startswith("unified:"):
                left, right = sorted((left, right))
            evidence = {k: v for k, v in item.items() if k != "with"}
            rows[(left, right)] = {
                "entity": entity,
                "left_key": left,
                "right_key": right,
                "score": float(item["score"]),
                "evidence": evidence,
                "members": [],
                "run_id": run_id,
            }
    return [rows[k] for k in sorted(rows)]
