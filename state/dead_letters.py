"""Dead letters: records that failed a stage, kept with reason and payload so the run goes on
and the cursor may move past them (invariant 3). Payloads are record data only, never
credentials; datetimes in them become ISO strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from state.models import DEAD_LETTER_STAGES, DeadLetter, DeadLetterStage
from state.types import utcnow

__all__ = [
    "MAX_REASON_CHARS",
    "add_dead_letter",
    "dead_letters_for_run",
    "open_dead_letters",
    "resolve_dead_letter",
]

MAX_REASON_CHARS = 4000


def add_dead_letter(
    session: Session,
    run_id: str,
    tool: str,
    stream: str,
    record_id: str | None,
    stage: DeadLetterStage,
    reason: str,
    payload: dict[str, Any] | None,
    *,
    at: dt.datetime | None = None,
) -> int:
    """Park one failed record; returns the dead letter's id."""
    if stage not in DEAD_LETTER_STAGES:
        raise ValueError(f"dead letter stage is one of {DEAD_LETTER_STAGES}, not {stage!r}")
    letter = DeadLetter(
        run_id=run_id,
        tool=tool,
        stream=stream,
        record_id=record_id,
        stage=stage,
        reason=reason[:MAX_REASON_CHARS],
        payload=payload,
        created_at=at or utcnow(),
    )
    session.add(letter)
    session.flush()
    assert letter.id is not None
    return letter.id


def dead_letters_for_run(session: Session, run_id: str) -> list[DeadLetter]:
    stmt = select(DeadLetter).where(DeadLetter.run_id == run_id).order_by(col(DeadLetter.id))
    return list(session.exec(stmt))


def open_dead_letters(session: Session, tool: str | None = None) -> list[DeadLetter]:
    """Unresolved dead letters, oldest first: what a replay should retry."""
    stmt = select(DeadLetter).where(col(DeadLetter.resolved_at).is_(None))
    if tool is not None:
        stmt = stmt.where(DeadLetter.tool == tool)
    return list(session.exec(stmt.order_by(col(DeadLetter.id))))


def resolve_dead_letter(
    session: Session, letter_id: int, *, at: dt.datetime | None = None
) -> DeadLetter:
    """Close a dead letter once a replay processed the record."""
    letter = session.get(DeadLetter, letter_id)
    if letter is None:
        raise KeyError(letter_id)
    letter.resolved_at = at or utcnow()
    session.add(letter)
    session.flush()
    return letter
