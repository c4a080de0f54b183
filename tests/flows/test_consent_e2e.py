"""Consent against the sandbox (HubSpot, Mailchimp, Brevo, Salesforce, Aircall): an unsubscribe
anywhere reaches every tool that takes one, nobody is ever (re-)subscribed, nobody opted out or
bounced is added to an emailing tool, and each decision not to write is journaled with its
reason."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links, golden_values
from sqlmodel import Session, select

from flows.sync import sync
from mappings.consent import OPTED_OUT, restrictiveness
from sandbox.credentials import (
    SANDBOX_BREVO_KEY,
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_SALESFORCE_TOKEN,
)
from sandbox.mailchimp.store import ADMIN_UNSUBSCRIBE
from state.db import engine_from_url
from state.models import JournalEntry

TOOLS = ["hubspot", "mailchimp", "brevo", "salesforce", "aircall"]
EMAILING = ("mailchimp", "brevo")
pytestmark = [pytest.mark.connected(*TOOLS), pytest.mark.people(50)]

MAILCHIMP_STATE = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "cleaned": "cleaned",
    "pending": "never_asked",
    "transactional": "never_asked",
}


def _hubspot_states(tools: Tools) -> dict[str, str]:
    """HubSpot contact id -> its consent state, from hs_email_optout."""
    out: dict[str, str] = {}
    params: dict[str, Any] = {"limit": 100, "properties": "email,hs_email_optout"}
    headers = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
    while True:
        url = f"{tools.server.base_url('hubspot')}/crm/v3/objects/contacts"
        page = httpx.get(url, params=params, headers=headers).raise_for_status().json()
        for c in page["results"]:
            flag = c["properties"].get("hs_email_optout")
            out[str(c["id"])] = "unsubscribed" if flag == "true" else "never_asked"
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out
        params["after"] = after


def _salesforce_flags(tools: Tools) -> dict[str, bool]:
    """Salesforce Contact and Lead id -> HasOptedOutOfEmail."""
    url = f"{tools.server.base_url('salesforce')}/services/data/v62.0/query"
    headers = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
    out: dict[str, bool] = {}
    for sobject in ("Contact", "Lead"):
        query = f"SELECT Id, HasOptedOutOfEmail FROM {sobject}"
        body = httpx.get(url, params={"q": query}, headers=headers).raise_for_status().json()
        out.update({r["Id"]: bool(r["HasOptedOutOfEmail"]) for r in body["records"]})
    return out


def _brevo_flags(tools: Tools) -> dict[str, bool]:
    """Brevo contact id -> emailBlacklisted."""
    out: dict[str, bool] = {}
    offset = 0
    while True:
        page = (
            httpx.get(
                f"{tools.server.base_url('brevo')}/contacts",
                params={"limit": 1000, "offset": offset},
                headers={"api-key": SANDBOX_BREVO_KEY},
            )
            .raise_for_status()
            .json()["contacts"]
        )
        out.update({str(c["id"]): bool(c["emailBlacklisted"]) for c in page})
        offset += len(page)
        if not page:
            return out


def _states(tools: Tools) -> dict[tuple[str, str], str]:
    """(tool, record id) -> the consent state the tool holds for it."""
    out: dict[tuple[str, str], str] = {}
    out.update({("hubspot", rid): s for rid, s in _hubspot_states(tools).items()})
    for m in tools.mailchimp_members():
        out[("mailchimp", m["id"])] = MAILCHIMP_STATE[m["status"]]
    for rid, flag in _salesforce_flags(tools).items():
        out[("salesforce", rid)] = "unsubscribed" if flag else "never_asked"
    for rid, flag in _brevo_flags(tools).items():
        out[("brevo", rid)] = "unsubscribed" if flag else "never_asked"
    return out


def _people() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (tool, record_id), unified_id in entity_links("person").items():
        out[unified_id].append((tool, record_id))
    return out


def _held() -> list[JournalEntry]:
    with Session(engine_from_url()) as session:
        return list(session.exec(select(JournalEntry).where(JournalEntry.status == "held")))


def test_opt_outs_reach_every_tool_and_nobody_is_subscribed(tools: Tools) -> None:
    before = _states(tools)
    opted_out_before = {key for key, state in before.items() if state in OPTED_OUT}
    assert {tool for tool, _ in opted_out_before} >= {"hubspot", "mailchimp", "brevo"}

    sync(tools=TOOLS)
    after = _states(tools)
    people = _people()
    goldens = golden_values("person")
    created_members = {k for k in after if k[0] in EMAILING} - set(before)
    assert {tool for tool, _ in created_members} == set(EMAILING), "people reach both"

    opted_out_people = 0
    for unified_id, records in people.items():
        known = [before[r] for r in records if r in before]
        expected = max(known, key=restrictiveness) if known else None
        assert goldens[unified_id].get("email_consent") == expected, unified_id
        for record in records:
            if record not in after:
                continue  # a tool without consent (the calling tool)
            state = after[record]
            if expected in OPTED_OUT and record[0] in (*EMAILING, "salesforce", "hubspot"):
                assert state in OPTED_OUT, (record, before.get(record), state)
            if record in created_members:
                assert expected not in OPTED_OUT, record
                assert state != "subscribed", record
            if before.get(record) != "subscribed":
                assert state != "subscribed", (record, before.get(record))
        if expected in OPTED_OUT:
            opted_out_people += 1
    assert opted_out_people > 0

    # Opted out elsewhere and not in an emailing tool: not added, and the journal says why.
    for tool in EMAILING:
        held_creates = {e.unified_id for e in _held() if e.tool == tool and e.op == "create"}
        not_added = {
            uid
            for uid, records in people.items()
            if goldens[uid].get("email_consent") in OPTED_OUT
            and not any(t == tool for t, _ in records)
        }
        assert not_added, tool
        assert held_creates == not_added, tool
    assert all("not created in" in (e.error or "") for e in _held() if e.op == "create")

    # The calling tool in the same world: its calls attach to golden people by phone.
    calls = golden_values("call")
    assert calls
    assert any(c.get("person_id") in goldens for c in calls.values())

    assert sync(tools=TOOLS).report.written == 0


def test_an_unsubscribe_in_the_emailing_tool_reaches_the_crm(tools: Tools) -> None:
    sync(tools=TOOLS)
    states = _states(tools)
    people = _people()
    target = next(
        (uid, dict(records))
        for uid, records in sorted(people.items())
        if {"mailchimp", "salesforce", "hubspot"} <= {t for t, _ in records}
        and all(states.get(r) not in OPTED_OUT for r in records)
    )
    unified_id, records = target
    url = (
        f"{tools.server.base_url('mailchimp')}/lists/{SANDBOX_MAILCHIMP_LIST_ID}"
        f"/members/{records['mailchimp']}"
    )
    httpx.patch(
        url, json={"status": "unsubscribed"}, auth=("revsync", SANDBOX_MAILCHIMP_KEY)
    ).raise_for_status()

    result = sync(tools=TOOLS)
    golden = golden_values("person")[unified_id]
    assert golden["email_consent"] == "unsubscribed"
    # Mailchimp records why: an unsubscribe through the API is an admin's.
    assert golden["email_consent_reason"] == ADMIN_UNSUBSCRIBE
    assert _salesforce_flags(tools)[records["salesforce"]] is True
    writes = [w for w in result.plan.writes if w.unified_id == unified_id]
    expected = {("salesforce", "unsubscribed")}
    if "hubspot" in records:
        # Through the communication preferences API: HubSpot then sets hs_email_optout.
        expected.add(("hubspot", "unsubscribed"))
        assert _hubspot_states(tools)[records["hubspot"]] == "unsubscribed"
    if "brevo" in records:
        expected.add(("brevo", "unsubscribed"))
        assert _brevo_flags(tools)[records["brevo"]] is True
    assert {(w.tool, dict(w.changes)["email_consent"].new) for w in writes} == expected

    # The person subscribes again in Mailchimp: Salesforce still holds the opt-out, which
    # revsync never lifts, so the golden record stays unsubscribed.
    httpx.patch(
        url, json={"status": "subscribed"}, auth=("revsync", SANDBOX_MAILCHIMP_KEY)
    ).raise_for_status()
    sync(tools=TOOLS)
    golden = golden_values("person")[unified_id]
    assert golden["email_consent"] == "unsubscribed"
    assert _salesforce_flags(tools)[records["salesforce"]] is True
