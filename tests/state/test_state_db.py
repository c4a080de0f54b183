"""Engine, schema, transaction scope and timestamp handling on both backends."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session

from state.db import STATE_URL_ENV, default_sqlite_url, engine_from_url, init_schema, session_scope
from state.journal import plan_write
from state.models import ALL_TABLES, JournalEntry, Run
from state.runs import get_run, start_run


def test_default_url_is_a_sqlite_file_under_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STATE_URL_ENV, raising=False)
    engine = engine_from_url()
    try:
        assert engine.url.database == str(tmp_path.resolve() / ".revsync" / "state.db")
        assert (tmp_path / ".revsync").is_dir()
        init_schema(engine)
        assert (tmp_path / ".revsync" / "state.db").is_file()
    finally:
        engine.dispose()
    assert default_sqlite_url(tmp_path).endswith("/.revsync/state.db")


def test_env_url_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "s.db"
    monkeypatch.setenv(STATE_URL_ENV, f"sqlite:///{target}")
    engine = engine_from_url()
    try:
        assert engine.url.database == str(target)
        assert target.parent.is_dir()
    finally:
        engine.dispose()


def test_explicit_url_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_URL_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    engine = engine_from_url(f"sqlite:///{tmp_path / 'arg.db'}")
    try:
        assert engine.url.database == str(tmp_path / "arg.db")
    finally:
        engine.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = engine_from_url(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_password_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="state.db")
    engine = engine_from_url("postgresql+psycopg://revsync:hunter2@127.0.0.1:1/x")
    engine.dispose()
    assert "127.0.0.1:1/x" in caplog.text
    assert "hunter2" not in caplog.text


def test_init_schema_creates_every_table_and_is_idempotent(state_engine: Engine) -> None:
    init_schema(state_engine)  # second time on an existing schema
    names = set(inspect(state_engine).get_table_names())
    expected = {table.name for table in ALL_TABLES}
    assert expected <= names
    assert expected == {
        "runs",
        "cursors",
        "links",
        "golden_records",
        "match_decisions",
        "journal",
        "dead_letters",
        "review_items",
        "cannot_links",
        "match_models",
        "fields_seen",
        "dead_letter_attempts",
    }


def test_session_scope_commits(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        start_run(session, "r1", "flow-1", dry_run=False)
    with Session(state_engine) as session:
        run = get_run(session, "r1")
        assert run is not None
        assert run.flow_run_id == "flow-1"


def _start_run_then_fail(engine: Engine) -> None:
    with session_scope(engine) as session:
        start_run(session, "r1", None, dry_run=True)
        raise RuntimeError("boom")


def test_session_scope_rolls_back_on_error(state_engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _start_run_then_fail(state_engine)
    with Session(state_engine) as session:
        assert get_run(session, "r1") is None


def test_foreign_keys_are_enforced(state_engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(state_engine) as session:
        plan_write(session, "no-such-run", "hubspot", "person", "create", natural_key="a@b.c")


def test_check_constraints_are_enforced(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False)
    with session_scope(state_engine) as session:
        session.add(JournalEntry(run_id="r1", tool="t", entity="person", op="delete"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_timestamps_read_back_as_aware_utc(state_engine: Engine) -> None:
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    started = dt.datetime(2024, 3, 10, 23, 45, 12, 123456, tzinfo=kolkata)
    with session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False, at=started)
    with Session(state_engine) as session:
        if state_engine.dialect.name == "postgresql":
            # A session zone other than UTC must not leak into what callers get.
            session.connection().execute(text("SET TIME ZONE 'America/New_York'"))
        run = session.get(Run, "r1")
        assert run is not None
        assert run.started_at == started
        assert run.started_at.tzinfo is dt.UTC
        assert run.started_at.hour == 18  # 23:45 +05:30 is 18:15 UTC


def test_naive_timestamps_are_refused(state_engine: Engine) -> None:
    naive = dt.datetime(2024, 1, 1, 12, 0)  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive"), session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False, at=naive)
