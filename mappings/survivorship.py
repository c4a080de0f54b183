"""Survivorship: which tool's value becomes the golden value of each field.

The choice per field is a maximum over a total order of candidate values (authoritative tool
first, then most recent, then tool name and record id), and empty values are never
candidates. Because only the winner matters, merging batch by batch keeps just the current
winner per field (the provenance) and still gives the same result as merging everything at
once; that is what lets a run fold in only what changed since the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mappings.errors import MappingConfigError
from mappings.spec import MAPPINGS_DIR, MappedRecord

__all__ = [
    "FieldSource",
    "GoldenView",
    "Rules",
    "golden_from_scratch",
    "load_rules",
    "merge",
]

SURVIVORSHIP_FILE: Path = MAPPINGS_DIR / "survivorship.yaml"
_NO_TIME = datetime.min.replace(tzinfo=UTC)


class Rules(BaseModel):
    """Survivorship rules of one entity, as written in ``survivorship.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Literal["most_recent_non_empty"] = "most_recent_non_empty"
    authoritative: dict[str, str] = Field(default_factory=dict)


class FieldSource(BaseModel):
    """Where a golden value came from: the tool record and its modification time."""

    model_config = ConfigDict(frozen=True)

    tool: str
    record_id: str
    updated_at: datetime
    value: str


class GoldenView(BaseModel):
    """The merged values of one unified record, each non-empty value with its source."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, str | None] = Field(default_factory=dict)
    provenance: dict[str, FieldSource] = Field(default_factory=dict)


@cache
def load_rules(entity: str = "person") -> Rules:
    """Rules for ``entity`` from ``mappings/survivorship.yaml`` (parsed once per process)."""
    with SURVIVORSHIP_FILE.open(encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    if not isinstance(document, dict) or entity not in document:
        raise MappingConfigError(f"survivorship.yaml has no rules for entity {entity!r}")
    try:
        return Rules.model_validate(document[entity])
    except ValidationError as exc:
        raise MappingConfigError(f"invalid survivorship rules for {entity!r}: {exc}") from None


def _beats(a: FieldSource, b: FieldSource, authority: str | None) -> bool:
    """True when ``a`` should replace ``b`` (a strict total order, so merging is associative)."""
    a_auth, b_auth = a.tool == authority, b.tool == authority
    if a_auth != b_auth:
        return a_auth
    if a.updated_at != b.updated_at:
        return a.updated_at > b.updated_at
    # Same instant: first tool name, then first record id, then smallest value wins.
    return (a.tool, a.record_id, a.value) < (b.tool, b.record_id, b.value)


def merge(
    golden: GoldenView | None, contributions: Iterable[MappedRecord], rules: Rules
) -> GoldenView:
    """Fold tool records into ``golden`` (None for a new person) and return the new view."""
    fields: set[str] = set(golden.values) if golden else set()
    best: dict[str, FieldSource] = dict(golden.provenance) if golden else {}
    if golden:
        for name, value in golden.values.items():
            if value and value.strip() and name not in best:
                # A value without provenance (loaded by hand): keep it, lowest precedence.
                best[name] = FieldSource(
                    tool="golden", record_id="", updated_at=_NO_TIME, value=value
                )
    for record in contributions:
        for name, value in record.values.items():
            fields.add(name)
            if value is None or not value.strip():
                continue
            candidate = FieldSource(
                tool=record.tool,
                record_id=record.record_id,
                updated_at=record.updated_at,
                value=value,
            )
            current = best.get(name)
            if current is None or _beats(candidate, current, rules.authoritative.get(name)):
                best[name] = candidate
    ordered = sorted(fields)
    return GoldenView(
        values={name: best[name].value if name in best else None for name in ordered},
        provenance={name: best[name] for name in ordered if name in best},
    )


def golden_from_scratch(contributions: Iterable[MappedRecord], rules: Rules) -> GoldenView:
    """The golden view from all of a person's records, with no prior state."""
    return merge(None, contributions, rules)
