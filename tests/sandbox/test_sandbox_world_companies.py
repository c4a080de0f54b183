"""Company mess in the seeded world: look-alike orgs, HubSpot duplicates and messy domains,
Zendesk organization names, all in the truth; and every other stream exactly as before."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from mappings.transforms import normalize_domain
from sandbox import world as world_mod
from sandbox.hubspot import seed as hubspot_seed
from sandbox.world import (
    World,
    company_core,
    confusable_orgs,
    generate_people,
    generate_world,
    mess_company_name,
    mess_domain,
)
from sandbox.zendesk import seed as zendesk_seed

PEOPLE, SEED = 1000, 3
TOOLS = ("hubspot", "mailchimp", "zendesk")


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(PEOPLE, SEED, tools=TOOLS)


def _companies(world: World) -> list[tuple[dict, str]]:
    truth = world.seeds["hubspot"].truth
    rows = world.seeds["hubspot"].streams["companies"]
    return [(c, truth[f"hubspot:companies:{c['hs_object_id']}"]) for c in rows]


def _organizations(world: World) -> list[tuple[dict, str]]:
    truth = world.seeds["zendesk"].truth
    rows = world.seeds["zendesk"].streams["organizations"]
    return [(o, truth[f"zendesk:organizations:{o['id']}"]) for o in rows]


@pytest.mark.parametrize("people", [0, 200, 10_000])
def test_every_world_has_distinct_lookalike_orgs(people: int) -> None:
    world = generate_people(people, 11)
    orgs = {o.id: o for o in world.orgs}
    lookalikes = [o for o in world.orgs if o.lookalike_of is not None]
    assert len(lookalikes) >= 3
    assert len({o.domain for o in world.orgs}) == len(orgs)  # distinct organizations
    for org in lookalikes:
        base = orgs[org.lookalike_of or ""]
        assert org.id != base.id
        assert company_core(org.name).startswith(company_core(base.name))
    assert any(o.name == orgs[o.lookalike_of or ""].name for o in lookalikes)  # the very same
    assert any(o.name != orgs[o.lookalike_of or ""].name for o in lookalikes)  # near-same
    # The orgs added last are look-alikes, nobody's employer, in another country than their base.
    employers = {p.org_id for p in world.people}
    for org in world.orgs[-3:]:
        assert org.lookalike_of is not None
        assert org.id not in employers
        assert org.country != orgs[org.lookalike_of].country


def test_lookalikes_change_no_person_and_no_other_tool(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world_mod, "_lookalikes", lambda orgs, seed: [])
    plain = generate_world(PEOPLE, SEED, tools=TOOLS)
    assert list(plain.people.people) == list(world.people.people)
    assert plain.seeds["mailchimp"] == world.seeds["mailchimp"]
    for tool, streams in (("hubspot", ("contacts", "deals")), ("zendesk", ("users", "tickets"))):
        for stream in streams:
            assert plain.seeds[tool].streams[stream] == world.seeds[tool].streams[stream]


def test_company_mess_draws_on_its_own_randomness(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot_seed, "_mess_companies", lambda *_a: None)
    monkeypatch.setattr(zendesk_seed, "_mess_organizations", lambda *_a: None)
    clean = generate_world(PEOPLE, SEED, tools=TOOLS)
    assert clean.seeds["hubspot"].streams["contacts"] == world.seeds["hubspot"].streams["contacts"]
    assert clean.seeds["hubspot"].streams["deals"] == world.seeds["hubspot"].streams["deals"]
    assert clean.seeds["zendesk"].streams["users"] == world.seeds["zendesk"].streams["users"]
    assert clean.seeds["zendesk"].streams["tickets"] == world.seeds["zendesk"].streams["tickets"]
    assert (
        clean.seeds["hubspot"].streams["companies"] != world.seeds["hubspot"].streams["companies"]
    )


def test_other_streams_keep_their_pinned_counts(world: World) -> None:
    # Figures of this seed before companies got messy: contacts, members, users unchanged.
    counts = world.counts()
    assert counts["hubspot_contacts"] == 819
    assert counts["hubspot_deals"] == 62
    assert counts["mailchimp_members"] == 753
    assert counts["zendesk_users"] == 323
    assert counts["zendesk_tickets"] == 458


def test_hubspot_companies_have_duplicates_and_messy_domains(world: World) -> None:
    orgs = {o.id: o for o in world.people.orgs}
    companies = _companies(world)
    per_org = Counter(org_id for _, org_id in companies)
    duplicated = [org_id for org_id, n in per_org.items() if n > 1]
    assert len(companies) - len(per_org) == max(
        1, round(len(per_org) * hubspot_seed.COMPANY_DUPLICATES)
    )
    for org_id in duplicated:
        names = {c["name"] for c, o in companies if o == org_id}
        assert len(names) > 1  # another spelling of the same org
        assert {company_core(n).lower() for n in names} == {company_core(orgs[org_id].name).lower()}
    domains = [c["domain"] for c, _ in companies]
    messy = [d for d in domains if d and d != normalize_domain(d)]
    assert 0.08 < len(messy) / len(companies) < 0.30
    assert any(d is None for d in domains)
    for company, org_id in companies:
        if company["domain"]:
            assert normalize_domain(company["domain"]) == orgs[org_id].domain


def test_lookalikes_are_rendered_apart_in_the_truth(world: World) -> None:
    orgs = {o.id: o for o in world.people.orgs}
    lookalikes = {o.id for o in orgs.values() if o.lookalike_of}
    confusable = confusable_orgs(orgs.values())
    for rendered in (_companies(world), _organizations(world)):
        org_ids = {org_id for _, org_id in rendered}
        assert lookalikes <= org_ids  # every look-alike is in HubSpot and Zendesk
        for org_id in lookalikes:
            assert orgs[org_id].lookalike_of in org_ids
            assert orgs[org_id].lookalike_of != org_id
        for record, org_id in rendered:
            if org_id in confusable:
                assert record.get("domain") or record.get("domain_names")


def test_every_company_and_organization_is_in_the_truth(world: World) -> None:
    orgs = {o.id for o in world.people.orgs}
    hubspot = world.seeds["hubspot"]
    zendesk = world.seeds["zendesk"]
    assert {f"hubspot:companies:{c['hs_object_id']}" for c in hubspot.streams["companies"]} == {
        k for k in hubspot.truth if k.startswith("hubspot:companies:")
    }
    assert {f"zendesk:organizations:{o['id']}" for o in zendesk.streams["organizations"]} == {
        k for k in zendesk.truth if k.startswith("zendesk:organizations:")
    }
    for key, who in world.truth.items():
        if key.split(":")[1] in ("companies", "organizations", "deals"):
            assert who in orgs, key
    ids = [c["hs_object_id"] for c in hubspot.streams["companies"]]
    assert len(ids) == len(set(ids))


def test_zendesk_organizations_have_legal_forms_and_missing_domains(world: World) -> None:
    orgs = {o.id: o for o in world.people.orgs}
    rendered = _organizations(world)
    names = [o["name"].lower() for o, _ in rendered]
    assert len(names) == len(set(names))  # Zendesk: names unique ignoring case
    renamed = [o for o, org_id in rendered if o["name"] != orgs[org_id].name]
    assert 0.15 < len(renamed) / len(rendered) < 0.6
    empty = [o for o, _ in rendered if not o["domain_names"]]
    assert len(empty) == round(len(rendered) * zendesk_seed.NO_DOMAIN)
    for org, org_id in rendered:
        assert org["domain_names"] in ([], [orgs[org_id].domain])


def test_mess_helpers_keep_the_org_recognizable() -> None:
    rng = random.Random(1)
    for _ in range(200):
        variant = mess_company_name(rng, "Acme Corp", "DE")
        assert variant != "Acme Corp"
        assert company_core(variant).lower().startswith("acme")
        assert normalize_domain(mess_domain(rng, "acme.co.uk")) == "acme.co.uk"
    assert company_core("Globex, Inc.") == "Globex"
    assert company_core("Inc") == "Inc"
