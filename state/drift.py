"""Queries of the fields each tool stream's records carried (schema drift, ``FieldSeen``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

from sqlmodel import Session, col, select

from state.models import FieldSeen
from state.types import utcnow

__all__ = ["confirm_drift", "open_drift", "record_observation", "seen_fields"]


def seen_fields(session: Session, tool: str, stream: str) -> dict[str, FieldSeen]:
    """Path -> what earlier reads saw of it, for one tool stream."""
    stmt = select(FieldSeen).where(FieldSeen.tool == tool, FieldSeen.stream == stream)
    return {row.path: row for row in session.exec(stmt)}


def record_observation(
    session: Session,
    tool: str,
    stream: str,
    *,
    records: int,
    carried: Mapping[str, int],
    fields: Mapping[str, Collection[str]],
    unmapped: Collection[str],
    vanished: Collection[str],
    at: dt.datetime | None = None,
) -> None:
    """Store what one read carried (at checkpoint): ``fields`` (mapped path -> unified
    fields) carried by some of the ``records`` are seen now, at that rate (any drift on them
    ends); the ``vanished`` ones are marked; ``unmapped`` keys are remembered once."""
    now = at or utcnow()
    rows = seen_fields(session, tool, stream)
    for path, names in fields.items():
        count = carried.get(path, 0)
        row = rows.get(path)
        if count == 0:
            if row is not None and path in vanished and row.vanished_at is None:
                row.vanished_at = now
                session.add(row)
            continue
        if row is None:
            row = FieldSeen(tool=tool, stream=stream, path=path, first_seen_at=now)
        row.mapped, row.unified = True, ",".join(names)
        row.rate = count / max(records, 1)
        row.last_seen_at, row.vanished_at, row.confirmed_at = now, None, None
        session.add(row)
    for path in sorted(set(unmapped) - set(rows) - set(fields)):
        session.add(
            FieldSeen(tool=tool, stream=stream, path=path, first_seen_at=now, last_seen_at=now)
        )
    session.flush()


def open_drift(session: Session, tool: str | None = None) -> list[FieldSeen]:
    """Mapped fields that vanished and are not back, confirmed or not, by tool and path."""
    stmt = select(FieldSeen).where(col(FieldSeen.vanished_at).is_not(None))
    if tool is not None:
        stmt = stmt.where(FieldSeen.tool == tool)
    return list(session.exec(stmt.order_by(FieldSeen.tool, FieldSeen.stream, FieldSeen.path)))


def _names(row: FieldSeen) -> set[str]:
    return {row.path, row.path.rsplit(".", 1)[-1], *(row.unified or "").split(",")} - {""}


def confirm_drift(
    session: Session, tool: str, name: str, at: dt.datetime | None = None
) -> list[FieldSeen]:
    """An admin's word that ``name`` (the tool path, its last part, or the unified field) is
    gone from ``tool`` on purpose: its writes go again. Returns the rows confirmed."""
    rows = [r for r in open_drift(session, tool) if name in _names(r) and r.confirmed_at is None]
    for row in rows:
        row.confirmed_at = at or utcnow()
        session.add(row)
    session.flush()
    return rows
