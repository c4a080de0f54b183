"""The sync flow end to end, over loopback HTTP against the sandbox, state in SQLite."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from connectors.errors import WriteFailed
from flows import apply as apply_module
from flows.sync import sync
from mappings.consent import CONSENT_FIELDS
from mappings.errors import MappingError
from mappings.model import reference_target
from mappings.spec import load_mapping, to_unified
from sandbox.credentials import (
    SANDBOX_HUBSPOT_READONLY_TOKEN,
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
)
from state.db import engine_from_url
from state.golden import load_golden
from state.models import Cursor, DeadLetter, JournalEntry, Link, Run

# Written about the first three tools: the five-tool world is test_crm_hub_e2e's.
pytestmark = pytest.mark.connected("hubspot", "mailchimp", "zendesk")

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests that change data (HubSpot's search is a POST that reads)."""
    return [
        r
        for r in requests
        if r["method"] in WRITE_METHODS
        and not r["path"].endswith("/search")
        and not r["path"].endswith("/batch/read")
    ]


def _unified(tool: str, records: list[dict[str, Any]]) -> dict[str, dict[str, str | None]]:
    mapping = load_mapping(tool)
    out: dict[str, dict[str, str | None]] = {}
    for raw in records:
        try:
            mapped = to_unified(mapping, raw)
        except MappingError:
            continue
        out[mapped.record_id] = mapped.values
    return out


def _links(tool: str) -> dict[str, str]:
    with Session(engine_from_url()) as session:
        return {
            link.record_id: link.unified_id
            for link in session.exec(select(Link).where(Link.tool == tool)).all()
        }


def _goldens() -> dict[str, dict[str, str | None]]:
    with Session(engine_from_url()) as session:
        return {uid: dict(g.values) for uid, g in load_golden(session, "person").items()}


def _assert_tool_holds_golden(tool: str, records: list[dict[str, Any]]) -> int:
    """Every linked record carries its golden record's values on the fields the tool syncs."""
    mapping = load_mapping(tool)
    identity = {f.unified for f in mapping.fields if f.identity}
    goldens = _goldens()
    links = _links(tool)
    checked = 0
    for record_id, values in _unified(tool, records).items():
        uid = links.get(record_id)
        assert uid is not None, f"{tool} record {record_id} is not linked"
        golden = goldens[uid]
        for field, value in values.items():
            if field in identity or golden.get(field) in (None, ""):
                continue
            if field in CONSENT_FIELDS:
                continue  # never loosened, so not always the golden state: test_consent_e2e
            if reference_target("person", field) is not None:
                continue  # a record id of another entity: tests/flows/test_associations_e2e.py
            assert value == golden[field], (tool, record_id, field, value, golden[field])
        checked += 1
    return checked


def test_first_run_gives_both_tools_the_same_people_with_golden_values(tools: Tools) -> None:
    result = sync()

    report = result.report
    assert report.tool("hubspot").read > 0
    assert report.tool("mailchimp").read > 0
    assert report.written > 0
    hubspot = tools.hubspot_contacts()
    mailchimp = tools.mailchimp_members()
    assert _assert_tool_holds_golden("hubspot", hubspot) == len(_unified("hubspot", hubspot))
    assert _assert_tool_holds_golden("mailchimp", mailchimp) == len(
        _unified("mailchimp", mailchimp)
    )

    people_in = {tool: set(_links(tool).values()) for tool in ("hubspot", "mailchimp")}
    rejected = {
        json.loads(json.dumps(d.payload)).get("unified_id")
        for d in _dead_letters()
        if d.stage == "apply"
    }
    skipped = {s.unified_id for s in result.plan.skipped}
    everyone = set(_goldens())
    for tool, present in people_in.items():
        missing = everyone - present - rejected - skipped
        assert not missing, f"{tool} lacks {len(missing)} golden people"


def _dead_letters() -> list[DeadLetter]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(DeadLetter)).all())


