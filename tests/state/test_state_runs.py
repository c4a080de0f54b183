"""Runs: start, finish, list."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from state.db import session_scope
from state.runs import (
    UnknownRunError,
    finish_run,
    get_run,
    last_finished_run,
    last_runs,
    start_run,
)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_start_and_finish(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        started = start_run(session, "r1", "flow-abc", dry_run=True, at=T0)
        assert (started.status, started.ended_at) == ("running", None)
    end = T0 + dt.timedelta(minutes=3)
    with session_scope(state_engine) as session:
        finish_run(session, "r1", "completed", {"read": 10, "written": 2}, at=end)
    with Session(state_engine) as session:
        run = get_run(session, "r1")
        assert run is not None
        assert (run.status, run.dry_run, run.flow_run_id) == ("completed", True, "flow-abc")
        assert run.summary == {"read": 10, "written": 2}
        assert (run.started_at, run.ended_at) == (T0, end)


def test_finish_failed_defaults_end_to_now(state_session: Session) -> None:
    start_run(state_session, "r1", None, dry_run=False)
    run = finish_run(state_session, "r1", "failed", None)
    assert run.status == "failed"
    assert run.ended_at is not None
    assert run.ended_at >= run.started_at


def test_finish_rejects_bad_status_and_unknown_run(state_session: Session) -> None:
    start_run(state_session, "r1", None, dry_run=False)
    with pytest.raises(ValueError, match="running"):
        finish_run(state_session, "r1", "running", None)
    with pytest.raises(UnknownRunError):
        finish_run(state_session, "nope", "completed", None)


def test_run_ids_are_unique(state_session: Session) -> None:
    start_run(state_session, "r1", None, dry_run=False)
    state_session.commit()
    with pytest.raises(IntegrityError):
        start_run(state_session, "r1", None, dry_run=False)


def test_last_runs_newest_first(state_session: Session) -> None:
    for i in (2, 0, 3, 1):
        start_run(state_session, f"r{i}", None, dry_run=False, at=T0 + dt.timedelta(hours=i))
    assert [r.id for r in last_runs(state_session, 3)] == ["r3", "r2", "r1"]
    assert len(last_runs(state_session, 10)) == 4
    assert last_runs(state_session, 0) == []


def test_last_finished_run_is_the_real_run_that_ended_last(state_session: Session) -> None:
    assert last_finished_run(state_session) is None
    for rid, dry, minutes in (("a", False, 1), ("b", False, 5), ("dry", True, 9), ("c", False, 3)):
        start_run(state_session, rid, None, dry_run=dry, at=T0)
        finish_run(state_session, rid, "completed", None, at=T0 + dt.timedelta(minutes=minutes))
    start_run(state_session, "running", None, dry_run=False, at=T0)

    found = last_finished_run(state_session)
    assert found is not None
    assert found.id == "b"
    other = last_finished_run(state_session, besides="b")
    assert other is not None
    assert other.id == "c"
