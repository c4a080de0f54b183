"""The flow keeps its golden index between runs while no golden record was saved or deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

import flows.sync as sync
from mappings.spec import MappedRecord
from state.db import engine_from_url, init_schema
from state.golden import golden_version, save_golden
from state.reviews import delete_golden

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _golden(uid: str, email: str) -> dict[str, object]:
    values = {"email": email, "first_name": "Ann", "last_name": uid}
    return {"unified_id": uid, "entity": "person", "values": values, "provenance": {}}


def test_golden_index_is_reused_until_a_golden_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "_GOLDEN_INDEXES", {})
    engine = engine_from_url(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    with Session(engine) as session:
        save_golden(session, [_golden("u1", "a@x.com"), _golden("u2", "b@x.com")])
        session.commit()
    new = [MappedRecord(tool="hubspot", record_id="9", updated_at=T0, values={"email": "c@x"})]

    known, _, version = sync._known_index(engine, "person", ["hubspot"])
    first = sync._golden_index("person", new, known, version)
    assert first is not None
    assert first.uids == ["u1", "u2"]
    known, _, again = sync._known_index(engine, "person", ["hubspot"])
    assert again == version
    assert sync._golden_index("person", new, known, again) is first  # nothing saved: reused

    with Session(engine) as session:
        save_golden(session, [_golden("u3", "c@x.com")])
        session.commit()
    known, _, changed = sync._known_index(engine, "person", ["hubspot"])
    assert changed != version
    rebuilt = sync._golden_index("person", new, known, changed)
    assert rebuilt is not first
    assert rebuilt is not None
    assert rebuilt.uids == ["u1", "u2", "u3"]

    with Session(engine) as session:
        delete_golden(session, "u3")
        session.commit()
    known, _, after_delete = sync._known_index(engine, "person", ["hubspot"])
    assert after_delete != changed
    assert sync._golden_index("person", new, known, after_delete).uids == ["u1", "u2"]  # type: ignore[union-attr]
    with Session(engine) as session:
        assert golden_version(session, "person") == after_delete
    engine.dispose()


def test_no_index_is_built_when_every_record_is_linked() -> None:
    known = sync.KnownIndex.build({"u1": {"email": "a@x.com"}}, {("hubspot", "1"): "u1"})
    linked = [MappedRecord(tool="hubspot", record_id="1", updated_at=T0, values={})]
    assert sync._golden_index("person", linked, known, "1:") is None