def test_second_run_writes_nothing(tools: Tools) -> None:
    sync()
    before = {t: len(tools.requests(t)) for t in ("hubspot", "mailchimp")}

    second = sync().report

    assert second.written == 0
    assert all(c.planned_creates == c.planned_updates == 0 for c in second.tools.values())
    for tool in ("hubspot", "mailchimp"):
        new_requests = tools.requests(tool)[before[tool] :]
        assert new_requests, f"the second run did not read {tool}"
        assert _writes(new_requests) == [], f"the second run wrote to {tool}"


def test_a_change_in_one_tool_reaches_the_other_and_stops_there(tools: Tools) -> None:
    sync()
    mailchimp_by_hash = {m["id"]: m for m in tools.mailchimp_members()}
    hubspot_links = _links("hubspot")
    mailchimp_links = {uid: rid for rid, uid in _links("mailchimp").items()}
    contact = next(
        c
        for c in tools.hubspot_contacts()
        if hubspot_links.get(c["id"]) in mailchimp_links
        and list(hubspot_links.values()).count(hubspot_links[c["id"]]) == 1
    )
    member_hash = mailchimp_links[hubspot_links[contact["id"]]]
    assert mailchimp_by_hash[member_hash]["merge_fields"]["JOBTITLE"] != "Chief Revenue Officer"

    tools.edit_hubspot(contact["id"], {"jobtitle": "Chief Revenue Officer"})
    third = sync().report

    assert third.tool("mailchimp").updated == 1
    assert third.tool("hubspot").written == 0
    member = next(m for m in tools.mailchimp_members() if m["id"] == member_hash)
    assert member["merge_fields"]["JOBTITLE"] == "Chief Revenue Officer"
    assert sync().report.written == 0


class SimulatedCrash(Exception):
    """Stands for the process dying between the remote write and the local record of it."""


def test_crash_between_remote_create_and_link_leaves_no_duplicate(tools: Tools) -> None:
    def crash_after_mailchimp(tool: str, outcomes: Any) -> None:
        if tool == "mailchimp" and any(o.created for o in outcomes):
            raise SimulatedCrash

    apply_module.after_remote_write.append(crash_after_mailchimp)
    try:
        with pytest.raises(SimulatedCrash):
            sync()
    finally:
        apply_module.after_remote_write.remove(crash_after_mailchimp)
    members_after_crash = tools.mailchimp_members()
    with Session(engine_from_url()) as session:
        # Companies sync (and checkpoint) before people; no people stream may have moved.
        moved = {(c.tool, c.stream) for c in session.exec(select(Cursor))}
        people = {("hubspot", "contacts"), ("mailchimp", "members"), ("zendesk", "users")}
        assert not moved & people, "a people cursor moved past the crash"
        assert session.exec(select(JournalEntry).where(JournalEntry.status == "planned")).all(), (
            "the crash left no planned journal rows"
        )

    rerun = sync().report

    assert rerun.status == "completed"
    emails = Counter(m["email_address"].strip().lower() for m in tools.mailchimp_members())
    assert max(emails.values()) == 1, "a member exists twice"
    assert len(tools.mailchimp_members()) >= len(members_after_crash)
    assert sync().report.written == 0


def test_a_record_the_tool_rejects_is_a_dead_letter_and_the_rest_goes_through(
    tools: Tools,
) -> None:
    tools.create_hubspot({"email": "pat.doe@example.com", "firstname": "Pat", "lastname": "Doe"})

    report = sync().report

    refused = [d for d in _dead_letters() if d.stage == "apply"]
    assert all(d.reason and d.payload for d in refused)
    # Zendesk refuses an organization named like another one (look-alike companies).
    others = [d for d in refused if d.tool != "mailchimp"]
    assert all(d.tool == "zendesk" and "already been taken" in d.reason for d in others)
    rejected = [d for d in refused if d.tool == "mailchimp"]
    assert rejected, "the seeded world has emails Mailchimp rejects"
    assert any(
        "fake or invalid" in d.reason and d.payload.get("email_address") == "pat.doe@example.com"
        for d in rejected
    )
    assert report.tool("mailchimp").failed == len(rejected)
    assert report.tool("mailchimp").created > 0
    malformed = [d for d in _dead_letters() if d.stage == "map"]
    assert all(d.reason and d.payload for d in malformed)

    # A full run plans every golden again; the refused writes are held, not sent again as
    # they were (each would be refused the same way), and say why.
    again = sync(mode="full")
    held = [s for s in again.plan.skipped if "refused as planned by an earlier run" in s.reason]
    assert {(s.tool, s.unified_id) for s in held} == {
        (d.tool, (d.payload or {})["unified_id"]) for d in refused
    }
    assert again.report.tool("mailchimp").failed == 0
    assert [d for d in _dead_letters() if d.stage == "apply"] == refused, "refused twice"


