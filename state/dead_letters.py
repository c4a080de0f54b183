"""Dead letters: records that failed a stage, kept with reason and payload so the run goes on
and the cursor may move past them (invariant 3). Payloads are record data only, never
credentials; datetimes in them become ISO strings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from state.models import DEAD_LETTER_STAGES, DeadLetter, DeadLetterAttempt, DeadLetterStage
from state.types import utcnow

__all__ = [
    "MAX_REASON_CHARS",
    "FailedWrite",
    "add_dead_letter",
    "attempts_for",
    "dead_letters_for_run",
    "dismiss_dead_letters",
    "failed_writes",
    "find_dead_letters",
    "open_dead_letters",
    "open_for_stream",
    "record_attempt",
    "resolve_dead_letter",
    "resolve_dead_letters",
    "resolve_failed_writes",
    "same_record_letters",
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


def open_for_stream(
    session: Session, tool: str, stream: str, stage: DeadLetterStage
) -> list[DeadLetter]:
    """Unresolved dead letters of one stage of one tool's stream, oldest first."""
    stmt = select(DeadLetter).where(
        col(DeadLetter.resolved_at).is_(None),
        DeadLetter.tool == tool,
        DeadLetter.stream == stream,
        DeadLetter.stage == stage,
    )
    return list(session.exec(stmt.order_by(col(DeadLetter.id))))


def resolve_dead_letters(
    session: Session, letter_ids: Iterable[int], *, at: dt.datetime | None = None
) -> int:
    """Close these dead letters (the record went through since); unknown ids are ignored."""
    when = at or utcnow()
    closed = 0
    for letter_id in sorted(set(letter_ids)):
        letter = session.get(DeadLetter, letter_id)
        if letter is not None and letter.resolved_at is None:
            letter.resolved_at = when
            session.add(letter)
            closed += 1
    session.flush()
    return closed


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


@dataclass(frozen=True)
class FailedWrite:
    """The open write failures of one golden record in one tool."""

    unified_id: str
    attempts: int
    last_at: dt.datetime
    transient: bool
    """The last failure was the call's (an outage, retries exhausted), not the record's."""
    reason: str
    """The last failure's reason, as the tool said it."""
    payload: dict[str, Any]
    """What the last failed write sent: ``op`` and the payload (with ``unified_id``)."""


def _open_writes(session: Session, tool: str, streams: Iterable[str]) -> list[DeadLetter]:
    stmt = select(DeadLetter).where(
        col(DeadLetter.resolved_at).is_(None),
        DeadLetter.stage == "apply",
        DeadLetter.tool == tool,
        col(DeadLetter.stream).in_(sorted(set(streams))),
    )
    return list(session.exec(stmt.order_by(col(DeadLetter.id))))


def failed_writes(session: Session, tool: str, streams: Iterable[str]) -> list[FailedWrite]:
    """Each golden record whose write to ``tool`` (one of its ``streams``) failed and is still
    open, with how often it failed: what the next run re-plans."""
    by_golden: dict[str, list[DeadLetter]] = {}
    for letter in _open_writes(session, tool, streams):
        uid = (letter.payload or {}).get("unified_id")
        if isinstance(uid, str) and uid:
            by_golden.setdefault(uid, []).append(letter)
    return [
        FailedWrite(
            unified_id=uid,
            attempts=len(letters),
            last_at=letters[-1].created_at,
            transient=bool((letters[-1].payload or {}).get("transient")),
            reason=letters[-1].reason,
            payload=dict(letters[-1].payload or {}),
        )
        for uid, letters in sorted(by_golden.items())
    ]


def resolve_failed_writes(
    session: Session,
    tool: str,
    streams: Iterable[str],
    unified_ids: Iterable[str],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Close the open write failures of these golden records in ``tool``: written since, or
    no longer needing the write. Returns how many were closed."""
    wanted = set(unified_ids)
    if not wanted:
        return 0
    when = at or utcnow()
    closed = 0
    for letter in _open_writes(session, tool, streams):
        if (letter.payload or {}).get("unified_id") in wanted:
            letter.resolved_at = when
            session.add(letter)
            closed += 1
    session.flush()
    return closed


def find_dead_letters(
    session: Session,
    *,
    tool: str | None = None,
    reason: str | None = None,
    ids: Iterable[int] | None = None,
    open_only: bool = True,
) -> list[DeadLetter]:
    """Dead letters by tool, by a piece of their reason (any case) or by id, oldest first."""
    stmt = select(DeadLetter)
    if open_only:
        stmt = stmt.where(col(DeadLetter.resolved_at).is_(None))
    if tool is not None:
        stmt = stmt.where(DeadLetter.tool == tool)
    if reason:
        stmt = stmt.where(col(DeadLetter.reason).icontains(reason, autoescape=True))
    if ids is not None:
        stmt = stmt.where(col(DeadLetter.id).in_(sorted(set(ids))))
    return list(session.exec(stmt.order_by(col(DeadLetter.id))))


def record_attempt(
    session: Session,
    letter_id: int,
    outcome: str,
    *,
    run_id: str | None = None,
    reason: str | None = None,
    by: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Note what a replay or a person did with a dead letter (``failed``, ``resolved``,
    ``dismissed``); a resolved or dismissed letter is closed too."""
    when = at or utcnow()
    session.add(
        DeadLetterAttempt(
            letter_id=letter_id,
            run_id=run_id,
            outcome=outcome,
            reason=None if reason is None else reason[:MAX_REASON_CHARS],
            by=by,
            at=when,
        )
    )
    if outcome in ("resolved", "dismissed"):
        letter = session.get(DeadLetter, letter_id)
        if letter is not None and letter.resolved_at is None:
            letter.resolved_at = when
            session.add(letter)
    session.flush()


def attempts_for(session: Session, letter_id: int) -> list[DeadLetterAttempt]:
    stmt = select(DeadLetterAttempt).where(DeadLetterAttempt.letter_id == letter_id)
    return list(session.exec(stmt.order_by(col(DeadLetterAttempt.id))))


def same_record_letters(session: Session, letter: DeadLetter) -> list[DeadLetter]:
    """Every dead letter of the same record in the same tool and stage (open or closed), oldest
    first: a write filed again by each run that failed it, a record read again and refused."""
    stmt = select(DeadLetter).where(
        DeadLetter.tool == letter.tool,
        DeadLetter.stream == letter.stream,
        DeadLetter.stage == letter.stage,
    )
    uid = (letter.payload or {}).get("unified_id")
    if letter.stage == "apply" and isinstance(uid, str):
        found = [d for d in session.exec(stmt) if (d.payload or {}).get("unified_id") == uid]
    elif letter.record_id is not None:
        found = list(session.exec(stmt.where(DeadLetter.record_id == letter.record_id)))
    else:
        found = [letter]
    return sorted(found, key=lambda d: d.id or 0)


def dismiss_dead_letters(
    session: Session, letter_ids: Iterable[int], *, by: str, note: str | None = None
) -> int:
    """Close open dead letters no run should retry, saying who did and why; unknown or closed
    ids are ignored. Returns how many were closed."""
    closed = 0
    for letter in find_dead_letters(session, ids=letter_ids):
        assert letter.id is not None
        record_attempt(session, letter.id, "dismissed", reason=note, by=by)
        closed += 1
    return closed
