"""Merges seen in the tools and duplicates found inside one tool, as data.

A tool that merges two records says so on the survivor (its ``merged_ids_field``); two
records of one tool that revsync matched to one golden record are an in-tool duplicate. Both
are computed here from what was read and matched; ``flows/merges.py`` moves the links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.spec import Mapping as ToolMapping
from mappings.spec import merged_ids, merged_into
from matching.model import MatchResult
from reconcile.plan import LinkView

__all__ = [
    "Duplicate",
    "FollowedMerge",
    "deleted_decision",
    "in_tool_duplicates",
    "merge_decision",
    "vendor_merges",
]


@dataclass(frozen=True)
class FollowedMerge:
    """One merged-away record whose link now points at the vendor's survivor."""

    tool: str
    survivor: str
    merged: str
    unified_id: str
    joined: str | None = None
    """The other golden record folded in when the two records were apart in revsync."""


@dataclass
class Duplicate:
    """Records of one tool that revsync matched to the same person or company."""

    tool: str
    unified_id: str
    record_ids: list[str]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    entity: str = "person"
    merged: bool = False
    """Merged in the tool through its merge API by this run."""


def vendor_merges(mapping: ToolMapping, raws: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Survivor id -> ids the tool merged into it, from every record read (changed or not).

    A survivor whose mapped values did not change is still read here: the merge is news
    even when the values are not.
    """
    out: dict[str, list[str]] = {}
    if mapping.merged_ids_field is None and mapping.merged_into_field is None:
        return out
    for raw in raws:
        record_id = raw.get(mapping.id_field) if isinstance(raw, dict) else None
        if record_id is None:
            continue
        ids = merged_ids(mapping, raw)
        if ids:
            out.setdefault(str(record_id), []).extend(ids)
        into = merged_into(mapping, raw)  # a record that names what it became (a converted lead)
        if into is not None and into != str(record_id):
            out.setdefault(into, []).append(str(record_id))
    return out


def merge_decision(entity: str, f: FollowedMerge, run_id: str) -> dict[str, Any]:
    return {
        "entity": entity,
        "unified_id": f.unified_id,
        "tool": f.tool,
        "record_id": f.survivor,
        "rule": "vendor_merge",
        "score": 1.0,
        "evidence": {"rule": "vendor_merge", "merged": f.merged, "joined": f.joined},
        "run_id": run_id,
    }


def deleted_decision(
    entity: str, tool: str, record_id: str, unified_id: str, run_id: str
) -> dict[str, Any]:
    """The decision recorded when a record is gone from its tool and its link dropped."""
    return {
        "entity": entity,
        "unified_id": unified_id,
        "tool": tool,
        "record_id": record_id,
        "rule": "deleted_in_tool",
        "score": 1.0,
        "evidence": {"rule": "deleted_in_tool"},
        "run_id": run_id,
    }


def in_tool_duplicates(
    links: Mapping[str, list[LinkView]], matches: Iterable[MatchResult], entity: str = "person"
) -> list[Duplicate]:
    """Goldens holding more than one record of the same tool, with the match evidence."""
    evidence: dict[tuple[str, str], dict[str, Any]] = {
        (m.record.tool, m.record.record_id): m.evidence for m in matches
    }
    found: list[Duplicate] = []
    for uid in sorted(links):
        by_tool: dict[str, list[str]] = {}
        for view in links[uid]:
            by_tool.setdefault(view.tool, []).append(view.record_id)
        for tool, ids in sorted(by_tool.items()):
            if len(ids) < 2:
                continue
            ordered = sorted(set(ids), key=_id_order)
            found.append(
                Duplicate(
                    tool=tool,
                    entity=entity,
                    unified_id=uid,
                    record_ids=ordered,
                    evidence=[
                        {
                            "record_id": rid,
                            "rule": evidence[(tool, rid)].get("rule"),
                            "score": evidence[(tool, rid)].get("score"),
                        }
                        for rid in ordered
                        if (tool, rid) in evidence
                    ],
                )
            )
    return found


def _id_order(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (1 << 62, record_id)
