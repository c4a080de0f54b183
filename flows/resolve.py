"""Match and merge: assign each changed record to a golden record and recompute those goldens.

Matching is the probabilistic engine (``matching.probabilistic``): deterministic keys first,
then Fellegi-Sunter scores; pairs it is unsure about become review items.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from mappings.spec import MappedRecord
from mappings.survivorship import GoldenView, Rules
from matching.fellegi_sunter import Model
from matching.model import KnownIndex, MatchResult
from matching.probabilistic import GoldenIndex, prepare_model, resolve
from matching.settings import load_settings
from reconcile.goldens import Merged, fold_goldens

__all__ = ["match_records", "merge_goldens", "train_model"]


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
    return fold_goldens(matches, existing, rules)
