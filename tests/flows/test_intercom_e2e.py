"""Intercom through the sync flow against the sandbox, beside the CRM it is compared to.

Intercom contacts (users and leads) link to the HubSpot contacts of the same person, as the
seeded world's truth says; Intercom gets no contacts from HubSpot (a helpdesk-like tool is
updated, not filled). A lead who signs up and is merged into the new user in Intercom is
followed from the user's merge history: no second golden record, no dead letter, and the
HubSpot edit made meanwhile reaches the user once. A contact deleted in Intercom is learnt
when next written (404): its link is dropped, no dead letter. The run after writes nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links
from sqlmodel import Session, select

from flows.sync import sync
from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from state.db import engine_from_url
from state.models import DeadLetter, GoldenRecord

pytestmark = [pytest.mark.connected("hubspot", "intercom"), pytest.mark.people(40)]


def _intercom(tools: Tools, method: str, path: str, **kwargs: Any) -> Any:
    """Intercom's API as the product and its admins use it."""
    response = httpx.request(
        method,
        f"{tools.server.base_url('intercom')}{path}",
        headers={"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}", "Intercom-Version": "2.16"},
        **kwargs,
    ).raise_for_status()
    return response.json()


def _contacts(tools: Tools) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"per_page": 150}
    while True:
        page = _intercom(tools, "GET", "/contacts", params=params)
        out.update({c["id"]: c for c in page["data"]})
        params["starting_after"] = ((page.get("pages") or {}).get("next") or {}).get(
            "starting_after"
        )
        if not params["starting_after"]:
            return out


def _golden_count() -> int:
    with Session(engine_from_url()) as session:
        return len(list(session.exec(select(GoldenRecord).where(GoldenRecord.entity == "person"))))


def _dead_letters() -> list[str]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(DeadLetter).where(DeadLetter.tool == "intercom"))
        return [row.reason for row in rows]


def test_contacts_link_to_the_crm_and_a_lead_merged_into_a_user_is_followed(
    tools: Tools,
) -> None:
    first = sync().report
    assert first.status == "completed"
    assert first.tool("intercom", "person").created == 0, "Intercom is not filled from the CRM"

    # Linked as the world's truth says: an Intercom contact and a HubSpot contact share a
    # golden record only when they are the same person.
    truth = tools.server.state.truth
    links = entity_links("person")
    hubspot_of = {uid: rid for (tool, rid), uid in links.items() if tool == "hubspot"}
    pairs = [
        (rid, hubspot_of[uid])
        for (tool, rid), uid in links.items()
        if tool == "intercom" and uid in hubspot_of
    ]
    # (HubSpot contacts the sync created for Intercom-only people are in no seed's truth.)
    seeded = [(ic, hs) for ic, hs in pairs if f"hubspot:contacts:{hs}" in truth]
    assert len(seeded) >= 5, f"only {len(seeded)} Intercom contacts met their HubSpot contact"
    wrong = [
        (ic, hs)
        for ic, hs in seeded
        if truth[f"intercom:contacts:{ic}"] != truth[f"hubspot:contacts:{hs}"]
    ]
    assert not wrong, f"linked to another person's HubSpot contact: {wrong}"

    # A lead with an email who is also in HubSpot signs up: Intercom makes a user with the
    # same address, and an admin merges the lead into it.
    contacts = _contacts(tools)
    lead_id, golden = next(
        (rid, uid)
        for (tool, rid), uid in sorted(links.items())
        if tool == "intercom"
        and uid in hubspot_of
        and contacts[rid]["role"] == "lead"
        and contacts[rid]["email"]
    )
    email = contacts[lead_id]["email"]
    user = _intercom(tools, "POST", "/contacts", json={"role": "user", "email": email})
    _intercom(tools, "POST", "/contacts/merge", json={"from": lead_id, "into": user["id"]})
    # Another contact in both tools is deleted in Intercom.
    deleted, other = next(
        (rid, uid)
        for (tool, rid), uid in sorted(links.items())
        if tool == "intercom" and uid in hubspot_of and uid != golden
    )
    _intercom(tools, "DELETE", f"/contacts/{deleted}")
    goldens = _golden_count()
    # Meanwhile the phone changes in HubSpot, for both people.
    tools.edit_hubspot(hubspot_of[golden], {"phone": "+1 415 555 0142"})
    tools.edit_hubspot(hubspot_of[other], {"phone": "+1 415 555 0199"})
    seen = len(tools.requests("intercom"))

    followed = sync().report
    assert followed.status == "completed"
    assert not _dead_letters(), _dead_letters()
    links = entity_links("person")
    assert ("intercom", lead_id) not in links
    assert links[("intercom", user["id"])] == golden
    assert _golden_count() == goldens, "the user became a second golden record"
    writes = [
        r
        for r in tools.requests("intercom")[seen:]
        if r["method"] in ("PUT", "POST") and r["path"].endswith(f"/contacts/{user['id']}")
    ]
    assert [(r["method"], r["status"]) for r in writes] == [("PUT", 200)]
    assert _intercom(tools, "GET", f"/contacts/{user['id']}")["phone"] == "+14155550142"
    # The merge was followed from the user's merge history, before anything was written to
    # the lead; the deleted contact was learnt from its 404 and its link dropped.
    calls = tools.requests("intercom")[seen:]
    assert not [r for r in calls if r["path"].endswith(f"/contacts/{lead_id}")]
    assert [r["status"] for r in calls if r["path"].endswith(f"/contacts/{deleted}")] == [404]
    assert followed.tool("intercom", "person").gone == 1
    assert ("intercom", deleted) not in links

    settled = sync().report
    assert settled.written == 0, settled.tools
