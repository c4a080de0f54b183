"""Extract and map: read one tool's stream from its cursor and turn each record into unified values.

A record that cannot be mapped becomes a dead letter with its reason; a record whose values are
the ones revsync last read or wrote (its own echo) is counted and dropped here, so it never starts
another round of writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.errors import ErrorClass, ReadFailed
from connectors.registry import manifest_path
from connectors.runner import Checkpoint, Record, read_stream
from flows.budget import Priority, ToolBudget
from flows.credentials import resolve_connection
from flows.progress import Span
from mappings.errors import MappingError
from mappings.hashing import values_hash
from mappings.spec import (
    MappedRecord,
    is_included,
    load_mappings,
    mapped_fields,
    requested_fields,
    to_unified,
)
from mappings.spec import Mapping as ToolMapping

__all__ = [
    "Extracted",
    "Invalid",
    "Mapped",
    "extract_stream",
    "link_hash",
    "map_records",
    "page_size",
]


@dataclass
class Extracted:
    tool: str
    stream: str
    records: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    error: str | None
    fatal: bool = False
    """The read failed on configuration (auth, scope): no later stage can succeed."""
    error_exc: ReadFailed | None = None


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


def link_hash(mapping: ToolMapping, values: Mapping[str, str | None]) -> str:
    """Hash of a tool record's unified values over every field the tool's mapping reads."""
    return values_hash({f: values.get(f) for f in mapped_fields(mapping, "in")})


def page_size(tool: str) -> int:
    """The page size the tool's manifest asks for: one budget slot per page read."""

    def find(node: Any) -> int | None:
        if isinstance(node, dict):
            value = node.get("page_size")
            if isinstance(value, int):
                return value
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            return None
        for child in children:
            found = find(child)
            if found is not None:
                return found
        return None

    return find(yaml.safe_load(manifest_path(tool).read_text())) or 100


def _requested(tool: str, stream: str) -> tuple[str, ...]:
    """The tool fields the mapping sections reading ``stream`` need."""
    wanted = [requested_fields(m) for m in load_mappings(tool).values() if m.stream == stream]
    return tuple(dict.fromkeys(f for fields in wanted for f in fields))


@task(name="extract", task_run_name="extract-{tool}", cache_policy=NO_CACHE)
def extract_stream(
    tool: str,
    stream: str,
    cursor: dict[str, Any] | None,
    priority: str = Priority.INCREMENTAL.value,
    progress: Span | None = None,
) -> Extracted:
    """Read a stream from its cursor; a failed read keeps what was read and reports why.

    Each page takes one slot of the tool's shared API budget before it is requested (the CDK
    fetches the next page when the previous one is consumed), so concurrent runs share it.
    """
    conn = resolve_connection(tool)
    budget = ToolBudget(tool, Priority(priority))
    size = page_size(tool)
    records: list[dict[str, Any]] = []
    checkpoint: dict[str, Any] | None = None
    error: str | None = None
    failure: ReadFailed | None = None
    budget.spend(1)
    try:
        for event in read_stream(conn, stream, cursor, _requested(tool, stream)):
            if isinstance(event, Record):
                records.append(event.data)
                if len(records) % size == 0:
                    budget.spend(1)
                    if progress is not None:
                        progress.page()
            elif isinstance(event, Checkpoint):
                checkpoint = event.state
    except ReadFailed as exc:
        error = str(exc)
        failure = exc
    if progress is not None:
        progress.finish()
    return Extracted(
        tool=tool,
        stream=stream,
        records=records,
        checkpoint=checkpoint,
        error=error,
        fatal=failure is not None and failure.error_class is ErrorClass.FATAL,
        error_exc=failure,
    )


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
