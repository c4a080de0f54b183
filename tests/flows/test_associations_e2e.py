"""A person's company carried through the hub, over real HTTP against the sandbox: HubSpot's
primary company and Zendesk's organization agree on every linked person after one run, the next
run writes nothing, and a contact moved to another company in HubSpot moves in Zendesk once."""

from __future__ import annotations

import httpx
import pytest
from flow_testkit import Tools, all_links
from sqlmodel import Session

from flows.sync import sync
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
)
from state.db import engine_from_url
from state.models import GoldenRecord

TOOLS = ["hubspot", "zendesk"]
pytestmark = pytest.mark.connected(*TOOLS)
HUBSPOT_AUTH = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}


def _golden_company(person: str) -> str | None:
    with Session(engine_from_url()) as session:
        row = session.get(GoldenRecord, person)
        return None if row is None else row.values.get("company_id")


def _disagreements(tools: Tools) -> tuple[int, list[tuple[str, str, str | None]]]:
    """(people whose company a tool holds, the (person, tool, golden company) where a tool
    holds the golden person's company but points the person at another one)."""
    links = all_links()
    held = {(tool, uid) for (entity, tool, _), uid in links.items() if entity == "company"}
    pointed: list[tuple[str, str, str | None]] = []
    for tool, found in (
        ("hubspot", tools.hubspot_primary_companies()),
        ("zendesk", tools.zendesk_organizations()),
    ):
        for record_id, company in found.items():
            person = links.get(("person", tool, record_id))
            if person and company:
                pointed.append((person, tool, links.get(("company", tool, company))))
    wrong = []
    for person, tool, company in pointed:
        golden = _golden_company(person)
        if golden and (tool, golden) in held and company != golden:
            wrong.append((person, tool, company))
    return len(pointed), wrong


def _associate(tools: Tools, contact: str, company: str) -> None:
    httpx.post(
        f"{tools.server.base_url('hubspot')}/crm/v4/associations/contacts/companies/batch/create",
        json={
            "inputs": [
                {
                    "from": {"id": contact},
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                }
            ]
        },
        headers=HUBSPOT_AUTH,
    ).raise_for_status()


def test_companies_agree_across_tools_and_a_move_reaches_the_other_tool_once(
    tools: Tools,
) -> None:
    first = sync(tools=TOOLS).report
    assert first.status == "completed", first.rows()

    pointed, wrong = _disagreements(tools)
    assert pointed > 10, "the seeded world has people with a company"
    assert wrong == []
    links = all_links()
    goldens_with_company = {
        uid for (entity, tool, _), uid in links.items() if entity == "company" and tool == "zendesk"
    }
    assert goldens_with_company

    settled = sync(tools=TOOLS).report
    assert settled.written == 0, settled.rows()

    # Move one linked contact to a company of another golden that Zendesk also holds.
    contacts = tools.hubspot_primary_companies()
    users = {uid: rid for (e, t, rid), uid in links.items() if e == "person" and t == "zendesk"}
    zendesk_org = {
        uid: rid for (e, t, rid), uid in links.items() if e == "company" and t == "zendesk"
    }
    hubspot_company = {
        uid: rid for (e, t, rid), uid in sorted(links.items()) if e == "company" and t == "hubspot"
    }
    contact, person, old = next(
        (rid, links[("person", "hubspot", rid)], company)
        for rid, company in sorted(contacts.items())
        if company
        and ("person", "hubspot", rid) in links
        and links[("person", "hubspot", rid)] in users
    )
    old_golden = links[("company", "hubspot", old)]
    target = next(
        uid for uid in sorted(zendesk_org) if uid != old_golden and uid in hubspot_company
    )
    _associate(tools, contact, hubspot_company[target])

    moved = sync(tools=TOOLS)
    writes = [(w.tool, w.entity, w.op, sorted(w.changes)) for w in moved.plan.writes]
    assert ("zendesk", "person", "update", ["company_id"]) in writes, writes
    assert tools.zendesk_organizations()[users[person]] == zendesk_org[target]
    assert _disagreements(tools)[1] == []

    again = sync(tools=TOOLS).report
    assert again.written == 0, again.rows()
