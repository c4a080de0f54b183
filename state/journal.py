"""The write journal: write-ahead before and after images of every remote write (invariant 4).

Lifecycle: `plan_write` (status `planned`, committed before the remote call) then
`mark_applied` or `mark_failed`. A write revsync decided not to make for a rule that protects
people (a consent change it never writes) is journaled `held` with its reason and no call.
A `planned` entry that never moved on means the process died around the remote call:
`pending_entries` lists them so recovery can look the record up by its natural key instead of
creating it again (invariant 2). Images hold record data only, never credentials.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from state._chunks import chunked
from state.models import JOURNAL_OPS, JournalEntry, JournalOp
from state.types import utcnow

__all__ = [
    "MAX_ERROR_CHARS",
    "JournalStateError",
    "entries_for_golden",
    "entries_for_run",
    "mark_applied",
    "mark_failed",
    "pending_entries",
    "plan_write",
    "plan_writes",
    "record_held",
]

MAX_ERROR_CHARS = 4000


class JournalStateError(ValueError):
    """An entry asked to move out of a state it is not in (only `planned` moves on)."""


def _planned_row(
    run_id: str,
    tool: str,
    entity: str,
    op: str,
    record_id: str | None,
    unified_id: str | None,
    natural_key: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: dt.datetime,
) -> dict[str, Any]:
    if op not in JOURNAL_OPS:
        raise ValueError(f"journal op is create, update or archive, not {op!r}")
    if op in ("update", "archive") and record_id is None:
        raise ValueError(f"an {op} needs the tool's record_id")
    return {
        "run_id": run_id,
        "tool": tool,
        "entity": entity,
        "op": op,
        "record_id": record_id,
        "unified_id": unified_id,
        "natural_key": natural_key,
        "before": None if before is None else dict(before),
        "after": None if after is None else dict(after),
        "status": "planned",
        "error": None,
        "created_at": at,
        "applied_at": None,
    }


def plan_write(
    session: Session,
    run_id: str,
    tool: str,
    entity: str,
    op: JournalOp,
    *,
    record_id: str | None = None,
    unified_id: str | None = None,
    natural_key: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Journal one intended write as `planned`; returns the entry id.

    `before` is the tool record's values before the write (None for a create), `after` the
    values about to be written. Commit before calling the tool.
    """
    row = _planned_row(
        run_id, tool, entity, op, record_id, unified_id, natural_key, before, after, at or utcnow()
    )
    entry = JournalEntry(**row)
    session.add(entry)
    session.flush()
    assert entry.id is not None
    return entry.id


def _row_of(row: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    """A `planned` row from a row of `plan_write`'s arguments by name."""
    return _planned_row(
        row["run_id"],
        row["tool"],
        row["entity"],
        row["op"],
        row.get("record_id"),
        row.get("unified_id"),
        row.get("natural_key"),
        row.get("before"),
        row.get("after"),
        at,
    )


def plan_writes(session: Session, rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """Bulk `plan_write`: rows carry its arguments by name; ids come back in row order."""
    now = utcnow()
    prepared = [_row_of(row, row.get("at") or now) for row in rows]
    if not prepared:
        return []
    session.flush()
    table = JournalEntry.__table__  # type: ignore[attr-defined]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    result = session.exec(stmt, params=prepared)
    return [int(r[0]) for r in result]


def record_held(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Journal writes revsync decided not to make: rows as for `plan_writes` plus `reason`.

    They never reach the tool, so they are final at once (status `held`, the reason in
    `error`). A decision already journaled (same tool, golden record and reason) is not
    journaled again by every later run that re-plans it. Returns the number of rows added.
    """
    now = utcnow()
    rows = list(rows)
    known = _held_already(session, {str(r["unified_id"]) for r in rows if r.get("unified_id")})
    prepared = []
    for row in rows:
        reason = str(row["reason"])[:MAX_ERROR_CHARS]
        if (row["tool"], row.get("unified_id"), reason) in known:
            continue
        known.add((row["tool"], row.get("unified_id"), reason))
        prepared.append({**_row_of(row, now), "status": "held", "error": reason})
    if prepared:
        session.flush()
        session.exec(insert(JournalEntry.__table__), params=prepared)  # type: ignore[attr-defined]
    return len(prepared)


def _held_already(session: Session, unified_ids: set[str]) -> set[tuple[str, str | None, str]]:
    """(tool, golden id, reason) of the held decisions already journaled for these goldens."""
    out: set[tuple[str, str | None, str]] = set()
    for chunk in chunked(sorted(unified_ids)):
        stmt = select(JournalEntry.tool, JournalEntry.unified_id, JournalEntry.error).where(
            JournalEntry.status == "held", col(JournalEntry.unified_id).in_(chunk)
        )
        out |= {(tool, uid, error or "") for tool, uid, error in session.exec(stmt)}
    return out


def _planned_entry(session: Session, entry_id: int) -> JournalEntry:
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise JournalStateError(f"journal entry {entry_id} does not exist")
    if entry.status != "planned":
        raise JournalStateError(f"journal entry {entry_id} is {entry.status}, not planned")
    return entry


def mark_applied(
    session: Session,
    entry_id: int,
    record_id: str | None,
    after: Mapping[str, Any] | None,
    *,
    at: dt.datetime | None = None,
) -> JournalEntry:
    """The tool accepted the write: keep its record id (new for a create) and after image."""
    entry = _planned_entry(session, entry_id)
    if record_id is not None:
        entry.record_id = record_id
    if entry.record_id is None:
        raise JournalStateError(f"journal entry {entry_id} applied without a record id")
    if after is not None:
        entry.after = dict(after)
    entry.status = "applied"
    entry.applied_at = at or utcnow()
    session.add(entry)
    session.flush()
    return entry


def mark_failed(
    session: Session, entry_id: int, error: str, *, at: dt.datetime | None = None
) -> JournalEntry:
    """The tool rejected the write. `error` is an operator message (never holds a secret)."""
    entry = _planned_entry(session, entry_id)
    entry.status = "failed"
    entry.error = error[:MAX_ERROR_CHARS]
    entry.applied_at = at or utcnow()
    session.add(entry)
    session.flush()
    return entry


def entries_for_run(session: Session, run_id: str) -> list[JournalEntry]:
    """A run's journal in write order (the audit trail, and the undo list reversed)."""
    stmt = select(JournalEntry).where(JournalEntry.run_id == run_id).order_by(col(JournalEntry.id))
    return list(session.exec(stmt))


def pending_entries(session: Session, *, tool: str | None = None) -> list[JournalEntry]:
    """Entries still `planned`: writes whose outcome was never recorded, oldest first."""
    stmt = select(JournalEntry).where(JournalEntry.status == "planned")
    if tool is not None:
        stmt = stmt.where(JournalEntry.tool == tool)
    return list(session.exec(stmt.order_by(col(JournalEntry.id))))


def entries_for_golden(session: Session, unified_id: str) -> list[JournalEntry]:
    """Every write journaled for one golden record, in any tool, in write order (its history)."""
    stmt = select(JournalEntry).where(JournalEntry.unified_id == unified_id)
    return list(session.exec(stmt.order_by(col(JournalEntry.id))))
