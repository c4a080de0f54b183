"""Match decisions: the evidence behind every link (invariant 5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from state.models import MatchDecision
from state.types import utcnow

__all__ = ["decisions_for", "decisions_for_record", "deleted_in_tools", "record_decisions"]

_REQUIRED = ("entity", "unified_id", "tool", "record_id", "rule", "evidence")


def record_decisions(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append decisions in bulk; each row has entity, unified_id, tool, record_id, rule,
    evidence (which keys agreed, the scores) and optionally score, decided_at, run_id.

    Evidence is record data only, never credentials. Returns the number of rows.
    """
    table = MatchDecision.__table__  # type: ignore[attr-defined]
    allowed = set(table.columns.keys()) - {"id"}
    now = utcnow()
    prepared: list[dict[str, Any]] = []
    for row in rows:
        unknown = set(row) - allowed
        missing = [k for k in _REQUIRED if row.get(k) is None]
        if unknown or missing:
            raise ValueError(f"bad decision row: unknown {sorted(unknown)}, missing {missing}")
        prepared.append({"score": None, "run_id": None, "decided_at": now, **row})
    if prepared:
        session.flush()
        session.exec(insert(table), params=prepared)
    return len(prepared)


def decisions_for(session: Session, unified_id: str) -> list[MatchDecision]:
    """Every decision that linked a record to `unified_id`, oldest first."""
    stmt = (
        select(MatchDecision)
        .where(MatchDecision.unified_id == unified_id)
        .order_by(col(MatchDecision.decided_at), col(MatchDecision.id))
    )
    return list(session.exec(stmt))


def decisions_for_record(session: Session, tool: str, record_id: str) -> list[MatchDecision]:
    """The history of one tool record's matches, oldest first (why is it linked there?)."""
    stmt = (
        select(MatchDecision)
        .where(MatchDecision.tool == tool, MatchDecision.record_id == record_id)
        .order_by(col(MatchDecision.decided_at), col(MatchDecision.id))
    )
    return list(session.exec(stmt))


def deleted_in_tools(session: Session, entity: str) -> set[tuple[str, str]]:
    """(tool, unified id) of every golden record whose record a tool deleted or archived (the
    ``deleted_in_tool`` decisions): revsync must not create it there again."""
    stmt = select(MatchDecision.tool, MatchDecision.unified_id).where(
        MatchDecision.entity == entity, MatchDecision.rule == "deleted_in_tool"
    )
    return {(tool, uid) for tool, uid in session.exec(stmt)}
