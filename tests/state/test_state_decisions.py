"""Match decisions: the evidence of every link is stored and can be read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from state.db import session_scope
from state.decisions import decisions_for, decisions_for_record, record_decisions
from state.runs import start_run

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _decision(uid: str, tool: str, record_id: str, rule: str, **extra: Any) -> dict[str, Any]:
    return {
        "entity": "person",
        "unified_id": uid,
        "tool": tool,
        "record_id": record_id,
        "rule": rule,
        "evidence": {"keys": {"email": "a@x.io"}, "agreed": [rule]},
        **extra,
    }


def test_record_and_read_back(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        start_run(session, "r1", None, dry_run=False)
        n = record_decisions(
            session,
            [
                _decision("u1", "mailchimp", "h1", "email", score=1.0, decided_at=T0, run_id="r1"),
                _decision("u1", "hubspot", "7", "new", decided_at=T0 - dt.timedelta(days=1)),
                _decision("u2", "hubspot", "8", "phone", score=0.9),
            ],
        )
        assert n == 3
    with Session(state_engine) as session:
        found = decisions_for(session, "u1")
        assert [(d.tool, d.rule) for d in found] == [("hubspot", "new"), ("mailchimp", "email")]
        email = found[1]
        assert email.evidence == {"keys": {"email": "a@x.io"}, "agreed": ["email"]}
        assert (email.score, email.run_id, email.decided_at) == (1.0, "r1", T0)
        assert email.decided_at.tzinfo is dt.UTC
        assert found[0].score is None
        assert found[0].run_id is None
        assert decisions_for(session, "nobody") == []


def test_history_of_one_record(state_session: Session) -> None:
    record_decisions(
        state_session,
        [
            _decision("u1", "hubspot", "7", "email", decided_at=T0),
            _decision("u9", "hubspot", "7", "merge", decided_at=T0 + dt.timedelta(hours=1)),
            _decision("u1", "mailchimp", "7", "email"),
        ],
    )
    history = decisions_for_record(state_session, "hubspot", "7")
    assert [d.unified_id for d in history] == ["u1", "u9"]


def test_bad_rows_are_refused(state_session: Session) -> None:
    row = _decision("u1", "hubspot", "7", "email")
    del row["evidence"]
    with pytest.raises(ValueError, match="evidence"):
        record_decisions(state_session, [row])
    with pytest.raises(ValueError, match="colour"):
        record_decisions(state_session, [{**_decision("u1", "hubspot", "7", "e"), "colour": 1}])
    assert record_decisions(state_session, []) == 0
