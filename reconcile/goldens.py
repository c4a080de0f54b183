"""Golden records from matches: fold each cluster's records in, and the rows a run stores.

Everything here is a function of its arguments, so a dry run and a real run over the same
state compute the same goldens, decisions and review items; ``flows`` only loads and saves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mappings.spec import MappedRecord
from mappings.survivorship import GoldenView, Rules, merge
from matching.model import MatchResult
from reconcile.plan import LinkView

__all__ = [
    "Merged",
    "checkpoint_rows",
    "decision_rows",
    "fold_goldens",
    "golden_rows",
    "golden_view",
    "links_by_golden",
    "review_rows",
]


@dataclass
class Merged:
    goldens: dict[str, GoldenView]
    changed: set[str]


def golden_view(values: Mapping[str, Any], provenance: Mapping[str, Any]) -> GoldenView:
    """A stored golden record (JSON columns) as the survivorship model."""
    return GoldenView.model_validate({"values": values, "provenance": provenance})


def fold_goldens(
    matches: Iterable[MatchResult], existing: Mapping[str, GoldenView], rules: Rules
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


def golden_rows(entity: str, merged: Merged) -> list[dict[str, Any]]:
    """Rows of the goldens this run changed."""
    return [
        {"unified_id": uid, "entity": entity, **merged.goldens[uid].model_dump(mode="json")}
        for uid in sorted(merged.changed)
    ]


def decision_rows(entity: str, run_id: str, matches: Iterable[MatchResult]) -> list[dict[str, Any]]:
    """One decision per record placed: which golden, by which rule, with what score."""
    return [
        {
            "entity": entity,
            "unified_id": m.unified_id,
            "tool": m.record.tool,
            "record_id": m.record.record_id,
            "rule": str(m.evidence.get("rule", "link")),
            "score": float(m.evidence.get("score", 1.0)),
            "evidence": m.evidence,
            "run_id": run_id,
        }
        for m in matches
    ]


def review_rows(entity: str, run_id: str, matches: Iterable[MatchResult]) -> list[dict[str, Any]]:
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


def links_by_golden(
    stored: Iterable[tuple[str, LinkView]],
    fresh: Mapping[tuple[str, str], tuple[str, LinkView]],
    written_only: Mapping[str, Collection[str]] | None = None,
) -> dict[str, list[LinkView]]:
    """Each golden's linked records: the stored links overlaid with those read this run.

    A record read lacks the fields its tool is only written (``written_only``: tool -> unified
    fields); the stored values of those, what revsync last wrote there, stay."""
    views: dict[tuple[str, str], tuple[str, LinkView]] = {
        (view.tool, view.record_id): (uid, view) for uid, view in stored
    }
    for key, (uid, view) in fresh.items():
        kept = (written_only or {}).get(view.tool, ())
        before = views.get(key)
        if kept and before is not None:
            carried = {
                f: v for f, v in before[1].values.items() if f in kept and f not in view.values
            }
            if carried:
                view = view.model_copy(update={"values": {**view.values, **carried}})
        views[key] = (uid, view)
    by_golden: dict[str, list[LinkView]] = defaultdict(list)
    for uid, view in views.values():
        by_golden[uid].append(view)
    return by_golden


def checkpoint_rows(
    entity: str,
    matches: Iterable[MatchResult],
    hashes: Mapping[str, Mapping[str, str]],
    written: set[tuple[str, str]],
    views: Mapping[tuple[str, str], LinkView] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Link rows recording what each record read looked like: (with values, hashes only).

    A record this run wrote to keeps the values apply recorded (what the tool holds now), not
    the older ones it was read with, so only its read hash is updated. ``views``: the records
    as the plan saw them (``links_by_golden``), whose values also keep what revsync wrote to
    fields the tool is never read from.
    """
    rows: list[dict[str, Any]] = []
    hashes_only: list[dict[str, Any]] = []
    for m in matches:
        row = {
            "tool": m.record.tool,
            "entity": entity,
            "record_id": m.record.record_id,
            "unified_id": m.unified_id,
            "last_read_hash": hashes[m.record.tool][m.record.record_id],
        }
        if (m.record.tool, m.record.record_id) in written:
            hashes_only.append(row)
        else:
            view = (views or {}).get((m.record.tool, m.record.record_id))
            values = m.record.values if view is None else {**view.values, **m.record.values}
            rows.append({**row, "last_values": values})
    return rows, hashes_only
