"""Records that failed to map are tried again from the dead letters with today's mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

import flows.sync as sync
from mappings.spec import load_mapping
from reconcile.mapped import Mapped, map_stream
from reconcile.refs import RefIndex
from state.db import engine_from_url, init_schema, session_scope
from state.dead_letters import add_dead_letter
from state.runs import start_run

CONTACTS = load_mapping("hubspot", "person")


def _contact(rid: str, email: str) -> dict[str, Any]:
    props = {"email": email, "firstname": "Ada", "lastname": "Byron"}
    return {"id": rid, "updatedAt": "2026-01-01T00:00:00Z", "properties": props}


def _engine(tmp_path: Path) -> Engine:
    engine = engine_from_url(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    with session_scope(engine) as session:
        start_run(session, "r1", None, dry_run=False)
    return engine


def _file(engine: Engine, raw: dict[str, Any]) -> int:
    with session_scope(engine) as session:
        return add_dead_letter(
            session, "r1", "hubspot", CONTACTS.stream, raw["id"], "map", "bad", raw
        )


def test_a_stored_record_that_maps_now_goes_through_and_one_that_does_not_waits(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    # As if the mapping was fixed since: the stored record maps today.
    now_fine = _file(engine, _contact("1", "ada@example.com"))
    still_bad = _file(engine, _contact("2", "not an email"))

    retried, settled = sync._retry_malformed(
        engine, "hubspot", CONTACTS, [], Mapped(), {}, RefIndex()
    )

    assert [r.record_id for r in retried.changed] == ["1"]
    assert not retried.invalid, "a record failing again keeps its open letter, not a new one"
    assert settled == [now_fine]
    assert still_bad not in settled


def test_a_newer_version_read_this_run_supersedes_the_stored_one(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    fixed_in_tool = _file(engine, _contact("1", "not an email"))
    still_broken = _file(engine, _contact("2", "not an email either"))
    fresh = [_contact("1", "ada@example.com"), _contact("2", "still not")]
    mapped = map_stream(CONTACTS, fresh, {})

    retried, settled = sync._retry_malformed(
        engine, "hubspot", CONTACTS, fresh, mapped, {}, RefIndex()
    )

    assert not retried.changed, "the stored versions are not mapped over the fresh ones"
    assert settled == [fixed_in_tool]
    assert still_broken not in settled
