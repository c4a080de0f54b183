"""Sync runs: one row per flow run, the anchor of its journal and dead letters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from state.models import Run, RunStatus
from state.types import utcnow

__all__ = [
    "UnknownRunError",
    "finish_run",
    "get_run",
    "last_finished_run",
    "last_runs",
    "start_run",
]


class UnknownRunError(KeyError):
    """A run id that `start_run` never recorded."""


def start_run(
    session: Session,
    run_id: str,
    flow_run_id: str | None,
    dry_run: bool,
    *,
    at: dt.datetime | None = None,
) -> Run:
    """Record a run as `running`. Call it (and commit) first: journal entries, dead letters,
    decisions and cursors refer to the run id by foreign key."""
    run = Run(id=run_id, flow_run_id=flow_run_id, dry_run=dry_run, started_at=at or utcnow())
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def finish_run(
    session: Session,
    run_id: str,
    status: RunStatus,
    summary: dict[str, Any] | None,
    *,
    at: dt.datetime | None = None,
) -> Run:
    """Close a run as `completed` or `failed` with its summary (counts, not record data)."""
    if status not in ("completed", "failed"):
        raise ValueError(f"a run finishes as completed or failed, not {status!r}")
    run = session.get(Run, run_id)
    if run is None:
        raise UnknownRunError(run_id)
    run.status = status
    run.summary = summary
    run.ended_at = at or utcnow()
    session.add(run)
    session.flush()
    return run


def last_runs(session: Session, n: int = 10) -> list[Run]:
    """The `n` most recently started runs, newest first."""
    stmt = select(Run).order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(n)
    return list(session.exec(stmt))


def last_finished_run(session: Session, *, besides: str | None = None) -> Run | None:
    """The real (not dry) run that ended last, other than ``besides``."""
    stmt = select(Run).where(col(Run.ended_at).is_not(None), Run.dry_run == False)  # noqa: E712
    if besides is not None:
        stmt = stmt.where(Run.id != besides)
    return session.exec(stmt.order_by(col(Run.ended_at).desc()).limit(1)).first()