@pytest.mark.people(40)
def test_writes_an_outage_failed_are_made_by_the_next_incremental_run(tools: Tools) -> None:
    # Mailchimp down for every write of the first run (its reads still work).
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "mailchimp",
            "kind": "503",
            "path": r"/lists/",
            "method": "PUT",
            "count": 10_000,
        },
    )
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "mailchimp",
            "kind": "503",
            "path": r"/lists/[^/]+$",
            "method": "POST",
            "count": 10_000,
        },
    )
    outage = sync().report
    failed = [d for d in _dead_letters() if d.stage == "apply" and d.tool == "mailchimp"]
    assert outage.tool("mailchimp").failed == len(failed) > 0
    assert all((d.payload or {}).get("transient") for d in failed)

    tools.control("DELETE", "/faults")
    recovered = sync().report
    # Nothing changed in any tool: only the retried writes are made, and their letters close;
    # a record Mailchimp refuses for its content (an address it rejects) stays open, as refused.
    retried = {(d.payload or {})["unified_id"] for d in failed}
    mailchimp = recovered.tool("mailchimp")
    assert mailchimp.written + mailchimp.failed == len(retried)
    assert mailchimp.written > mailchimp.failed
    assert recovered.tool("hubspot").written == 0
    still_open = [
        d
        for d in _dead_letters()
        if d.stage == "apply" and d.tool == "mailchimp" and d.resolved_at is None
    ]
    refused = [d for d in still_open if d.run_id == recovered.run_id]
    assert len(refused) == mailchimp.failed
    assert not any((d.payload or {}).get("transient") for d in refused)
    assert {(d.payload or {})["unified_id"] for d in still_open} == {
        (d.payload or {})["unified_id"] for d in refused
    }, "a letter of a write made since is still open"
    settled = sync().report
    assert settled.written == 0, settled.tools


@pytest.mark.people(40)
def test_a_malformed_record_waits_in_the_dead_letters_until_it_maps(tools: Tools) -> None:
    contact = next(c for c in tools.hubspot_contacts() if c["properties"].get("email"))
    tools.edit_hubspot(contact["id"], {"email": "ada at example dot com"})

    broken = sync().report
    assert broken.tool("hubspot").invalid == 1
    (letter,) = [d for d in _dead_letters() if d.stage == "map" and d.record_id == contact["id"]]
    assert "invalid email" in letter.reason
    assert letter.resolved_at is None
    quiet = sync().report
    assert quiet.dead_letters == 0, "the record read again as it was is not filed twice"
    assert len([d for d in _dead_letters() if d.record_id == contact["id"]]) == 1

    # Fixed in HubSpot (to an address no other record holds, as the seeded one may now be).
    tools.edit_hubspot(contact["id"], {"email": "ada.fixed@example.org"})
    fixed = sync().report
    assert fixed.tool("hubspot").invalid == 0
    (letter,) = [d for d in _dead_letters() if d.stage == "map" and d.record_id == contact["id"]]
    assert letter.resolved_at is not None, "the record went through: its letter is closed"


def test_a_failed_page_keeps_the_cursor_where_it_was(tools: Tools) -> None:
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "mailchimp",
            "kind": "500",
            "path": r"/lists/[^/]+/members$",
            "method": "GET",
            "count": 1000,
        },
    )
    report = sync().report

    assert report.tool("mailchimp").read_error
    with Session(engine_from_url()) as session:
        tools_with_cursor = {c.tool for c in session.exec(select(Cursor)).all()}
    assert "mailchimp" not in tools_with_cursor
    assert "hubspot" in tools_with_cursor

    tools.control("DELETE", "/faults")
    recovered = sync().report
    assert recovered.tool("mailchimp").read_error is None
    assert recovered.tool("mailchimp").read > 0


