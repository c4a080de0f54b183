"""Cursor round trips: the CDK's state blob comes back exactly as it was saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from state.cursors import load_cursor, save_cursor
from state.db import session_scope
from state.models import Cursor
from state.runs import start_run

# The shape the CDK emits for a partitioned incremental stream (per-partition + global state).
CDK_STATE: dict[str, Any] = {
    "use_global_cursor": False,
    "state": {"lastmodifieddate": "2024-05-01T10:30:00.000Z"},
    "states": [
        {
            "partition": {"list_id": "a1b2c3d4e5", "parent_slice": {}},
            "cursor": {"last_changed": "2024-05-01T10:30:00+00:00"},
        },
        {"partition": {"list_id": "zz"}, "cursor": {"last_changed": None}},
    ],
    "lookback_window": 0,
    "parent_state": {"lists": {"state": {"date_created": 1714559400}}},
    "flags": [True, 1.5, None],
}


def _with_runs(engine: Engine, *run_ids: str) -> None:
    with session_scope(engine) as session:
        for run_id in run_ids:
            start_run(session, run_id, None, dry_run=False)


def test_missing_cursor_is_none(state_session: Session) -> None:
    assert load_cursor(state_session, "hubspot", "contacts") is None


def test_nested_cdk_state_round_trips(state_engine: Engine) -> None:
    _with_runs(state_engine, "r1")
    with session_scope(state_engine) as session:
        save_cursor(session, "mailchimp", "members", CDK_STATE, "r1")
    with Session(state_engine) as session:
        assert load_cursor(session, "mailchimp", "members") == CDK_STATE


def test_save_replaces_state_and_run(state_engine: Engine) -> None:
    _with_runs(state_engine, "r1", "r2")
    later = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC)
    with session_scope(state_engine) as session:
        save_cursor(session, "hubspot", "contacts", {"v": 1}, "r1")
    with session_scope(state_engine) as session:
        save_cursor(session, "hubspot", "contacts", {"v": 2}, "r2", at=later)
    with Session(state_engine) as session:
        assert load_cursor(session, "hubspot", "contacts") == {"v": 2}
        row = session.get(Cursor, ("hubspot", "contacts"))
        assert row is not None
        assert row.run_id == "r2"
        assert row.updated_at == later
        assert row.updated_at.tzinfo is dt.UTC


def test_streams_are_independent(state_engine: Engine) -> None:
    _with_runs(state_engine, "r1")
    with session_scope(state_engine) as session:
        save_cursor(session, "hubspot", "contacts", {"h": 1}, "r1")
        save_cursor(session, "mailchimp", "members", {"m": 1}, "r1")
        save_cursor(session, "hubspot", "companies", {"c": 1}, None)
    with Session(state_engine) as session:
        assert load_cursor(session, "hubspot", "contacts") == {"h": 1}
        assert load_cursor(session, "mailchimp", "members") == {"m": 1}
        assert load_cursor(session, "hubspot", "companies") == {"c": 1}
        assert load_cursor(session, "mailchimp", "contacts") is None


def test_loaded_cursor_sees_a_later_save_in_the_same_session(state_session: Session) -> None:
    save_cursor(state_session, "hubspot", "contacts", {"v": 1}, None)
    assert load_cursor(state_session, "hubspot", "contacts") == {"v": 1}
    save_cursor(state_session, "hubspot", "contacts", {"v": 2}, None)
    assert load_cursor(state_session, "hubspot", "contacts") == {"v": 2}
