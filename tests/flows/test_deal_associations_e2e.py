"""A HubSpot deal's company and people, read through v4 associations (search has none): the
golden deal points at the golden company HubSpot marks Primary and at the golden people
associated with it, and reading them costs one batch call per page, not one per deal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links, golden_values

from flows.sync import sync
from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN

TOOLS = ["hubspot"]
pytestmark = pytest.mark.connected(*TOOLS)
AUTH = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}


def _associated(tools: Tools, deal_id: str, to_type: str) -> list[dict[str, Any]]:
    url = (
        f"{tools.server.base_url('hubspot')}/crm/v4/objects/deals/{deal_id}/associations/{to_type}"
    )
    return list(httpx.get(url, headers=AUTH).raise_for_status().json()["results"])


def test_a_hubspot_deal_carries_its_primary_company_and_its_people(tools: Tools) -> None:
    first = sync(tools=TOOLS).report
    assert first.status == "completed", first.rows()

    deals, companies, people = entity_links("deal"), entity_links("company"), entity_links("person")
    goldens = golden_values("deal")
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
