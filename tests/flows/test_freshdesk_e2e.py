"""Freshdesk through the sync flow against the sandbox, beside the CRM it is compared to.

Freshdesk contacts end up linked to the HubSpot contacts of the same person (the seeded
world's truth says who is who), contacts are updated but never created from HubSpot, an edit
made in HubSpot reaches Freshdesk once and the run after writes nothing. A contact merged
away in Freshdesk is followed when next written, and a contact revsync cannot map is a dead
letter, not a failed run.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links, golden_values
from sqlmodel import Session, select

from flows.sync import sync
from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY
from sandbox.world import generate_world
from state.db import engine_from_url
from state.models import DeadLetter

pytestmark = [pytest.mark.connected("hubspot", "freshdesk"), pytest.mark.people(40)]

SEED_PEOPLE, SEED = 40, 7  # the people marker above and tests/flows/conftest.py's seed


def _freshdesk(tools: Tools, method: str, path: str, **kwargs: Any) -> Any:
    """Freshdesk's API as an agent at the keyboard uses it (its UI calls the same API)."""
    response = httpx.request(
        method,
        f"{tools.server.base_url('freshdesk')}/api/v2{path}",
        auth=(SANDBOX_FRESHDESK_API_KEY, "X"),
        **kwargs,
    ).raise_for_status()
    return response.json() if response.content else None


def _contacts(tools: Tools) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = _freshdesk(tools, "GET", "/contacts", params={"per_page": 100, "page": page})
        out += batch
        if len(batch) < 100:
            return out
        page += 1


def _written(report: Any, tool: str) -> int:
    return sum(report.tool(tool, entity).written for entity in ("person", "company"))


def _dead_letters(tool: str) -> list[DeadLetter]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(DeadLetter).where(DeadLetter.tool == tool)))


def test_contacts_link_to_the_same_people_in_hubspot_and_a_hubspot_edit_travels_once(
    tools: Tools,
) -> None:
    before = {c["id"] for c in _contacts(tools)}
    first = sync().report
    assert first.status == "completed"
    assert first.tool("freshdesk", "person").created == 0, "a helpdesk gets no new contacts"
    assert {c["id"] for c in _contacts(tools)} == before
    # Company names are unique in Freshdesk: a look-alike of the same name is refused, never
    # written over the company it is mistaken for.
    refused = [d for d in _dead_letters("freshdesk") if d.stage == "apply"]
    assert all("another company named" in (d.reason or "") for d in refused), refused

    truth = generate_world(SEED_PEOPLE, SEED, tools=("hubspot", "freshdesk")).truth
    links = entity_links("person")
    both = 0
    for (tool, record_id), uid in links.items():
        person = truth.get(f"freshdesk:contacts:{record_id}")
        if tool != "freshdesk" or person is None:
            continue
        # HubSpot contacts of the seeded world (the sync creates the others from Freshdesk's).
        hubspot = {
            truth[f"hubspot:contacts:{rid}"]
            for (t, rid), u in links.items()
            if t == "hubspot" and u == uid and f"hubspot:contacts:{rid}" in truth
        }
        # Never linked to someone else's HubSpot contact...
        assert hubspot <= {person}, (record_id, person, hubspot)
        both += bool(hubspot)
    # ...and linked to the same person's in most cases (helpdesk emails are messy).
    in_both = [
        key.rsplit(":", 1)[1]
        for key, person in truth.items()
        if key.startswith("freshdesk:contacts:")
        and any(k.startswith("hubspot:contacts:") and p == person for k, p in truth.items())
    ]
    assert in_both, "the seeded world has people in both tools"
    assert both >= len(in_both) * 0.7, f"{both} of {len(in_both)} contacts linked to HubSpot's"

    # Contacts sit in their golden company's Freshdesk company.
    company_of = {uid: rid for (t, rid), uid in entity_links("company").items() if t == "freshdesk"}
    people = golden_values("person")
    placed = 0
    for contact in _contacts(tools):
        uid = links.get(("freshdesk", str(contact["id"])))
        company = people.get(uid or "", {}).get("company_id")
        if company in company_of:
            assert str(contact.get("company_id")) == company_of[company], contact
            placed += 1
    assert placed >= 3, f"only {placed} contacts have a golden company in Freshdesk"

    # A person both tools hold, renamed in HubSpot: Freshdesk gets the new first name once.
    hubspot_of = {uid: rid for (t, rid), uid in links.items() if t == "hubspot"}
    target = next(
        c
        for c in _contacts(tools)
        if links.get(("freshdesk", str(c["id"]))) in hubspot_of
        and len(str(c.get("name") or "").split()) == 2
    )
    uid = links[("freshdesk", str(target["id"]))]
    tools.edit_hubspot(hubspot_of[uid], {"firstname": "Zebulon"})

    second = sync().report
    assert second.status == "completed"
    assert second.tool("freshdesk", "person").updated == 1, second.tools
    assert _written(second, "freshdesk") == 1, second.tools
    after = _freshdesk(tools, "GET", f"/contacts/{target['id']}")
    assert after["name"] == f"Zebulon {str(target['name']).split()[1]}"

    third = sync().report
    assert third.written == 0, third.tools


def test_a_merged_away_contact_is_followed_and_a_malformed_one_is_a_dead_letter(
    tools: Tools,
) -> None:
    # A contact whose email an agent typed wrong (Freshdesk's own check let it through).
    contacts = _contacts(tools)
    broken = contacts[0]
    with tools.server.state.lock:
        store = tools.server.state.freshdesk.contacts
        record = store.get(broken["id"])
        assert record is not None
        store.put(broken["id"], {**record, "email": "jane.doe(at)example"}, record["_created_ms"])

    first = sync().report
    assert first.status == "completed"
    letters = [d for d in _dead_letters("freshdesk") if d.stage == "map"]
    assert [d.record_id for d in letters] == [str(broken["id"])], letters
    assert letters[0].reason
    assert ("freshdesk", str(broken["id"])) not in entity_links("person")

    # Two linked contacts merged in Freshdesk; then the merged-away one's person changes in
    # HubSpot, so revsync writes to a contact that no longer exists.
    links = entity_links("person")
    hubspot_of = {uid: rid for (t, rid), uid in links.items() if t == "hubspot"}
    linked = [
        c
        for c in _contacts(tools)
        if links.get(("freshdesk", str(c["id"]))) in hubspot_of and c["id"] != broken["id"]
    ]
    merged, survivor = linked[0], linked[1]
    _freshdesk(
        tools,
        "POST",
        "/contacts/merge",
        json={"primary_contact_id": survivor["id"], "secondary_contact_ids": [merged["id"]]},
    )
    tools.edit_hubspot(hubspot_of[links[("freshdesk", str(merged["id"]))]], {"jobtitle": "CFO"})

    followed = sync().report
    assert followed.status == "completed"
    assert followed.tool("freshdesk", "person").gone == 1, followed.tools
    apply_letters = [
        d for d in _dead_letters("freshdesk") if d.stage == "apply" and d.stream == "contacts"
    ]
    assert not apply_letters, [d.reason for d in apply_letters]
    after = entity_links("person")
    assert ("freshdesk", str(merged["id"])) not in after, "the merged-away contact is linked"
    assert ("freshdesk", str(survivor["id"])) in after
