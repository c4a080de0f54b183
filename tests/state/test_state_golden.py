"""Golden records: bulk upsert, filtered loads, provenance with datetimes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from state.db import session_scope
from state.golden import goldens_saved_since, load_golden, save_golden

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)


def _golden(
    uid: str, email: str, *, entity: str = "person", at: dt.datetime = T0
) -> dict[str, Any]:
    return {
        "unified_id": uid,
        "entity": entity,
        "values": {"email": email, "phone": None},
        "provenance": {
            "email": {"tool": "hubspot", "record_id": "1", "updated_at": at, "value": email}
        },
        "created_at": at,
        "updated_at": at,
    }


def test_save_and_load(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        assert save_golden(session, [_golden("u1", "a@x.io"), _golden("u2", "b@x.io")]) == 2
        save_golden(session, [_golden("c1", "acme", entity="company")])
    with Session(state_engine) as session:
        people = load_golden(session, "person")
        assert sorted(people) == ["u1", "u2"]
        u1 = people["u1"]
        assert u1.values == {"email": "a@x.io", "phone": None}
        assert u1.provenance["email"] == {
            "tool": "hubspot",
            "record_id": "1",
            "updated_at": "2024-01-01T00:00:00+00:00",
            "value": "a@x.io",
        }
        assert u1.created_at == T0
        assert u1.created_at.tzinfo is dt.UTC
        assert sorted(load_golden(session, "company")) == ["c1"]


def test_load_a_subset(state_session: Session) -> None:
    save_golden(state_session, [_golden(f"u{i}", f"{i}@x.io") for i in range(20)])
    save_golden(state_session, [_golden("c1", "acme", entity="company")])
    subset = load_golden(state_session, "person", iter(["u3", "u7", "missing", "c1"]))
    assert sorted(subset) == ["u3", "u7"]
    assert load_golden(state_session, "person", []) == {}


def test_resave_keeps_created_at_and_is_idempotent(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        save_golden(session, [_golden("u1", "a@x.io", at=T0)])
        save_golden(session, [_golden("u1", "new@x.io", at=T1)])
    with Session(state_engine) as session:
        first = load_golden(session, "person")["u1"].model_dump()
        assert first["values"]["email"] == "new@x.io"
        assert (first["created_at"], first["updated_at"]) == (T0, T1)
    with session_scope(state_engine) as session:
        save_golden(session, [_golden("u1", "new@x.io", at=T1)])
    with Session(state_engine) as session:
        assert load_golden(session, "person")["u1"].model_dump() == first


def test_timestamps_default_to_now(state_session: Session) -> None:
    row = _golden("u1", "a@x.io")
    del row["created_at"], row["updated_at"]
    before = dt.datetime.now(dt.UTC)
    save_golden(state_session, [row])
    saved = load_golden(state_session, "person")["u1"]
    assert saved.created_at >= before
    assert saved.updated_at == saved.created_at


def test_rows_without_values_are_refused(state_session: Session) -> None:
    row = _golden("u1", "a@x.io")
    del row["values"]
    with pytest.raises(ValueError, match="values"):
        save_golden(state_session, [row])


def test_goldens_saved_since_a_moment_are_the_ones_changed_after_it(state_session: Session) -> None:
    later = T0 + dt.timedelta(hours=1)
    save_golden(state_session, [_golden("u1", "a@x.io", at=T0), _golden("u2", "b@x.io", at=later)])
    save_golden(state_session, [_golden("c1", "acme", entity="company", at=later)])

    assert goldens_saved_since(state_session, "person", T0) == {"u2"}
    assert goldens_saved_since(state_session, "person", later) == set()
    assert goldens_saved_since(state_session, "company", T0) == {"c1"}
