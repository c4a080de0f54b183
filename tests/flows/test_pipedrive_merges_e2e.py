"""Merges in Pipedrive through the sync flow against the sandbox.

A person merged away in Pipedrive's own UI disappears: the v2 lists drop it, its id 404s and
the survivor names no merged ids. revsync learns it when it next writes the merged-away id:
the write is answered gone, the link moves to whoever holds the person's email now, nothing
goes to the dead letters, and the run after writes the survivor. With Pipedrive in
``vendor_merge``, revsync merges its own in-tool duplicates through the v1 merge API.
"""

from __future__ import annotations

import pytest
from flow_testkit import Tools, entity_links
from sqlmodel import Session, select

from flows.sync import sync
from mappings.survivorship import load_rules
from state.db import engine_from_url
from state.models import DeadLetter, GoldenRecord, JournalEntry

pytestmark = [pytest.mark.connected("hubspot", "pipedrive"), pytest.mark.people(30)]


def _dead_letters(tool: str) -> list[DeadLetter]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(DeadLetter).where(DeadLetter.tool == tool)))


def _named_in_provenance(tool: str, record_id: str) -> bool:
    with Session(engine_from_url()) as session:
        rows = list(session.exec(select(GoldenRecord).where(GoldenRecord.entity == "person")))
    return any(
        (source["tool"], source["record_id"]) == (tool, record_id)
        or f"{tool}:{record_id}" in (source.get("votes") or {})
        for row in rows
        for source in row.provenance.values()
    )


def _hand_made_duplicate(tools: Tools) -> tuple[str, str, str, str]:
    """After a first sync, a second Pipedrive person with the email of one HubSpot also holds
    (a colleague typing a contact in again). Returns (original, duplicate, golden, hubspot)."""
    sync()
    links = entity_links("person")
    hubspot_of = {uid: rid for (tool, rid), uid in links.items() if tool == "hubspot"}
    person = next(
        p
        for p in tools.pipedrive_persons()
        if links.get(("pipedrive", str(p["id"]))) in hubspot_of and p.get("emails")
    )
    original, golden = str(person["id"]), links[("pipedrive", str(person["id"]))]
    email = next(e["value"] for e in person["emails"] if e.get("primary"))
    made = tools.pipedrive(
        "POST",
        "/api/v2/persons",
        json={"name": person["name"], "emails": [{"value": email, "primary": True}]},
    )
    return original, str(made["data"]["id"]), golden, hubspot_of[golden]


def test_a_person_merged_away_in_pipedrive_is_followed_when_next_written(tools: Tools) -> None:
    original, duplicate, golden, contact = _hand_made_duplicate(tools)
    sync()
    assert entity_links("person")[("pipedrive", duplicate)] == golden

    # Someone merges the two in Pipedrive; later the phone changes in HubSpot.
    tools.pipedrive("PUT", f"/v1/persons/{original}/merge", json={"merge_with_id": int(duplicate)})
    tools.edit_hubspot(contact, {"phone": "+1 415 555 0142"})

    followed = sync().report
    assert followed.status == "completed"
    assert followed.tool("pipedrive", "person").gone == 1
    assert not _dead_letters("pipedrive"), [d.reason for d in _dead_letters("pipedrive")]
    links = entity_links("person")
    assert ("pipedrive", original) not in links
    assert links[("pipedrive", duplicate)] == golden
    assert not _named_in_provenance("pipedrive", original)
    with Session(engine_from_url()) as session:
        entry = session.exec(
            select(JournalEntry).where(
                JournalEntry.run_id == followed.run_id, JournalEntry.record_id == original
            )
        ).one()
    assert entry.status == "failed"
    assert entry.error is not None
    assert entry.error.startswith("gone from pipedrive")

    survivor = tools.pipedrive("GET", f"/api/v2/persons/{duplicate}")["data"]
    assert {p["value"] for p in survivor["phones"]} >= {"+14155550142"}
    settled = sync().report
    assert settled.written == 0, settled.tools


def test_in_tool_duplicates_are_merged_in_pipedrive_when_asked(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.merges

    rules = load_rules().model_copy(update={"vendor_merge": ("pipedrive",)})
    monkeypatch.setattr(flows.merges, "load_rules", lambda entity="person": rules)
    original, duplicate, golden, _ = _hand_made_duplicate(tools)

    merged = sync().report
    assert merged.status == "completed"
    merges = [r for r in tools.requests("pipedrive") if r["path"].endswith("/merge")]
    assert [(r["method"], r["status"]) for r in merges] == [("PUT", 200)]
    kept = {str(p["id"]) for p in tools.pipedrive_persons()}
    assert len({original, duplicate} & kept) == 1
    links = entity_links("person")
    assert {rid for (tool, rid) in links if tool == "pipedrive"} <= kept, (
        "a link points at a merged-away person"
    )
    pair = [
        uid
        for (tool, rid), uid in links.items()
        if (tool, rid) in {("pipedrive", original), ("pipedrive", duplicate)}
    ]
    assert pair == [golden]

    settled = sync().report
    assert settled.written == 0, settled.tools
