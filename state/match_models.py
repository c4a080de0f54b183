"""The stored matching model: trained once, reused by every incremental run.

Without it each run would learn its own weights from what it happens to read, and the same
record could be decided differently by an incremental run and a full re-run.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from state.models import MatchModel
from state.types import utcnow

__all__ = ["load_match_model", "save_match_model"]


def load_match_model(session: Session, entity: str) -> tuple[dict[str, Any], int] | None:
    """(model parameters, records it was trained on), or None before the first training."""
    row = session.get(MatchModel, entity)
    return None if row is None else (dict(row.params), row.records)


def save_match_model(session: Session, entity: str, params: dict[str, Any], records: int) -> None:
    row = session.get(MatchModel, entity)
    if row is None:
        row = MatchModel(entity=entity, params=params, records=records)
    else:
        row.params, row.records, row.trained_at = params, records, utcnow()
    session.add(row)
    session.flush()
