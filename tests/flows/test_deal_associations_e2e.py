"""A HubSpot deal's company and people, read through v4 associations (search has none): the
golden deal points at the golden company HubSpot marks Primary and at the golden people
associated with it, and reading them costs one batch call per page, not one per deal."""

from __future__ import annotations

from typing import Any

import httpx
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.sync import sync
from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from state.db import engine_from_url
from state.models import GoldenRecord, Link

TOOLS = ["hubspot"]
AUTH = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}


def _links(entity: str) -> dict[tuple[str, str], str]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(Link).where(Link.entity == entity))
        return {(x.tool, x.record_id): x.unified_id for x in rows}


def _goldens(entity: str) -> dict[str, dict[str, Any]]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(GoldenRecord).where(GoldenRecord.entity == entity))
        return {g.unified_id: dict(g.values) for g in rows}


def _associated(tools: Tools, deal_id: str, to_type: str) -> list[dict[str, Any]]:
    url = (
        f"{tools.server.base_url('hubspot')}/crm/v4/objects/deals/{deal_id}/associations/{to_type}"
    )
    return list(httpx.get(url, headers=AUTH).raise_for_status().json()["results"])


def test_a_hubspot_deal_carries_its_primary_company_and_its_people(tools: Tools) -> None:
    first = sync(tools=TOOLS).report
    assert first.status == "completed", first.rows()

    deals, companies, people = _links("deal"), _links("company"), _links("person")
    goldens = _goldens("deal")
    hubspot_deals = sorted(record for tool, record in deals if tool == "hubspot")
    assert len(hubspot_deals) > 5
    with_people = 0
    for deal_id in hubspot_deals[:12]:
        golden = goldens[deals[("hubspot", deal_id)]]
        (company,) = [
            c
            for c in _associated(tools, deal_id, "companies")
            if any(t.get("label") == "Primary" for t in c["associationTypes"])
        ]
        assert golden["company_id"] == companies[("hubspot", str(company["toObjectId"]))]
        contacts = _associated(tools, deal_id, "contacts")
        expected = sorted(
            {people[("hubspot", str(c["toObjectId"]))] for c in contacts} & set(people.values())
        )
        assert (golden["contact_ids"] or "").split(";") == (expected or [""])
        with_people += bool(expected)
    assert with_people, "no deal of the sample has people: the check above proved nothing"

    settled = sync(tools=TOOLS).report
    assert settled.written == 0, settled.rows()
