"""Links: bulk upserts, the read/write hashes, lookups and remapping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from state.db import session_scope
from state.links import (
    get_link,
    links_for_entity,
    links_for_tool,
    links_for_unified,
    owners_for_tool,
    record_read,
    record_written,
    remap_link,
    upsert_links,
)
from state.models import Link

AT = dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.UTC)


def _rows(n: int, *, tool: str = "hubspot", suffix: str = "") -> list[dict[str, Any]]:
    return [
        {
            "tool": tool,
            "entity": "person",
            "record_id": str(i),
            "unified_id": f"u{i}",
            "last_read_hash": f"h{i}{suffix}",
            "last_values": {"email": f"p{i}@example.com", "n": i},
            "last_read_at": AT,
        }
        for i in range(n)
    ]


def _table(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        links = session.exec(select(Link).order_by(Link.tool, Link.record_id)).all()
        return [link.model_dump() for link in links]


def test_upsert_is_idempotent(state_engine: Engine) -> None:
    rows = _rows(50) + _rows(5, tool="mailchimp")
    with session_scope(state_engine) as session:
        assert upsert_links(session, rows) == 55
    first = _table(state_engine)
    with session_scope(state_engine) as session:
        assert upsert_links(session, rows) == 55
    assert _table(state_engine) == first
    assert len(first) == 55
    assert first[0]["last_read_at"] == AT


def test_partial_rows_leave_other_columns_alone(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        upsert_links(session, _rows(2))
        upsert_links(
            session,
            [
                {
                    "tool": "hubspot",
                    "entity": "person",
                    "record_id": "1",
                    "unified_id": "u1",
                    "last_written_hash": "w",
                }
            ],
        )
    with Session(state_engine) as session:
        link = get_link(session, "hubspot", "person", "1")
        assert link is not None
        assert (link.unified_id, link.last_read_hash, link.last_written_hash) == ("u1", "h1", "w")
        assert link.last_values == {"email": "p1@example.com", "n": 1}


def test_hash_timestamps_default_to_now(state_session: Session) -> None:
    before = dt.datetime.now(dt.UTC)
    base = {"tool": "hubspot", "entity": "person", "unified_id": "u"}
    upsert_links(
        state_session,
        [
            {**base, "record_id": "r", "last_read_hash": "h"},
            {**base, "record_id": "w", "last_written_hash": "h"},
            {**base, "record_id": "n"},
        ],
    )
    read = get_link(state_session, "hubspot", "person", "r")
    written = get_link(state_session, "hubspot", "person", "w")
    neither = get_link(state_session, "hubspot", "person", "n")
    assert read is not None
    assert written is not None
    assert neither is not None
    assert read.last_read_at is not None
    assert read.last_read_at >= before
    assert read.last_written_at is None
    assert written.last_written_at is not None
    assert written.last_written_at >= before
    assert written.last_read_at is None
    assert (neither.last_read_at, neither.last_written_at) == (None, None)


def test_last_row_wins_for_a_repeated_key(state_session: Session) -> None:
    rows = [*_rows(1), {**_rows(1)[0], "unified_id": "later"}]
    assert upsert_links(state_session, rows) == 1
    link = get_link(state_session, "hubspot", "person", "0")
    assert link is not None
    assert link.unified_id == "later"


def test_bad_rows_are_refused(state_session: Session) -> None:
    with pytest.raises(ValueError, match="unknown columns"):
        upsert_links(state_session, [{**_rows(1)[0], "colour": "blue"}])
    with pytest.raises(ValueError, match="key columns"):
        upsert_links(state_session, [{"tool": "hubspot", "entity": "person", "unified_id": "u"}])
    with pytest.raises(ValueError, match=r"required columns \['unified_id'\]"):
        upsert_links(state_session, [{"tool": "hubspot", "entity": "person", "record_id": "1"}])
    assert upsert_links(state_session, []) == 0


def test_upsert_refreshes_links_already_loaded(state_session: Session) -> None:
    upsert_links(state_session, _rows(1))
    loaded = get_link(state_session, "hubspot", "person", "0")
    assert loaded is not None
    assert loaded.unified_id == "u0"
    upsert_links(state_session, [{**_rows(1)[0], "unified_id": "moved"}])
    assert loaded.unified_id == "moved"


def test_lookups(state_session: Session) -> None:
    upsert_links(state_session, _rows(3) + _rows(2, tool="mailchimp"))
    upsert_links(
        state_session,
        [{"tool": "hubspot", "entity": "company", "record_id": "0", "unified_id": "c0"}],
    )
    by_id = links_for_tool(state_session, "hubspot", "person")
    assert sorted(by_id) == ["0", "1", "2"]
    assert by_id["2"].unified_id == "u2"
    assert links_for_tool(state_session, "hubspot", "company")["0"].unified_id == "c0"
    assert links_for_tool(state_session, "intercom", "person") == {}

    found = links_for_unified(state_session, ["u1", "u0", "u1", "nope"])
    assert [(lk.unified_id, lk.tool) for lk in found] == [
        ("u0", "hubspot"),
        ("u0", "mailchimp"),
        ("u1", "hubspot"),
        ("u1", "mailchimp"),
    ]
    assert links_for_unified(state_session, []) == []
    assert get_link(state_session, "hubspot", "person", "9") is None

    # Every tool's links of one entity, with the values each record was last read with.
    people = links_for_entity(state_session, "person")
    assert [(lk.tool, lk.record_id) for lk in people] == [
        ("hubspot", "0"), ("hubspot", "1"), ("hubspot", "2"), ("mailchimp", "0"), ("mailchimp", "1")
    ]  # fmt: skip
    assert people[1].last_values == {"email": "p1@example.com", "n": 1}
    assert [lk.unified_id for lk in links_for_entity(state_session, "company")] == ["c0"]

    # Who holds each record of one tool, as apply hands it to the writers.
    owners = owners_for_tool(state_session, "hubspot", "person")
    assert owners == {
        rid: lk.unified_id for rid, lk in links_for_tool(state_session, "hubspot", "person").items()
    }
    assert owners_for_tool(state_session, "intercom", "person") == {}


def test_record_read_then_written(state_engine: Engine) -> None:
    written_at = AT + dt.timedelta(minutes=5)
    with session_scope(state_engine) as session:
        record_read(session, "hubspot", "person", "7", "u7", "read-1", {"email": "a@b.c"}, at=AT)
        record_written(session, "hubspot", "person", "7", "u7", "w-1", at=written_at)
    with Session(state_engine) as session:
        link = get_link(session, "hubspot", "person", "7")
        assert link is not None
        assert link.last_read_hash == "read-1"
        assert link.last_written_hash == "w-1"
        assert link.last_values == {"email": "a@b.c"}  # written without values: kept
        assert link.last_read_at == AT
        assert link.last_written_at == written_at
        assert link.last_written_at.tzinfo is dt.UTC

    with session_scope(state_engine) as session:
        record_written(session, "hubspot", "person", "7", "u7", "w-2", {"email": "x@y.z"})
        record_read(session, "hubspot", "person", "8", "u8", "r8", {"email": "n@b.c"})
    with Session(state_engine) as session:
        link = get_link(session, "hubspot", "person", "7")
        assert link is not None
        assert (link.last_written_hash, link.last_values) == ("w-2", {"email": "x@y.z"})
        assert link.last_read_hash == "read-1"
        created = get_link(session, "hubspot", "person", "8")
        assert created is not None
        assert created.last_written_hash is None
        assert created.last_read_at is not None


def test_remap_to_a_new_record_id_moves_the_link(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        upsert_links(session, _rows(2))
        survivor = remap_link(session, "hubspot", "person", "0", new_record_id="100")
        assert survivor is not None
        assert survivor.record_id == "100"
    with Session(state_engine) as session:
        assert get_link(session, "hubspot", "person", "0") is None
        moved = get_link(session, "hubspot", "person", "100")
        assert moved is not None
        assert (moved.unified_id, moved.last_read_hash) == ("u0", "h0")


def test_remap_onto_a_linked_record_keeps_the_survivor(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        upsert_links(session, _rows(2))
        survivor = remap_link(
            session, "hubspot", "person", "0", new_record_id="1", new_unified_id="merged"
        )
        assert survivor is not None
    with Session(state_engine) as session:
        assert get_link(session, "hubspot", "person", "0") is None
        kept = get_link(session, "hubspot", "person", "1")
        assert kept is not None
        assert (kept.unified_id, kept.last_read_hash) == ("merged", "h1")
        assert len(links_for_tool(session, "hubspot", "person")) == 1


def test_remap_unified_id_only_and_missing_link(state_engine: Engine) -> None:
    with session_scope(state_engine) as session:
        upsert_links(session, _rows(1))
        assert remap_link(session, "hubspot", "person", "0", new_unified_id="u-new") is not None
        assert remap_link(session, "hubspot", "person", "404", new_unified_id="x") is None
    with Session(state_engine) as session:
        link = get_link(session, "hubspot", "person", "0")
        assert link is not None
        assert link.unified_id == "u-new"


def test_bulk_upsert_of_10k_links(state_engine: Engine) -> None:
    n = 10_000
    with session_scope(state_engine) as session:
        assert upsert_links(session, _rows(n)) == n
    changed = [row for row in _rows(n, suffix="-v2") if int(row["record_id"]) % 2 == 0]
    with session_scope(state_engine) as session:
        assert upsert_links(session, changed) == n // 2
    with Session(state_engine) as session:
        assert session.exec(select(func.count()).select_from(Link)).one() == n
        by_id = links_for_tool(session, "hubspot", "person")
        assert len(by_id) == n
        assert by_id["4242"].last_read_hash == "h4242-v2"
        assert by_id["4243"].last_read_hash == "h4243"
        assert by_id["9999"].last_values == {"email": "p9999@example.com", "n": 9999}
        found = links_for_unified(session, (f"u{i}" for i in range(n)))
        assert len(found) == n  # more ids than one IN list holds
