"""Extract and map: read one tool's stream from its cursor and turn each record into unified values.

A record that cannot be mapped becomes a dead letter with its reason; a record whose values are
the ones revsync last read or wrote (its own echo) is counted and dropped here, so it never starts
another round of writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.errors import ErrorClass, ReadFailed
from connectors.registry import page_size
from connectors.runner import Checkpoint, Record, read_stream
from flows.budget import Priority, ToolBudget
from flows.credentials import resolve_connection
from flows.progress import Span
from mappings.spec import Mapping as ToolMapping
from mappings.spec import load_mappings, requested_fields
from reconcile.mapped import Mapped, map_stream
from reconcile.refs import RefIndex

__all__ = ["Extracted", "extract_stream", "map_records"]


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


def _requested(tool: str, stream: str) -> tuple[str, ...]:
    """The tool fields the mapping sections reading ``stream`` need."""
    sections = [k for m in load_mappings(tool).values() for k in m.all_types()]
    wanted = [requested_fields(k) for k in sections if k.stream == stream]
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
    refs: RefIndex | None = None,
) -> Mapped:
    """Map raw records; drop those whose values revsync already knows (read or written)."""
    return map_stream(mapping, records, known_hashes, refs)
