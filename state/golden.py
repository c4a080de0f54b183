"""Golden records: the merged values of one entity with per-field provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, func, select

from state._chunks import chunked
from state._upsert import bulk_upsert
from state.models import GoldenRecord
from state.types import utcnow

__all__ = [
    "golden_by_email",
    "golden_by_id",
    "golden_ids",
    "golden_version",
    "goldens_saved_since",
    "load_golden",
    "save_golden",
]


def load_golden(
    session: Session, entity: str, unified_ids: Iterable[str] | None = None
) -> dict[str, GoldenRecord]:
    """Golden records of `entity` by unified id: all of them, or only `unified_ids`."""
    if unified_ids is None:
        stmt = select(GoldenRecord).where(GoldenRecord.entity == entity)
        return {g.unified_id: g for g in session.exec(stmt)}
    found: dict[str, GoldenRecord] = {}
    for batch in chunked(unified_ids):
        stmt = select(GoldenRecord).where(
            GoldenRecord.entity == entity, col(GoldenRecord.unified_id).in_(batch)
        )
        found.update((g.unified_id, g) for g in session.exec(stmt))
    return found


def golden_ids(session: Session, entity: str) -> set[str]:
    """Every unified id of `entity`: what a full reconciliation plans over (ids only, cheap)."""
    stmt = select(GoldenRecord.unified_id).where(GoldenRecord.entity == entity)
    return set(session.exec(stmt))


def golden_version(session: Session, entity: str) -> str:
    """A token that changes when a golden record of `entity` is saved or deleted.

    Count and latest `updated_at` (every save sets it): what lets a matcher keep its index of
    the golden set between runs instead of rebuilding it from every golden record.
    """
    stmt = select(func.count(), func.max(GoldenRecord.updated_at)).where(
        GoldenRecord.entity == entity
    )
    count, latest = session.exec(stmt).one()
    return f"{count}:{latest.isoformat() if latest is not None else ''}"


def save_golden(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Bulk upsert golden records; each row has unified_id, entity, values, provenance.

    `created_at` is set on first save and kept after; `updated_at` defaults to now. Values and
    provenance are record data only (never credentials); datetimes in them become ISO strings.
    """
    now = utcnow()
    prepared = []
    for row in rows:
        full = dict(row)
        full.setdefault("created_at", now)
        full.setdefault("updated_at", now)
        prepared.append(full)
    return bulk_upsert(session, GoldenRecord, prepared, insert_only=("created_at",))


def goldens_saved_since(session: Session, entity: str, since: dt.datetime) -> set[str]:
    """Golden records of ``entity`` saved after ``since``: changed outside a sync run (a review
    decision) when ``since`` is when the last run ended."""
    stmt = select(GoldenRecord.unified_id).where(
        GoldenRecord.entity == entity, col(GoldenRecord.updated_at) > since
    )
    return set(session.exec(stmt))


def golden_by_email(session: Session, email: str) -> list[GoldenRecord]:
    """The golden records whose ``email`` value is ``email`` (any case): who an address is."""
    wanted = email.strip().lower()
    stmt = select(GoldenRecord).where(GoldenRecord.entity == "person")
    return [g for g in session.exec(stmt) if str(g.values.get("email") or "").lower() == wanted]


def golden_by_id(session: Session, unified_id: str) -> GoldenRecord | None:
    return session.get(GoldenRecord, unified_id)
