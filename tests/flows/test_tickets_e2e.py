"""Tickets through the sync flow against the sandbox: read from the helpdesk's incremental
export, each a golden ticket of its own, attached to the golden person who asked (checked
against the seeded world's truth) and to that person's company, never written anywhere; a
status change and a deletion made in the helpdesk are read on the next run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links, golden_values

from flows.sync import sync
from sandbox.credentials import SANDBOX_ZENDESK_API_TOKEN, SANDBOX_ZENDESK_EMAIL

pytestmark = [pytest.mark.connected("hubspot", "zendesk"), pytest.mark.people(60)]

STATUSES = {"new", "open", "pending", "solved", "closed"}


def _zendesk(tools: Tools, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{tools.server.base_url('zendesk')}/api/v2{path}",
        auth=(f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN),
        **kwargs,
    ).raise_for_status()


def _golden_tickets() -> dict[str, dict[str, Any]]:
    """Zendesk ticket id -> its golden ticket's values."""
    goldens = golden_values("ticket")
    return {
        rid: goldens[uid]
        for (tool, rid), uid in entity_links("ticket").items()
        if tool == "zendesk"
    }


def test_tickets_attach_to_the_golden_person_who_asked_and_are_never_copied(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    # See changes at once (Zendesk withholds the last minute); restored after the test.
    monkeypatch.setattr(tools.server.state.zendesk, "recent_exclusion_s", 0)
    first = sync().report
    assert first.status == "completed"
    counts = first.tool("zendesk", "ticket")
    assert counts.read > 0
    assert counts.written == 0
    assert all(first.tool(t, "ticket").written == 0 for t in ("hubspot", "zendesk"))

    truth: dict[str, str] = tools.control("GET", "/truth")
    people = entity_links("person")
    # The golden person of each seeded person, through any of its records.
    golden_of_truth: dict[str, set[str]] = {}
    for key, person in truth.items():
        tool, stream, rid = key.split(":", 2)
        uid = people.get((tool, rid)) if stream in {"contacts", "users"} else None
        if uid is not None:
            golden_of_truth.setdefault(person, set()).add(uid)
    tickets = _golden_tickets()
    assert len(tickets) == counts.read
    checked = crm_known = 0
    for rid, values in tickets.items():
        assert values["status"] in STATUSES, values
        assert values["url"].endswith(f"/agent/tickets/{rid}")
        asked = truth.get(f"zendesk:tickets:{rid}")
        if asked is None:
            continue
        # One of the person's goldens (matching may leave a seeded duplicate apart; that is
        # the identity tests' subject), never another person's.
        assert values["requester_id"] in golden_of_truth[asked], (rid, values)
        checked += 1
        crm_known += any(
            truth.get(f"hubspot:contacts:{h}") == asked
            for (tool, h), uid in people.items()
            if tool == "hubspot" and uid == values["requester_id"]
        )
    assert checked >= 10, f"only {checked} tickets have a known requester"
    assert crm_known >= 1, "no ticket's requester is also a HubSpot contact"
    companies = {uid for (tool, _), uid in entity_links("company").items()}
    with_company = [v for v in tickets.values() if v.get("company_id")]
    assert with_company, "no ticket carries its requester's company"
    assert {v["company_id"] for v in with_company} <= companies

    # A ticket solved in Zendesk, another deleted there: read on the next run, nothing written.
    solved, deleted = sorted(rid for rid, v in tickets.items() if v["status"] == "open")[:2]
    _zendesk(tools, "PUT", f"/tickets/{solved}", json={"ticket": {"status": "solved"}})
    _zendesk(tools, "DELETE", f"/tickets/{deleted}")

    second = sync().report
    assert second.written == 0, second.tools
    assert second.tool("zendesk", "ticket").gone == 1
    after = _golden_tickets()
    assert after[solved]["status"] == "solved"
    assert deleted not in after
    assert set(after) == set(tickets) - {deleted}
