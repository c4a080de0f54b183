"""Brevo through the sync flow against the sandbox, beside the CRM that fills it.

Brevo is an emailing tool: every golden person with an email gets a contact, created on the
list the mapping names, and HubSpot's companies are created in Brevo's CRM with those
contacts linked to them. Seeded Brevo contacts link to the HubSpot contact of the same person
(the world's truth, ``GET /_sandbox/truth``). The official client (``brevo-python``) reads back
what revsync wrote, and the run after writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from brevo import Brevo
from flow_testkit import Tools, entity_links, golden_values
from sqlmodel import Session, select

from flows.sync import sync
from mappings.consent import OPTED_OUT
from mappings.spec import load_mapping, to_unified
from sandbox.credentials import SANDBOX_BREVO_KEY
from state.db import engine_from_url
from state.models import DeadLetter

pytestmark = [pytest.mark.connected("hubspot", "brevo"), pytest.mark.people(40)]


def _brevo(tools: Tools, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{tools.server.base_url('brevo')}{path}",
        params=params,
        headers={"api-key": SANDBOX_BREVO_KEY},
    )
    return response.raise_for_status().json()


def _contacts(tools: Tools) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = _brevo(tools, "/contacts", limit=1000, offset=offset, sort="asc")["contacts"]
        out.update({str(c["id"]): c for c in page})
        if len(page) < 1000:
            return out
        offset += len(page)


def _companies(tools: Tools) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        items = _brevo(tools, "/companies", limit=100, page=page, sort="asc")["items"]
        out.update({c["id"]: c for c in items})
        if len(items) < 100:
            return out
        page += 1


def _dead_letters() -> list[str]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(DeadLetter).where(DeadLetter.tool == "brevo"))
        return [row.reason for row in rows]


@pytest.fixture
def sdk(tools: Tools) -> Iterator[Brevo]:
    with httpx.Client(timeout=10) as http:
        yield Brevo(
            api_key=SANDBOX_BREVO_KEY,
            base_url=tools.server.base_url("brevo"),
            max_retries=0,
            httpx_client=http,
        )


def test_people_converge_in_brevo_linked_to_their_companies(tools: Tools, sdk: Brevo) -> None:
    lists = load_mapping("brevo").constants[0].value
    first = sync().report
    assert first.status == "completed"
    assert first.tool("brevo", "person").created > 0
    assert first.tool("brevo", "company").created > 0
    assert not _dead_letters(), _dead_letters()

    # Every golden person with an email holds a Brevo contact, except those opted out
    # elsewhere (never added: tests/flows/test_consent_e2e.py), and the contact reads back as
    # the golden values of every field revsync writes (its email, unless a seeded contact
    # holds the person's other address: an identity field is written on creates only).
    mapping = load_mapping("brevo")
    contacts = _contacts(tools)
    people = golden_values("person")
    links = entity_links("person")
    brevo_of = {uid: rid for (tool, rid), uid in links.items() if tool == "brevo"}
    with_email = {uid: v for uid, v in people.items() if v.get("email")}
    missing = sorted(uid for uid in with_email if uid not in brevo_of)
    opted_out = {uid for uid in missing if with_email[uid].get("email_consent") in OPTED_OUT}
    assert missing == sorted(opted_out), "golden people with an email and no Brevo contact"
    with_email = {uid: v for uid, v in with_email.items() if uid in brevo_of}
    compared = [f.unified for f in mapping.fields if f.reads and f.writes and not f.identity]
    drift = []
    for uid, values in with_email.items():
        held = to_unified(mapping, contacts[brevo_of[uid]]).values
        drift += [
            (uid, f, held.get(f), values[f])
            for f in compared
            if values.get(f) != held.get(f) and values.get(f)
        ]
    assert not drift, drift[:5]

    # Seeded contacts meet the HubSpot contact of the same person, and no one else's.
    truth = tools.control("GET", "/truth")
    hubspot_of = {uid: rid for (tool, rid), uid in links.items() if tool == "hubspot"}
    seeded = [
        (rid, hubspot_of[uid])
        for (tool, rid), uid in links.items()
        if tool == "brevo" and uid in hubspot_of and f"brevo:contacts:{rid}" in truth
    ]
    assert len(seeded) >= 5, f"only {len(seeded)} seeded Brevo contacts met their HubSpot one"
    seeded_pairs = [(b, h) for b, h in seeded if f"hubspot:contacts:{h}" in truth]
    wrong = [
        (b, h)
        for b, h in seeded_pairs
        if truth[f"brevo:contacts:{b}"] != truth[f"hubspot:contacts:{h}"]
    ]
    assert not wrong, f"linked to another person's HubSpot contact: {wrong}"

    # Created contacts joined the mapping's lists, carry the golden id, and are linked to
    # their golden company's Brevo company.
    created = [uid for uid in with_email if f"brevo:contacts:{brevo_of[uid]}" not in truth]
    assert created
    for uid in created:
        contact = contacts[brevo_of[uid]]
        assert set(lists) <= set(contact["listIds"]), contact
        assert contact["attributes"]["EXT_ID"] == uid
    company_links = entity_links("company")
    brevo_company = {u: r for (tool, r), u in company_links.items() if tool == "brevo"}
    companies = _companies(tools)
    # Every contact, created or there before revsync (whose first update links it: Brevo
    # contacts do not list their companies), is linked to its golden company's Brevo one.
    linked: dict[bool, int] = {True: 0, False: 0}
    for uid in with_email:
        company = people[uid].get("company_id")
        if company in brevo_company:
            members = companies[brevo_company[company]]["linkedContactsIds"]
            assert int(brevo_of[uid]) in members, (uid, company)
            linked[uid in created] += 1
    assert linked[True] >= 3, f"only {linked[True]} created contacts were linked to their company"
    assert linked[False] >= 1, "no contact that existed before revsync was linked to its company"

    # The official client reads back what revsync wrote: a contact and a company.
    uid = next(u for u in created if people[u].get("company_id") in brevo_company)
    info = sdk.contacts.get_contact_info(brevo_of[uid])
    assert info.email == people[uid]["email"]
    assert info.attributes is not None
    assert info.attributes.model_dump().get("FIRSTNAME") == people[uid].get("first_name")
    golden_company = golden_values("company")[people[uid]["company_id"]]
    company = sdk.companies.get_a_company(brevo_company[people[uid]["company_id"]])
    assert company.attributes is not None
    assert company.attributes["name"] == golden_company["name"]
    assert int(brevo_of[uid]) in (company.linked_contacts_ids or [])

    settled = sync().report
    assert settled.status == "completed"
    assert settled.written == 0, settled.tools