def test_a_429_with_retry_after_is_honoured(tools: Tools) -> None:
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "mailchimp",
            "kind": "429",
            "path": r"/lists/[^/]+$",
            "method": "POST",
            "count": 1,
            "retry_after": 2,
        },
    )
    report = sync().report

    assert report.tool("mailchimp").created > 0
    statuses = [r["status"] for r in tools.requests("mailchimp") if r["method"] == "POST"]
    assert statuses[0] == 429
    assert 200 in statuses[1:]
    assert 2.0 in tools.waits, f"the client waited {tools.waits}, not the 2 s Retry-After asked"


def test_dry_run_plans_exactly_what_apply_then_does(tools: Tools) -> None:
    before = len(_writes(tools.requests("hubspot") + tools.requests("mailchimp")))
    planned = sync(dry_run=True)

    assert _writes(tools.requests("hubspot") + tools.requests("mailchimp"))[before:] == []
    with Session(engine_from_url()) as session:
        assert session.exec(select(Link)).all() == []
        assert session.exec(select(JournalEntry)).all() == []
        runs = session.exec(select(Run)).all()
    assert [r.dry_run for r in runs] == [True]

    applied = sync()

    with Session(engine_from_url()) as session:
        journal = session.exec(
            select(JournalEntry).where(JournalEntry.run_id == applied.report.run_id)
        ).all()
    # The dry run plans as if every create succeeds: a reference to a company whose create the
    # tool then refused cannot be written (there is no record to point at).
    refused = {(j.tool, j.unified_id) for j in journal if j.op == "create" and j.status == "failed"}
    planned_rows = sorted(
        (
            w.tool,
            w.op,
            w.natural_key,
            json.dumps(
                {
                    f: c.new
                    for f, c in w.changes.items()
                    if reference_target(w.entity, f) is None or (w.tool, c.new) not in refused
                },
                sort_keys=True,
            ),
        )
        for w in planned.plan.writes
    )
    planned_rows = [r for r in planned_rows if r[3] != "{}"]
    journal_rows = sorted(
        (j.tool, j.op, j.natural_key, json.dumps(j.after, sort_keys=True))
        for j in journal
        if j.status != "held"  # decisions not to write (consent), not writes
    )
    assert planned_rows == journal_rows


def test_no_secret_reaches_logs_artifacts_or_state(
    tools: Tools, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "hubspot",
            "kind": "500",
            "path": "/search$",
            "method": "POST",
            "count": 1000,
        },
    )
    sync()
    tools.control("DELETE", "/faults")
    sync()

    secrets = [SANDBOX_HUBSPOT_TOKEN, SANDBOX_MAILCHIMP_KEY, SANDBOX_MAILCHIMP_KEY.split("-")[0]]
    logged = caplog.text
    with Session(engine_from_url()) as session:
        stored = json.dumps(
            [
                [row.model_dump(mode="json") for row in session.exec(select(model)).all()]
                for model in (JournalEntry, DeadLetter, Run, Cursor, Link)
            ]
        )
    artifacts = json.dumps(_artifacts())
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored
        assert secret not in artifacts


def _artifacts() -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [a.model_dump(mode="json") for a in client.read_artifacts()]


def test_a_token_without_write_scope_stops_the_run_and_says_what_to_fix(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSYNC_HUBSPOT_ACCESS_TOKEN", SANDBOX_HUBSPOT_READONLY_TOKEN)

    with pytest.raises(WriteFailed) as failed:
        sync()

    assert "scope" in str(failed.value).lower()
    assert SANDBOX_HUBSPOT_READONLY_TOKEN not in str(failed.value)
    with Session(engine_from_url()) as session:
        assert session.exec(select(Cursor)).all() == [], "a cursor moved past a failed run"
        assert session.exec(select(DeadLetter).where(DeadLetter.stage == "apply")).all() == []
        (run,) = session.exec(select(Run)).all()
    assert run.status == "failed"
