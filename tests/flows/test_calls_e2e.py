"""Calls through the sync flow against the sandbox: every phone-system call becomes a golden
call of its own, pointed at the golden person holding its number (checked against the seeded
world's truth), at nobody when the number is a shared line or withheld; people with a phone are
created as contacts in the phone system, and the next run writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_testkit import Tools, entity_links, golden_values

from flows.sync import sync
from sandbox.credentials import SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN

pytestmark = [pytest.mark.connected("hubspot", "aircall"), pytest.mark.people(40)]
PEOPLE_STREAMS = {"hubspot": "contacts", "aircall": "contacts"}
SWITCHBOARD = "+14155550199"


def _aircall(tools: Tools, path: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{tools.server.base_url('aircall')}/v1{path}",
        params=params,
        auth=(SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN),
    )
    return dict(response.raise_for_status().json())


def _all(tools: Tools, path: str, key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _aircall(tools, path, per_page=50, page=page)
        out += body[key]
        if not body["meta"]["next_page_link"]:
            return out
        page += 1


def _golden_calls() -> dict[str, dict[str, Any]]:
    """Aircall call id -> its golden call's values."""
    goldens = golden_values("call")
    return {rid: goldens[uid] for (tool, rid), uid in entity_links("call").items()}


def _phone_holders() -> dict[str, set[str]]:
    """E.164 number -> the golden people holding it (golden values and linked records)."""
    out: dict[str, set[str]] = {}
    for uid, values in golden_values("person").items():
        if values.get("phone"):
            out.setdefault(values["phone"], set()).add(uid)
    return out


def test_calls_link_to_the_one_person_holding_the_number_and_contacts_reach_the_phone_system(
    tools: Tools,
) -> None:
    # Flow tests run with zero retry waits: Aircall's 60 a minute is the connector tests' subject.
    tools.control("POST", "/rate_limits", json={"tool": "aircall", "max": 10_000})
    contacts = tools.hubspot_contacts()
    with_phone = [c for c in contacts if c["properties"].get("phone")]
    shared = with_phone[:2]
    for contact in shared:  # two colleagues given the office's main line
        tools.edit_hubspot(contact["id"], {"phone": SWITCHBOARD})
    state = tools.server.state
    now = state.now_ms() // 1000
    with state.lock:
        switchboard = state.aircall.place_call(SWITCHBOARD, now - 3600, user_id=1001)
        withheld = state.aircall.place_call("anonymous", now - 1800)
    calls = _all(tools, "/calls", "calls")

    first = sync().report
    assert first.status == "completed"
    read = first.tool("aircall", "call")
    assert read.read == len(calls)
    golden_calls = _golden_calls()
    assert set(golden_calls) == {str(c["id"]) for c in calls}  # one golden call per call
    assert len(set(entity_links("call").values())) == len(calls)
    assert first.tool("aircall", "call").written == 0

    truth: dict[str, str] = tools.control("GET", "/truth")
    people = entity_links("person")
    golden_of_truth: dict[str, set[str]] = {}
    for key, person in truth.items():
        tool, stream, rid = key.split(":", 2)
        if PEOPLE_STREAMS.get(tool) == stream and (tool, rid) in people:
            golden_of_truth.setdefault(person, set()).add(people[(tool, rid)])
    holders = _phone_holders()
    linked = 0
    for rid, values in golden_calls.items():
        assert values["status"] in {"answered", "missed", "voicemail"}, values
        assert values["direction"] in {"inbound", "outbound"}
        caller = truth.get(f"aircall:calls:{rid}")
        held = holders.get(values.get("phone") or "", set())
        if caller is None or not held:
            continue
        if len(held) == 1:
            # The one golden person holding the number is the seeded caller's.
            assert values["person_id"] in golden_of_truth[caller], (rid, values)
            linked += 1
        else:  # the caller left apart in two goldens by matching: the guard links neither
            assert values["person_id"] is None
    assert linked >= 5, f"only {linked} calls link to their seeded caller"
    # A call's company is its person's.
    persons = golden_values("person")
    assert any(
        persons[v["person_id"]].get("company_id") for v in golden_calls.values() if v["person_id"]
    )

    board = golden_calls[str(switchboard["id"])]
    assert board["phone"] == SWITCHBOARD
    assert len(holders[SWITCHBOARD]) == 2
    assert board["person_id"] is None
    assert board["agent"] == "alex.morgan@revsync-demo.io"
    anonymous = golden_calls[str(withheld["id"])]
    assert anonymous["phone"] is None
    assert anonymous["person_id"] is None
    assert anonymous["status"] == "missed"

    # Every golden person with a phone is an Aircall contact now, found by that number.
    created = first.tool("aircall", "person").created
    assert created > 0
    aircall_people = {uid for (tool, _), uid in people.items() if tool == "aircall"}
    phoned = {uid for uid, v in persons.items() if v.get("phone")}
    assert phoned <= aircall_people, phoned - aircall_people
    listed = _all(tools, "/contacts", "contacts")
    for uid in sorted(phoned)[:10]:
        number = persons[uid]["phone"]
        found = _aircall(tools, "/contacts/search", phone_number=number)["contacts"]
        assert found, f"no Aircall contact holds {number}"
    assert len(_aircall(tools, "/contacts/search", phone_number=SWITCHBOARD)["contacts"]) == 2
    assert all(c["phone_numbers"] for c in listed)

    second = sync().report
    assert second.status == "completed"
    assert second.written == 0, second.tools
    assert set(_golden_calls()) == set(golden_calls)
