"""Schema drift against the sandbox: a field HubSpot stops returning is detected against the
mapping, reported (run report, ``sync-drift`` artifact, event) and not written back to HubSpot
until an admin confirms it; a field HubSpot starts returning is reported."""

from __future__ import annotations

from typing import Any

import prefect.events
import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.cli import main
from flows.drift import DRIFT_EVENT
from flows.sync import sync
from state.db import engine_from_url
from state.models import JournalEntry

pytestmark = [pytest.mark.connected("hubspot", "mailchimp"), pytest.mark.people(30)]

VANISHED = ("properties.phone", "properties.firstname")
DRIFTED = {"phone", "first_name"}


def _drop_fields(tools: Tools) -> None:
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "hubspot",
            "kind": "schema_drift",
            "path": "/crm/v3/objects/contacts",
            "remove": list(VANISHED),
            "add": {"properties.hs_ai_score": "7"},
        },
    )


def _hubspot_changes(result: Any) -> set[str]:
    return {f for w in result.plan.writes if w.tool == "hubspot" for f in w.changes}


def _journal(run_id: str) -> list[JournalEntry]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(JournalEntry).where(JournalEntry.run_id == run_id)))


def test_vanished_fields_are_held_reported_and_written_after_confirm(
    tools: Tools, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events: list[dict[str, Any]] = []
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: events.append(kw))
    sync()
    assert sync().report.written == 0
    _drop_fields(tools)

    drifted = sync(mode="backfill")

    report = drifted.report
    assert report.status == "completed"
    vanished = {(r.tool, r.field) for r in report.drift if r.change == "vanished"}
    assert vanished == {("hubspot", p) for p in VANISHED}
    new = {(r.tool, r.field) for r in report.drift if r.change == "new"}
    assert ("hubspot", "properties.hs_ai_score") in new
    assert not _hubspot_changes(drifted) & DRIFTED, "a vanished field is written back"
    held = [s for s in drifted.plan.skipped if s.tool == "hubspot" and s.field in DRIFTED]
    assert len(held) >= 10, "the run held nothing: nothing to pin"
    assert all("revsync drift confirm hubspot" in s.reason for s in held)
    entries = _journal(report.run_id)
    written = [e for e in entries if e.tool == "hubspot" and e.status == "applied"]
    assert not [e for e in written if set(e.after or {}) & DRIFTED]
    assert len([e for e in entries if e.status == "held" and e.tool == "hubspot"]) == len(held)
    drift_events = [e for e in events if e["event"] == DRIFT_EVENT]
    assert len(drift_events) == 1
    payload = drift_events[0]["payload"]
    assert set(payload["vanished"]) == {f"hubspot/contacts:{p}" for p in VANISHED}
    assert "hubspot/contacts:properties.hs_ai_score" in payload["new"]

    capsys.readouterr()
    assert main(["drift", "list"]) == 0
    listed = capsys.readouterr().out
    assert "hubspot/contacts properties.phone" in listed
    assert "writes held" in listed
    assert main(["drift", "confirm", "hubspot", "phone"]) == 0
    assert main(["drift", "confirm", "hubspot", "properties.firstname"]) == 0
    assert main(["drift", "confirm", "hubspot", "phone"]) == 2

    confirmed = sync(mode="full")
    assert _hubspot_changes(confirmed) >= DRIFTED, "confirmed drift still holds the writes"
    assert confirmed.report.tools["hubspot/person"].failed == 0
    assert not confirmed.report.drift
