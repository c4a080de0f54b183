"""The five tools at once against the sandbox (HubSpot, Salesforce, Pipedrive, Mailchimp,
Zendesk): after one run every tool that holds a person's golden company points the person at
it, the next run writes nothing, and a change made in one CRM reaches the other CRMs once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flow_testkit import Tools, all_links
from sqlmodel import Session, select

from flows.sync import sync
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
)
from state.db import engine_from_url
from state.models import GoldenRecord

TOOLS = ["hubspot", "salesforce", "pipedrive", "mailchimp", "zendesk"]
pytestmark = pytest.mark.connected(*TOOLS)
HUBSPOT = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
SALESFORCE = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
PIPEDRIVE = {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}

Companies = dict[str, str | None]
"""A tool's person record id -> the company record id the tool points the person at."""


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _salesforce(tools: Tools) -> Companies:
    base = tools.server.base_url("salesforce")
    body = (
        httpx.get(
            f"{base}/services/data/v62.0/query",
            params={"q": "SELECT Id, AccountId FROM Contact"},
            headers=SALESFORCE,
        )
        .raise_for_status()
        .json()
    )
    rows = list(body["records"])
    while body.get("nextRecordsUrl"):
        body = (
            httpx.get(base + body["nextRecordsUrl"], headers=SALESFORCE).raise_for_status().json()
        )
        rows += body["records"]
    return {r["Id"]: r["AccountId"] for r in rows}


def _pipedrive(tools: Tools) -> Companies:
    out: Companies = {}
    params: dict[str, Any] = {"limit": 500}
    while True:
        body = (
            httpx.get(
                f"{tools.server.base_url('pipedrive')}/api/v2/persons",
                params=params,
                headers=PIPEDRIVE,
            )
            .raise_for_status()
            .json()
        )
        out.update({str(p["id"]): _text(p.get("org_id")) for p in body["data"]})
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return out
        params["cursor"] = cursor


READERS: dict[str, Callable[[Tools], Companies]] = {
    "hubspot": Tools.hubspot_primary_companies,
    "salesforce": _salesforce,
    "pipedrive": _pipedrive,
    "zendesk": Tools.zendesk_organizations,
}


def _golden_companies() -> dict[str, str | None]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(GoldenRecord).where(GoldenRecord.entity == "person"))
        return {g.unified_id: g.values.get("company_id") for g in rows}


def _agreement(tools: Tools) -> dict[str, tuple[int, list[tuple[str, str | None, str | None]]]]:
    """Per tool: (people checked, the (person, golden company, company the tool points at)
    where the tool holds the person's golden company but points the person elsewhere)."""
    links, golden = all_links(), _golden_companies()
    out: dict[str, tuple[int, list[tuple[str, str | None, str | None]]]] = {}
    for tool, read in READERS.items():
        held = {uid for (entity, t, _), uid in links.items() if entity == "company" and t == tool}
        checked, wrong = 0, []
        for record_id, company in read(tools).items():
            person = links.get(("person", tool, record_id))
            expected = golden.get(person) if person else None
            if expected is None or expected not in held:
                continue
            checked += 1
            pointed = links.get(("company", tool, company)) if company else None
            if pointed != expected:
                wrong.append((person or "", expected, pointed))
        out[tool] = (checked, wrong)
    return out


def _contact_phone(tools: Tools, contact_id: str, phone: str) -> None:
    httpx.patch(
        f"{tools.server.base_url('salesforce')}/services/data/v62.0/sobjects/Contact/{contact_id}",
        json={"Phone": phone},
        headers=SALESFORCE,
    ).raise_for_status()


def test_five_tools_agree_on_companies_and_a_crm_edit_reaches_the_others_once(
    tools: Tools,
) -> None:
    first = sync(tools=TOOLS).report
    assert first.status == "completed", first.rows()
    for tool in TOOLS:
        for entity in ("person", "company"):
            assert first.tool(tool, entity).read_error is None, (tool, entity)

    agreement = _agreement(tools)
    for tool, (checked, wrong) in agreement.items():
        assert checked >= 10, f"{tool}: only {checked} people to check"
        assert wrong == [], f"{tool} points people at another company: {wrong[:3]}"

    settled = sync(tools=TOOLS).report
    assert settled.written == 0, settled.rows()

    links = all_links()
    by_golden: dict[str, dict[str, str]] = {}
    for (entity, tool, record_id), uid in links.items():
        if entity == "person":
            by_golden.setdefault(uid, {})[tool] = record_id
    person, held = next(
        (uid, records)
        for uid, records in sorted(by_golden.items())
        if {"hubspot", "pipedrive"} <= set(records)
        and records.get("salesforce", "").startswith("003")
    )
    # the phone follows the most recent edit (survivorship.yaml); a person types it any way
    _contact_phone(tools, held["salesforce"], "(415) 555-0199")

    moved = sync(tools=TOOLS)

    writes = {(w.tool, w.op, tuple(w.changes)) for w in moved.plan.writes if w.unified_id == person}
    assert ("hubspot", "update", ("phone",)) in writes, writes
    assert ("pipedrive", "update", ("phone",)) in writes, writes
    assert not [w for w in moved.plan.writes if w.unified_id == person and w.tool == "salesforce"]
    hubspot = httpx.get(
        f"{tools.server.base_url('hubspot')}/crm/v3/objects/contacts/{held['hubspot']}",
        params={"properties": "phone"},
        headers=HUBSPOT,
    ).raise_for_status()
    assert hubspot.json()["properties"]["phone"] == "+14155550199"
    pipedrive = httpx.get(
        f"{tools.server.base_url('pipedrive')}/api/v2/persons/{held['pipedrive']}",
        headers=PIPEDRIVE,
    ).raise_for_status()
    phones = pipedrive.json()["data"]["phones"]
    assert [p["value"] for p in phones if p.get("primary")] == ["+14155550199"], phones

    again = sync(tools=TOOLS).report
    assert again.written == 0, again.rows()
