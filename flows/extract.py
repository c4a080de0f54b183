"""Extract and map: read one tool's stream from its cursor and turn each record into unified values.

A record that cannot be mapped becomes a dead letter with its reason; a record whose values are
the ones revsync last read or wrote (its own echo) is counted and dropped here, so it never starts
another round of writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.connections import connection_from_env
from connectors.errors import ReadFailed
from connectors.runner import Checkpoint, Record, read_stream
from mappings.errors import MappingError
from mappings.hashing import values_hash
from mappings.spec import MappedRecord, mapped_fields, to_unified
from mappings.spec import Mapping as ToolMapping

__all__ = ["Extracted", "Invalid", "Mapped", "extract_stream", "link_hash", "map_records"]


@dataclass
class Extracted:
    tool: str
    stream: str
    records: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    error: str | None


@dataclass
class Invalid:
    record_id: str | None
    reason: str
    payload: dict[str, Any]


@dataclass
class Mapped:
    """The outcome of mapping one stream: what changed, what was an echo, what was malformed."""

    changed: list[MappedRecord] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0
    invalid: list[Invalid] = field(default_factory=list)


def link_hash(mapping: ToolMapping, values: Mapping[str, str | None]) -> str:
    """Hash of a tool record's unified values over every field the tool's mapping reads."""
    return values_hash({f: values.get(f) for f in mapped_fields(mapping, "in")})


@task(name="extract", task_run_name="extract-{tool}", cache_policy=NO_CACHE)
def extract_stream(tool: str, stream: str, cursor: dict[str, Any] | None) -> Extracted:
    """Read a stream from its cursor; a failed read keeps what was read and reports why."""
    conn = connection_from_env(tool)
    records: list[dict[str, Any]] = []
    checkpoint: dict[str, Any] | None = None
    error: str | None = None
    try:
        for event in read_stream(conn, stream, cursor):
            if isinstance(event, Record):
                records.append(event.data)
            elif isinstance(event, Checkpoint):
                checkpoint = event.state
    except ReadFailed as exc:
        error = str(exc)
    return Extracted(tool=tool, stream=stream, records=records, checkpoint=checkpoint, error=error)


@task(name="map", task_run_name="map-{tool}", cache_policy=NO_CACHE)
def map_records(
    tool: str,
    mapping: ToolMapping,
    records: list[dict[str, Any]],
    known_hashes: Mapping[str, set[str]],
) -> Mapped:
    """Map raw records; drop those whose values revsync already knows (read or written)."""
    out = Mapped()
    latest: dict[str, MappedRecord] = {}
    for raw in records:
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
        previous = latest.get(mapped.record_id)
        # Re-windowed pages can emit a record twice: keep the newest image.
        if previous is None or mapped.updated_at >= previous.updated_at:
            latest[mapped.record_id] = mapped
    for record_id in sorted(latest):
        mapped = latest[record_id]
        digest = link_hash(mapping, mapped.values)
        out.hashes[record_id] = digest
        if digest in known_hashes.get(record_id, set()):
            out.unchanged += 1
        else:
            out.changed.append(mapped)
    return out
