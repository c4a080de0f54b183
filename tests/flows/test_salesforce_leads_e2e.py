"""Salesforce Leads beside Contacts, against the sandbox: a person is a Lead or a Contact in
Salesforce, never both; a person known only to the emailing tool is created as a Lead, one
known to another CRM as a Contact; a Lead converted in Salesforce is followed to its Contact."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.sync import sync
from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from state.db import engine_from_url
from state.models import Link

TOOLS = ["hubspot", "mailchimp", "salesforce"]
pytestmark = pytest.mark.connected(*TOOLS)
SF_AUTH = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
LEAD, CONTACT = "00Q", "003"


def _people() -> dict[str, list[tuple[str, str]]]:
    """Golden person -> its (tool, record id) links."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with Session(engine_from_url()) as session:
        for link in session.exec(select(Link).where(Link.entity == "person")):
            out[link.unified_id].append((link.tool, link.record_id))
    return out


def _soql(tools: Tools, query: str) -> list[dict[str, Any]]:
    url = f"{tools.server.base_url('salesforce')}/services/data/v62.0/query"
    return list(
        httpx.get(url, params={"q": query}, headers=SF_AUTH).raise_for_status().json()["records"]
    )


def _salesforce_ids(links: list[tuple[str, str]]) -> list[str]:
    return [record for tool, record in links if tool == "salesforce"]


def test_a_person_is_a_lead_or_a_contact_and_creates_follow_who_knows_them(tools: Tools) -> None:
    first = sync(tools=TOOLS)
    assert first.report.status == "completed", first.report.rows()
    assert first.report.tool("salesforce", "person").read_error is None

    people = _people()
    seeded_leads = {
        r["Id"] for r in _soql(tools, "SELECT Id FROM Lead WHERE Revsync_Unified_Id__c = null")
    }
    assert seeded_leads, "the seeded world has Leads"
    linked = {rid for links in people.values() for rid in _salesforce_ids(links)}
    assert seeded_leads <= linked, "every Lead is read and linked to a golden person"
    for unified_id, links in people.items():
        prefixes = {rid[:3] for rid in _salesforce_ids(links)}
        assert prefixes != {LEAD, CONTACT}, f"{unified_id} is both a Lead and a Contact"

    creates = [
        w
        for w in first.plan.writes
        if (w.tool, w.entity, w.op) == ("salesforce", "person", "create")
    ]
    as_leads = [w for w in creates if w.record_type == "lead"]
    assert as_leads, "a person known only to the emailing tool is created as a Lead"
    assert len(as_leads) < len(creates), "one known to another CRM is created as a Contact"
    made_by_run = {(w.unified_id, w.tool) for w in first.plan.writes if w.op == "create"}
    for write in creates:
        # who knew the person when the run planned: not the tools this run created it in
        others = {
            t for t, _ in people[write.unified_id] if (write.unified_id, t) not in made_by_run
        }
        assert (write.record_type == "lead") == (others == {"mailchimp"}), (write, others)
        (created,) = _salesforce_ids(people[write.unified_id])
        assert created.startswith(LEAD if write.record_type == "lead" else CONTACT)
    made = _soql(tools, "SELECT Id, Company FROM Lead WHERE Revsync_Unified_Id__c != null")
    assert {r["Id"] for r in made} == {_salesforce_ids(people[w.unified_id])[0] for w in as_leads}
    assert all(r["Company"] for r in made), "a Lead is only made with its company"

    settled = sync(tools=TOOLS).report
    assert settled.written == 0, settled.rows()


def test_a_converted_lead_is_followed_to_its_contact(tools: Tools) -> None:
    sync(tools=TOOLS)
    people = _people()
    lead_id, unified_id = next(
        (rid, uid)
        for uid, links in sorted(people.items())
        for rid in _salesforce_ids(links)
        if rid.startswith(LEAD)
    )

    converted = tools.control("POST", f"/salesforce/leads/{lead_id}/convert", json={})
    again = sync(tools=TOOLS)

    assert again.report.status == "completed", again.report.rows()
    after = _people()
    assert _salesforce_ids(after[unified_id]) == [converted["contact_id"]]
    assert lead_id not in {rid for links in after.values() for rid in _salesforce_ids(links)}
    assert not [
        w
        for w in again.plan.writes
        if (w.tool, w.entity, w.op, w.unified_id) == ("salesforce", "person", "create", unified_id)
    ], "the converted person is not created again"
