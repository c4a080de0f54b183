"""The write path on its own: ``apply_writes`` against the sandbox, journal and links in SQLite.

The sync tests cover apply as part of a run; these pin what apply alone promises: each batch
is journaled before the call and settled after it, links carry the echo hash of what was
written, a crash after the remote write leaves the batch ``planned`` and a replay creates
nothing twice, and a configuration failure stops the run without settling anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from flow_testkit import Tools
from prefect import flow
from sqlalchemy.engine import Engine

from connectors.errors import WriteFailed
from connectors.writer import WriteOutcome
from flows import apply as apply_module
from flows.apply import APPLY_BATCH, Applied, apply_writes
from mappings.spec import Mapping as ToolMapping
from mappings.spec import from_unified, load_mapping, read_back
from reconcile.mapped import link_hash
from reconcile.plan import FieldChange, LinkView, PlannedWrite
from sandbox.credentials import SANDBOX_HUBSPOT_READONLY_TOKEN
from state.db import engine_from_url, init_schema, session_scope
from state.dead_letters import dead_letters_for_run
from state.journal import entries_for_run
from state.links import links_for_tool
from state.runs import start_run


def _engine() -> tuple[Engine, str]:
    engine = engine_from_url()
    init_schema(engine)
    run_id = f"apply-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        start_run(session, run_id, None, dry_run=False)
    return engine, run_id


def _create(m: ToolMapping, n: int) -> PlannedWrite:
    values = {"email": f"apply.test{n}@revsync-apply.io", "first_name": "Ada", "last_name": f"T{n}"}
    return PlannedWrite(
        tool=m.tool,
        entity=m.entity,
        unified_id=f"u{n}",
        op="create",
        record_id=None,
        natural_key=values["email"],
        changes={k: FieldChange(old=None, new=v) for k, v in values.items()},
        payload=from_unified(m, values, create=True),
    )


def _apply(
    m: ToolMapping,
    writes: Sequence[PlannedWrite],
    engine: Engine,
    run_id: str,
    known: dict[tuple[str, str], LinkView] | None = None,
) -> Applied:
    @flow(name="apply-test")
    def run() -> Applied:
        return apply_writes(m.tool, m, writes, known or {}, engine, run_id)

    return run()


def test_creates_are_journaled_settled_and_linked_with_their_echo_hash(tools: Tools) -> None:
    m = load_mapping("hubspot")
    engine, run_id = _engine()
    writes = [_create(m, n) for n in range(APPLY_BATCH + 5)]  # two journaled batches

    applied = _apply(m, writes, engine, run_id)

    assert (applied.created, applied.updated, applied.failed) == (len(writes), 0, 0)
    with session_scope(engine) as session:
        entries = entries_for_run(session, run_id)
        links = links_for_tool(session, "hubspot", "person")
    assert len(entries) == len(writes)
    assert {e.status for e in entries} == {"applied"}
    assert all(e.record_id for e in entries), "applied entries name the record written"
    by_unified = {link.unified_id: link for link in links.values()}
    for write in writes:
        link = by_unified[write.unified_id]
        echo = read_back(m, {f: c.new for f, c in write.changes.items()})
        assert link.last_written_hash == link_hash(m, echo)
    emails = [c["properties"]["email"] for c in tools.hubspot_contacts()]
    assert sum(e.startswith("apply.test") for e in emails) == len(writes)


def test_an_update_goes_to_the_linked_record_and_keeps_what_it_did_not_change(
    tools: Tools,
) -> None:
    m = load_mapping("hubspot")
    engine, run_id = _engine()
    (created,) = _apply(m, [_create(m, 1)], engine, run_id).links["u1"]
    update = PlannedWrite(
        tool="hubspot",
        entity="person",
        unified_id="u1",
        op="update",
        record_id=created.record_id,
        natural_key="apply.test1@revsync-apply.io",
        changes={"job_title": FieldChange(old=None, new="CFO")},
        payload=from_unified(m, {"job_title": "CFO"}, create=False),
    )

    applied = _apply(m, [update], engine, run_id, {("hubspot", created.record_id): created})

    assert (applied.created, applied.updated) == (0, 1)
    (view,) = applied.links["u1"]
    assert view.values["job_title"] == "CFO"
    assert view.values["last_name"] == "T1", "the values known before the write are kept"


def test_a_create_that_lands_on_another_golden_records_record_is_refused_not_relinked(
    tools: Tools,
) -> None:
    """The tool found the record a create asked for by its key, and another golden record holds
    it (one person in the tool, two golden records here): the link stays where it is and the
    create is a dead letter saying why, so the next run holds it instead of sending it again."""
    m = load_mapping("hubspot")
    engine, run_id = _engine()
    (held,) = _apply(m, [_create(m, 1)], engine, run_id).links["u1"]
    other = _create(m, 1).model_copy(update={"unified_id": "u-other"})

    applied = _apply(m, [other], engine, run_id)

    assert (applied.created, applied.updated, applied.failed) == (0, 0, 1)
    with session_scope(engine) as session:
        links = links_for_tool(session, "hubspot", "person")
        (letter,) = dead_letters_for_run(session, run_id)
    assert links[held.record_id].unified_id == "u1"
    assert f"record {held.record_id}" in letter.reason
    assert "golden u1's" in letter.reason
    assert "may be one person" in letter.reason


def test_a_crash_after_the_remote_write_leaves_the_batch_planned_and_a_replay_creates_nothing_twice(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = load_mapping("hubspot")
    engine, run_id = _engine()
    writes = [_create(m, n) for n in range(3)]

    def crash(tool: str, outcomes: Sequence[WriteOutcome]) -> None:
        raise RuntimeError("process died")

    monkeypatch.setattr(apply_module, "after_remote_write", [crash])
    with pytest.raises(RuntimeError, match="process died"):
        _apply(m, writes, engine, run_id)
    with session_scope(engine) as session:
        assert {e.status for e in entries_for_run(session, run_id)} == {"planned"}
        assert links_for_tool(session, "hubspot", "person") == {}

    monkeypatch.setattr(apply_module, "after_remote_write", [])
    replay = _apply(m, writes, engine, run_id)

    assert replay.failed == 0
    emails = [c["properties"]["email"] for c in tools.hubspot_contacts()]
    assert sorted(e for e in emails if e.startswith("apply.test")) == sorted(
        w.natural_key for w in writes
    ), "the natural-key upsert found what the crashed run had created"


def test_a_token_without_write_scope_stops_apply_and_settles_nothing(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = load_mapping("hubspot")
    engine, run_id = _engine()
    monkeypatch.setenv("REVSYNC_HUBSPOT_ACCESS_TOKEN", SANDBOX_HUBSPOT_READONLY_TOKEN)

    with pytest.raises(WriteFailed):
        _apply(m, [_create(m, 1), _create(m, 2)], engine, run_id)

    with session_scope(engine) as session:
        assert {e.status for e in entries_for_run(session, run_id)} == {"planned"}
        assert links_for_tool(session, "hubspot", "person") == {}
