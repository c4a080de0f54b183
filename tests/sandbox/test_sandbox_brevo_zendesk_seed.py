"""Brevo and Zendesk seeding: who is in each tool, the mess, the truth, and loading."""

from __future__ import annotations

import httpx
from sandbox_testkit import fresh

from sandbox.brevo import seed as brevo_seed
from sandbox.credentials import SANDBOX_BREVO_KEY, SANDBOX_ZENDESK_API_TOKEN
from sandbox.server import SandboxServer
from sandbox.world import generate_people, tool_rng
from sandbox.zendesk import seed as zendesk_seed

PEOPLE = 1000


def test_brevo_render_is_deterministic_and_messy() -> None:
    world = generate_people(PEOPLE, 7)
    seed = brevo_seed.render(world, tool_rng(7, "brevo"))
    again = brevo_seed.render(world, tool_rng(7, "brevo"))
    assert seed.streams == again.streams
    contacts = seed.streams["contacts"]
    people = {seed.truth[f"brevo:contacts:{c['id']}"] for c in contacts}
    assert 0.33 < len(people) / PEOPLE < 0.47
    assert len(contacts) > len(people)  # a few subscribed twice
    by_id = {p.id: p for p in world.people}
    personal = [
        c
        for c in contacts
        if c.get("email")
        and c["email"] != by_id[seed.truth[f"brevo:contacts:{c['id']}"]].work_email
    ]
    assert personal
    assert any("email" not in c for c in contacts)  # SMS-only contacts
    sms = [c["attributes"]["SMS"] for c in contacts if "SMS" in c["attributes"]]
    assert sms
    assert all(s.startswith("+") and s[1:].isdigit() for s in sms)
    assert len(set(sms)) == len(sms)
    assert all(1 <= len(c["listIds"]) <= 3 for c in contacts)
    assert all(k.split(":")[1] in {"contacts", "companies"} for k in seed.truth)


def test_zendesk_render_has_duplicates_and_strangers() -> None:
    world = generate_people(PEOPLE, 7)
    seed = zendesk_seed.render(world, tool_rng(7, "zendesk"))
    users = seed.streams["users"]
    end_users = [u for u in users if u["role"] == "end-user"]
    known = [u for u in end_users if f"zendesk:users:{u['id']}" in seed.truth]
    people = [seed.truth[f"zendesk:users:{u['id']}"] for u in known]
    assert 0.24 < len(set(people)) / PEOPLE < 0.36
    assert len(people) > len(set(people))  # in-tool duplicates
    strangers = {u["id"] for u in end_users} - {u["id"] for u in known}
    assert strangers
    tickets = seed.streams["tickets"]
    assert any(t["requester_id"] in strangers for t in tickets)
    emails = [u["email"] for u in users]
    assert len(set(emails)) == len(emails)  # Zendesk emails are unique per account
    org_ids = {o["id"] for o in seed.streams["organizations"]}
    assert all(u["organization_id"] in org_ids for u in users if u["organization_id"])


def test_load_serves_the_seeded_records(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    world = generate_people(300, 3, now=sandbox.state.clock().replace(microsecond=0))
    brevo = brevo_seed.render(world, tool_rng(3, "brevo"))
    zendesk = zendesk_seed.render(world, tool_rng(3, "zendesk"))
    brevo_seed.load(sandbox.state, brevo)
    zendesk_seed.load(sandbox.state, zendesk)
    listed = httpx.get(
        sandbox.base_url("brevo") + "/contacts",
        headers={"api-key": SANDBOX_BREVO_KEY},
        params={"limit": 1000},
    ).json()
    assert listed["count"] == len(brevo.streams["contacts"])
    auth = ("x@y.io/token", SANDBOX_ZENDESK_API_TOKEN)
    base = sandbox.base_url("zendesk") + "/api/v2"
    users = httpx.get(base + "/users", params={"per_page": 1}, auth=auth).json()
    assert users["count"] == len(zendesk.streams["users"])
    someone = zendesk.streams["users"][5]
    found = httpx.get(
        base + "/users/search", params={"query": f"email:{someone['email']}"}, auth=auth
    )
    assert [u["id"] for u in found.json()["users"]] == [someone["id"]]
    created = httpx.post(
        base + "/users", json={"user": {"name": "New", "email": "new@x.io"}}, auth=auth
    ).json()["user"]
    assert created["id"] > max(u["id"] for u in zendesk.streams["users"])
