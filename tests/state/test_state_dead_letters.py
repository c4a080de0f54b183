"""Dead letters: failed records parked with their reason and payload."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError
from sqlmodel import Session

from state.db import session_scope
from state.dead_letters import (
    MAX_REASON_CHARS,
    add_dead_letter,
    dead_letters_for_run,
    failed_writes,
    open_dead_letters,
    resolve_dead_letter,
    resolve_failed_writes,
)
from state.runs import start_run

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def runs(state_engine: Engine) -> Engine:
    with session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False)
        start_run(session, "r2", None, dry_run=False)
    return state_engine


def test_add_and_list(runs: Engine) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    with session_scope(runs) as session:
        first = add_dead_letter(
            session,
            "r1",
            "hubspot",
            "contacts",
            "42",
            "map",
            "invalid email 'not-an-email'",
            {
                "id": "42",
                "properties": {"lastmodifieddate": dt.datetime(2024, 5, 1, 12, tzinfo=berlin)},
            },
            at=T0,
        )
        add_dead_letter(session, "r1", "mailchimp", "members", None, "extract", "page 3", None)
        add_dead_letter(session, "r2", "hubspot", "contacts", "43", "apply", "409", {"id": "43"})
    with Session(runs) as session:
        letters = dead_letters_for_run(session, "r1")
        assert [(d.tool, d.stage, d.record_id) for d in letters] == [
            ("hubspot", "map", "42"),
            ("mailchimp", "extract", None),
        ]
        assert letters[0].id == first
        assert letters[0].payload == {
            "id": "42",
            "properties": {"lastmodifieddate": "2024-05-01T11:00:00+00:00"},
        }
        assert letters[0].created_at == T0
        assert letters[1].payload is None
        assert [d.record_id for d in open_dead_letters(session, tool="hubspot")] == ["42", "43"]
        assert len(open_dead_letters(session)) == 3


def test_resolve_closes(runs: Engine) -> None:
    with session_scope(runs) as session:
        a = add_dead_letter(session, "r1", "hubspot", "contacts", "1", "match", "why", {})
        b = add_dead_letter(session, "r1", "hubspot", "contacts", "2", "match", "why", {})
        resolved = resolve_dead_letter(session, a, at=T0)
        assert resolved.resolved_at == T0
        with pytest.raises(KeyError):
            resolve_dead_letter(session, 999_999)
    with Session(runs) as session:
        assert [d.id for d in open_dead_letters(session)] == [b]
        assert len(dead_letters_for_run(session, "r1")) == 2


def test_long_reasons_are_cut_and_bad_stages_refused(runs: Engine) -> None:
    with Session(runs) as session:
        letter_id = add_dead_letter(session, "r1", "t", "s", "1", "apply", "y" * 50_000, None)
        (letter,) = dead_letters_for_run(session, "r1")
        assert (letter.id, len(letter.reason)) == (letter_id, MAX_REASON_CHARS)
        with pytest.raises(ValueError, match="stage"):
            add_dead_letter(session, "r1", "t", "s", "1", "load", "x", None)  # type: ignore[arg-type]


def test_secrets_in_a_payload_are_refused(runs: Engine) -> None:
    with Session(runs) as session, pytest.raises(StatementError, match="secrets") as info:
        add_dead_letter(
            session, "r1", "t", "s", "1", "apply", "x", {"token": SecretStr("pat-na1-secret")}
        )
    assert "pat-na1-secret" not in str(info.value)


def test_failed_writes_group_open_apply_letters_by_golden_and_close_by_golden(runs: Engine) -> None:
    def fail(
        run: str, uid: str, at: dt.datetime, *, transient: bool, stream: str = "members"
    ) -> None:
        payload = {"unified_id": uid, "op": "update", **({"transient": True} if transient else {})}
        add_dead_letter(session, run, "mailchimp", stream, "m1", "apply", "503", payload, at=at)

    later = T0 + dt.timedelta(hours=1)
    with session_scope(runs) as session:
        fail("r1", "u1", T0, transient=True)
        fail("r2", "u1", later, transient=True)
        fail("r1", "u2", T0, transient=True)
        fail("r2", "u2", later, transient=False)  # refused the second time
        fail("r1", "u3", T0, transient=True, stream="other")
        add_dead_letter(
            session, "r1", "mailchimp", "members", "m9", "map", "bad", {"unified_id": "u4"}
        )
        add_dead_letter(
            session, "r1", "hubspot", "members", "h1", "apply", "503", {"unified_id": "u5"}
        )

        found = {f.unified_id: f for f in failed_writes(session, "mailchimp", ["members"])}
        assert set(found) == {"u1", "u2"}, "other streams, stages and tools are not this one's"
        assert (found["u1"].attempts, found["u1"].last_at, found["u1"].transient) == (
            2,
            later,
            True,
        )
        assert (found["u2"].attempts, found["u2"].transient) == (2, False)

        assert resolve_failed_writes(session, "mailchimp", ["members"], {"u1"}, at=later) == 2
        assert resolve_failed_writes(session, "mailchimp", ["members"], set()) == 0
        assert [f.unified_id for f in failed_writes(session, "mailchimp", ["members"])] == ["u2"]
        assert len(failed_writes(session, "mailchimp", ["members", "other"])) == 2
