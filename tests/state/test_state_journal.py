"""The write journal: planned before the remote write, applied or failed after."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from state.db import session_scope
from state.journal import (
    MAX_ERROR_CHARS,
    JournalStateError,
    entries_for_run,
    mark_applied,
    mark_failed,
    pending_entries,
    plan_write,
    plan_writes,
    record_held,
)
from state.runs import start_run

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def runs(state_engine: Engine) -> Engine:
    with session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False)
        start_run(session, "r2", None, dry_run=False)
    return state_engine


def test_create_lifecycle_planned_then_applied(runs: Engine) -> None:
    with session_scope(runs) as session:
        entry_id = plan_write(
            session,
            "r1",
            "hubspot",
            "person",
            "create",
            unified_id="u1",
            natural_key="a@x.io",
            after={"email": "a@x.io"},
            at=T0,
        )
    with Session(runs) as session:
        (entry,) = entries_for_run(session, "r1")
        assert (entry.id, entry.status, entry.record_id, entry.before) == (
            entry_id,
            "planned",
            None,
            None,
        )
        assert entry.created_at == T0
    done = T0 + dt.timedelta(seconds=2)
    with session_scope(runs) as session:
        mark_applied(session, entry_id, "1001", {"email": "a@x.io", "id": "1001"}, at=done)
    with Session(runs) as session:
        (entry,) = entries_for_run(session, "r1")
        assert (entry.status, entry.record_id) == ("applied", "1001")
        assert entry.after == {"email": "a@x.io", "id": "1001"}
        assert entry.applied_at == done
        assert entry.applied_at.tzinfo is dt.UTC
        assert pending_entries(session) == []


def test_update_lifecycle_planned_then_failed(runs: Engine) -> None:
    with session_scope(runs) as session:
        entry_id = plan_write(
            session,
            "r1",
            "mailchimp",
            "person",
            "update",
            record_id="abc",
            before={"first_name": "Al"},
            after={"first_name": "Alan"},
        )
        mark_failed(session, entry_id, "400 invalid merge field " + "x" * 10_000)
    with Session(runs) as session:
        (entry,) = entries_for_run(session, "r1")
        assert entry.status == "failed"
        assert entry.error is not None
        assert entry.error.startswith("400 invalid merge field")
        assert len(entry.error) == MAX_ERROR_CHARS
        assert entry.before == {"first_name": "Al"}
        assert entry.record_id == "abc"


def test_only_planned_entries_move_on(runs: Engine) -> None:
    with session_scope(runs) as session:
        applied = plan_write(session, "r1", "hubspot", "person", "update", record_id="1")
        mark_applied(session, applied, None, None)
        with pytest.raises(JournalStateError, match="applied"):
            mark_failed(session, applied, "late")
        with pytest.raises(JournalStateError, match="applied"):
            mark_applied(session, applied, "1", None)
        with pytest.raises(JournalStateError, match="does not exist"):
            mark_applied(session, 999_999, "1", None)
        created = plan_write(session, "r1", "hubspot", "person", "create", natural_key="a@x.io")
        with pytest.raises(JournalStateError, match="without a record id"):
            mark_applied(session, created, None, None)


def test_bad_plans_are_refused(runs: Engine) -> None:
    with Session(runs) as session:
        with pytest.raises(ValueError, match="record_id"):
            plan_write(session, "r1", "hubspot", "person", "update")
        with pytest.raises(ValueError, match="create, update or archive"):
            plan_write(session, "r1", "hubspot", "person", "delete", record_id="1")  # type: ignore[arg-type]


def test_pending_entries_are_what_a_crash_left_behind(runs: Engine) -> None:
    with session_scope(runs) as session:
        done = plan_write(session, "r1", "hubspot", "person", "update", record_id="1")
        mark_applied(session, done, None, {"x": 1})
        lost_hs = plan_write(session, "r1", "hubspot", "person", "create", natural_key="a@x.io")
        lost_mc = plan_write(session, "r2", "mailchimp", "person", "create", natural_key="b@x.io")
        failed = plan_write(session, "r2", "mailchimp", "person", "update", record_id="h")
        mark_failed(session, failed, "rejected")
    # The process died between those remote calls and their local record. A plan that was
    # never committed (the crash came before the commit) left nothing behind.
    with Session(runs) as session:
        plan_write(session, "r2", "hubspot", "person", "create", natural_key="c@x.io")
    with Session(runs) as session:
        pending = pending_entries(session)
        assert [(e.id, e.natural_key) for e in pending] == [
            (lost_hs, "a@x.io"),
            (lost_mc, "b@x.io"),
        ]
        assert [e.id for e in pending_entries(session, tool="mailchimp")] == [lost_mc]


def test_entries_for_run_in_write_order(runs: Engine) -> None:
    with session_scope(runs) as session:
        ids = plan_writes(
            session,
            [
                {
                    "run_id": "r1",
                    "tool": "hubspot",
                    "entity": "person",
                    "op": "create",
                    "natural_key": f"{i}@x.io",
                    "after": {"email": f"{i}@x.io"},
                }
                for i in range(5)
            ]
            + [
                {
                    "run_id": "r2",
                    "tool": "hubspot",
                    "entity": "person",
                    "op": "update",
                    "record_id": "9",
                    "at": T0,
                }
            ],
        )
        assert len(ids) == 6
        assert len(set(ids)) == 6
    with Session(runs) as session:
        r1 = entries_for_run(session, "r1")
        assert [e.id for e in r1] == ids[:5]
        assert [e.natural_key for e in r1] == [f"{i}@x.io" for i in range(5)]
        assert r1[3].after == {"email": "3@x.io"}
        assert {e.status for e in r1} == {"planned"}
        (r2,) = entries_for_run(session, "r2")
        assert (r2.id, r2.created_at) == (ids[5], T0)
        assert entries_for_run(session, "r3") == []
    with Session(runs) as session:
        assert plan_writes(session, []) == []


def test_held_writes_are_final_with_their_reason_and_never_pending(runs: Engine) -> None:
    """A write revsync decided not to make (consent) is journaled as held, not as planned."""
    with session_scope(runs) as session:
        count = record_held(
            session,
            [
                {
                    "run_id": "r1",
                    "tool": "mailchimp",
                    "entity": "person",
                    "op": "update",
                    "record_id": "abc",
                    "unified_id": "u1",
                    "before": {"email_consent": "unsubscribed"},
                    "after": {"email_consent": "subscribed"},
                    "reason": "email_consent stays unsubscribed",
                },
                {
                    "run_id": "r1",
                    "tool": "mailchimp",
                    "entity": "person",
                    "op": "create",
                    "unified_id": "u2",
                    "after": {"email_consent": "cleaned"},
                    "reason": "x" * (MAX_ERROR_CHARS + 10),
                },
            ],
        )
        assert count == 2
        assert record_held(session, []) == 0
        again = {
            "run_id": "r2",
            "tool": "mailchimp",
            "entity": "person",
            "op": "update",
            "record_id": "abc",
            "unified_id": "u1",
            "reason": "email_consent stays unsubscribed",
        }
        assert record_held(session, [again]) == 0  # a later run's same decision
        assert record_held(session, [{**again, "reason": "another"}]) == 1
    with Session(runs) as session:
        held = entries_for_run(session, "r1")
        assert [(e.status, e.op, e.unified_id) for e in held] == [
            ("held", "update", "u1"),
            ("held", "create", "u2"),
        ]
        assert held[0].error == "email_consent stays unsubscribed"
        assert held[0].before == {"email_consent": "unsubscribed"}
        assert len(held[1].error or "") == MAX_ERROR_CHARS
        assert pending_entries(session) == []
        with pytest.raises(JournalStateError, match="held, not planned"):
            mark_applied(session, held[0].id or 0, "abc", None)
