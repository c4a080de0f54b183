"""``revsync undo`` over real HTTP against the sandbox: a run's updates are planned back
(dry run), restored through the writer, journaled as their own run and undoable in turn."""

from __future__ import annotations

import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.cli import main
from flows.sync import sync
from state.db import engine_from_url
from state.models import JournalEntry

pytestmark = [pytest.mark.people(12), pytest.mark.connected("hubspot", "mailchimp")]


def _in_tool(tools: Tools, tool: str, record_id: str, name: str) -> object:
    """The unified value of one field of a person as the tool holds it now (its own API)."""
    from mappings.spec import load_mapping, requested_fields, to_unified

    mapping = load_mapping(tool, "person")
    if tool == "hubspot":
        props = ",".join(requested_fields(mapping))
        raw = tools.hubspot("GET", f"/crm/v3/objects/contacts/{record_id}?properties={props}")
    else:
        raw = next(m for m in tools.mailchimp_members() if m["id"] == record_id)
    return to_unified(mapping, raw).values.get(name)


def _applied_updates(run_id: str) -> list[JournalEntry]:
    with Session(engine_from_url()) as session:
        query = select(JournalEntry).where(JournalEntry.run_id == run_id)
        return [e for e in session.exec(query) if e.op == "update" and e.status == "applied"]


def test_a_runs_updates_are_restored_and_the_undo_is_itself_undoable(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sync().report.status == "completed"
    # Someone renames a HubSpot contact: the next run carries the name to Mailchimp.
    contact = next(c for c in tools.hubspot_contacts() if c["properties"].get("firstname"))
    tools.edit_hubspot(str(contact["id"]), {"firstname": "Zelda"})
    run = sync().report.run_id
    updates = [
        e
        for e in _applied_updates(run)
        if e.entity == "person" and any(v for v in (e.before or {}).values())
    ]
    assert updates, "the seeded world has fields revsync changes"
    entry = updates[0]
    name, old = next((k, v) for k, v in sorted((entry.before or {}).items()) if v)
    new = (entry.after or {})[name]
    target = f"{entry.tool}:{entry.record_id}"

    assert main(["undo", "--run", run, "--record", target, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{target} " in out
    assert f"{name}: {new!r} -> {old!r}" in out
    assert _in_tool(tools, entry.tool, str(entry.record_id), name) == new, (
        "a dry run writes nothing"
    )

    assert main(["undo", "--run", run, "--record", target]) == 0
    out = capsys.readouterr().out
    undo_run = out.rsplit("journaled as run ", 1)[1].split()[0]
    undone = [e for e in _applied_updates(undo_run) if e.record_id == entry.record_id]
    assert [(e.before or {}).get(name) for e in undone] == [new]
    assert [(e.after or {}).get(name) for e in undone] == [old]
    assert _in_tool(tools, entry.tool, str(entry.record_id), name) == old, "restored in the tool"

    # Undo the undo: the record gets the run's value back.
    assert main(["undo", "--run", undo_run]) == 0
    assert f"{name}: {old!r} -> {new!r}" in capsys.readouterr().out
    assert _in_tool(tools, entry.tool, str(entry.record_id), name) == new
