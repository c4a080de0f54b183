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
    open_dead_letters,
    resolve_dead_letter,
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
