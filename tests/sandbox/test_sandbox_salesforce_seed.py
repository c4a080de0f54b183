"""Salesforce and Pipedrive seeding: shares of the world, stable ids, truth, loadable rows."""

from __future__ import annotations

import httpx
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_PIPEDRIVE_TOKEN, SANDBOX_SALESFORCE_TOKEN
from sandbox.salesforce.store import id18
from sandbox.server import SandboxServer
from sandbox.world import generate_world, load_world


def test_render_is_deterministic_with_shares_and_truth() -> None:
    one = generate_world(3000, 11, tools=["salesforce", "pipedrive"])
    two = generate_world(3000, 11, tools=["salesforce", "pipedrive"])
    assert one.seeds["salesforce"].streams == two.seeds["salesforce"].streams
    sf, pd = one.seeds["salesforce"], one.seeds["pipedrive"]
    people_sf = {v for k, v in sf.truth.items() if ":contacts:" in k or ":leads:" in k}
    people_pd = {v for k, v in pd.truth.items() if ":persons:" in k}
    assert 0.30 < len(people_sf) / 3000 < 0.40
    assert 0.25 < len(people_pd) / 3000 < 0.35
    contacts = sf.streams["contacts"]
    assert len({r["Id"] for r in contacts}) == len(contacts)  # ids unique
    assert all(len(r["Id"]) == 18 and id18(r["Id"][:15]) == r["Id"] for r in contacts)
    # in-tool duplicates: the same person behind two contacts
    owners = [sf.truth[f"salesforce:contacts:{r['Id']}"] for r in contacts]
    assert 0 < len(owners) - len(set(owners)) < 0.05 * len(owners)
    assert all(r["SystemModstamp"] >= r["LastModifiedDate"] >= r["CreatedDate"] for r in contacts)
    per_org = {r["Id"]: 0 for r in sf.streams["accounts"]}
    for opp in sf.streams["opportunities"]:
        per_org[opp["AccountId"]] += 1
    assert max(per_org.values()) <= 3
    persons = pd.streams["persons"]
    assert [p["id"] for p in persons] == list(range(1, len(persons) + 1))
    assert all(p["emails"] and p["emails"][0]["primary"] for p in persons)


def test_seeded_world_is_served(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    world = generate_world(600, 3, tools=["salesforce", "pipedrive"])
    load_world(sandbox.state, world)
    sf = httpx.get(
        sandbox.base_url("salesforce") + "/services/data/v62.0/query",
        params={"q": "SELECT COUNT() FROM Contact"},
        headers={"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"},
    ).json()
    assert sf["totalSize"] == len(world.seeds["salesforce"].streams["contacts"])
    first = world.seeds["salesforce"].streams["contacts"][0]
    row = httpx.get(
        sandbox.base_url("salesforce") + f"/services/data/v62.0/sobjects/Contact/{first['Id']}",
        headers={"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"},
    ).json()
    assert (row["Email"], row["SystemModstamp"]) == (first["Email"], first["SystemModstamp"])
    pd = httpx.get(
        sandbox.base_url("pipedrive") + "/api/v2/persons/1",
        headers={"x-api-token": SANDBOX_PIPEDRIVE_TOKEN},
    ).json()["data"]
    seeded = world.seeds["pipedrive"].streams["persons"][0]
    assert (pd["emails"], pd["update_time"]) == (seeded["emails"], seeded["update_time"])
    created = httpx.post(
        sandbox.base_url("salesforce") + "/services/data/v62.0/sobjects/Contact",
        json={"LastName": "New"},
        headers={"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"},
    ).json()["id"]
    assert created not in {r["Id"] for r in world.seeds["salesforce"].streams["contacts"]}
