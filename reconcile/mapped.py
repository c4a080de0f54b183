"""One stream's raw records, mapped: what changed since revsync last saw it, what is an echo
of its own write, what is malformed (a dead letter) and what the tool merged away."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.errors import MappingError
from mappings.hashing import values_hash
from mappings.spec import MappedRecord, is_included, mapped_fields, to_unified
from mappings.spec import Mapping as ToolMapping
from reconcile.refs import RefIndex, ambiguous_refs, reference_fields, to_golden

__all__ = ["Invalid", "Mapped", "link_hash", "map_stream"]


@dataclass
class Invalid:
    record_id: str | None
    reason: str
    payload: dict[str, Any]


@dataclass
class Mapped:
    """The outcome of mapping one stream: what changed, what was an echo, what was malformed."""

    changed: list[MappedRecord] = field(default_factory=list)
    gone: list[MappedRecord] = field(default_factory=list)
    """Records the tool still returns but merged away or deleted (``gone_when``)."""
    hashes: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0
    passed_over: int = 0
    """Records of the stream that are not this entity's (``only_when``: a helpdesk's agents)."""
    invalid: list[Invalid] = field(default_factory=list)

    def absorb(self, other: Mapped) -> None:
        """Add another stream's outcome of the same tool and entity (a CRM's leads)."""
        self.changed += other.changed
        self.gone += other.gone
        self.hashes.update(other.hashes)
        self.unchanged += other.unchanged
        self.passed_over += other.passed_over
        self.invalid += other.invalid


def link_hash(mapping: ToolMapping, values: Mapping[str, str | None]) -> str:
    """Hash of a tool record's unified values over every field the tool's mapping reads."""
    return values_hash({f: values.get(f) for f in mapped_fields(mapping, "in")})


def map_stream(
    mapping: ToolMapping,
    records: Iterable[dict[str, Any]],
    known_hashes: Mapping[str, set[str]],
    refs: RefIndex | None = None,
) -> Mapped:
    """Map raw records; drop those whose values revsync already knows (read or written).

    References (a person's company) are turned into golden ids with ``refs`` before hashing,
    so what is compared and stored is what the golden record holds.
    """
    out = Mapped()
    refers = bool(reference_fields(mapping))
    refs = refs or RefIndex()
    latest: dict[str, MappedRecord] = {}
    for raw in records:
        if not is_included(mapping, raw):
            out.passed_over += 1
            continue
        try:
            mapped = to_unified(mapping, raw)
        except MappingError as exc:
            record_id = raw.get(mapping.id_field) if isinstance(raw, dict) else None
            out.invalid.append(
                Invalid(
                    record_id=None if record_id is None else str(record_id),
                    reason=str(exc),
                    payload=raw if isinstance(raw, dict) else {"value": repr(raw)},
                )
            )
            continue
        if refers:
            unresolved = ambiguous_refs(mapping, mapped.values, refs)
            mapped = mapped.model_copy(
                update={
                    "values": to_golden(mapping, mapped.values, refs),
                    "warnings": (*mapped.warnings, *unresolved),
                }
            )
        previous = latest.get(mapped.record_id)
        # Re-windowed pages can emit a record twice: keep the newest image.
        if previous is None or mapped.updated_at >= previous.updated_at:
            latest[mapped.record_id] = mapped
    for record_id in sorted(latest):
        mapped = latest[record_id]
        if mapped.gone:
            out.gone.append(mapped)
            continue
        digest = link_hash(mapping, mapped.values)
        out.hashes[record_id] = digest
        if digest in known_hashes.get(record_id, set()):
            out.unchanged += 1
        else:
            out.changed.append(mapped)
    return out
