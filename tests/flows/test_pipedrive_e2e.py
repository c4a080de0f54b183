"""Pipedrive through the sync flow against the sandbox: persons end up in their golden
company's organization (org_id), a converged run writes nothing to Pipedrive, and a change
made in Pipedrive reaches HubSpot once."""

from __future__ import annotations

from typing import Any

import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.sync import sync
from state.db import engine_from_url
from state.models import GoldenRecord, Link

# Pipedrive with the CRM it is compared to: the five-tool world is test_crm_hub_e2e's.
pytestmark = pytest.mark.connected("hubspot", "pipedrive")


def _links(entity: str) -> list[Link]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(Link).where(Link.entity == entity)))


def _goldens(entity: str) -> dict[str, dict[str, Any]]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(GoldenRecord).where(GoldenRecord.entity == entity))
        return {g.unified_id: dict(g.values) for g in rows}


def _written(report: Any, tool: str) -> int:
    return sum(report.tool(tool, entity).written for entity in ("person", "company", "deal"))


def test_persons_carry_their_companys_organization_and_a_pipedrive_edit_travels_once(
    tools: Tools,
) -> None:
    first = sync().report
    assert first.status == "completed"
    assert first.tool("pipedrive", "person").created > 0
    assert first.tool("pipedrive", "company").created > 0

    org_of = {x.unified_id: int(x.record_id) for x in _links("company") if x.tool == "pipedrive"}
    person_of = {int(x.record_id): x.unified_id for x in _links("person") if x.tool == "pipedrive"}
    people = _goldens("person")
    checked = 0
    for person in tools.pipedrive_persons():
        company = people[person_of[person["id"]]].get("company_id")
        if company in org_of:
            assert person.get("org_id") == org_of[company], person
            checked += 1
    assert checked >= 20, f"only {checked} persons have a golden company in Pipedrive"

    second = sync().report
    assert _written(second, "pipedrive") == 0, second.tools

    # A person both tools hold, renamed in Pipedrive: HubSpot gets the new first name.
    hubspot_of = {x.unified_id: x.record_id for x in _links("person") if x.tool == "hubspot"}
    target = next(
        p
        for p in tools.pipedrive_persons()
        if person_of[p["id"]] in hubspot_of and len(str(p.get("name") or "").split()) == 2
    )
    last = str(target["name"]).split()[1]
    tools.pipedrive("PATCH", f"/api/v2/persons/{target['id']}", json={"name": f"Zebulon {last}"})

    third = sync().report
    contact = next(
        c for c in tools.hubspot_contacts() if c["id"] == hubspot_of[person_of[target["id"]]]
    )
    assert contact["properties"]["firstname"] == "Zebulon"
    assert third.tool("hubspot").updated >= 1
    assert _written(third, "pipedrive") == 0, "the edit came back to Pipedrive"

    fourth = sync().report
    assert fourth.written == 0, fourth.tools


@pytest.mark.people(40)
def test_an_opt_out_in_hubspot_reaches_pipedrive_campaigns_and_nobody_is_subscribed(
    tools: Tools,
) -> None:
    """HubSpot's opt-outs become Pipedrive's marketing status ``unsubscribed``; no person's
    status is raised to ``subscribed``; the next run writes nothing."""

    def statuses() -> dict[str, str]:
        out: dict[str, str] = {}
        params: dict[str, Any] = {"limit": 500, "include_fields": "marketing_status"}
        while True:
            page = tools.pipedrive("GET", "/api/v2/persons", params=params)
            out.update({str(p["id"]): p["marketing_status"] for p in page["data"]})
            params["cursor"] = (page.get("additional_data") or {}).get("next_cursor")
            if not params["cursor"]:
                return out

    before = statuses()
    sync(tools=["hubspot", "pipedrive"])
    after = statuses()
    goldens = {
        g.unified_id: dict(g.values)
        for g in Session(engine_from_url()).exec(select(GoldenRecord))
        if g.entity == "person"
    }
    links = Session(engine_from_url()).exec(select(Link).where(Link.tool == "pipedrive")).all()
    reached = 0
    for link in links:
        if link.entity != "person":
            continue
        consent = goldens[link.unified_id].get("email_consent")
        if consent == "unsubscribed":
            assert after[link.record_id] == "unsubscribed", link.record_id
            reached += before.get(link.record_id) != "unsubscribed"
        if before.get(link.record_id, "no_consent") != "subscribed":
            assert after[link.record_id] != "subscribed", link.record_id
    assert reached > 0, "no opt-out travelled from HubSpot"
    assert sync(tools=["hubspot", "pipedrive"]).report.written == 0
