"""HubSpot's share of the seeded world: contacts and companies with a CRM's typical mess.

~80% of people are contacts (the same `draw(p, "crm-marketing") < 0.80` Mailchimp reads, so
~55% are in both). Mess: mostly work emails, some personal; ~10% emails with stray
whitespace (imported data); ~1.25% broken or fake-domain emails; nicknames and sloppy names;
phones typed every way; ~2% duplicate contacts with the person's personal email; sparse fields.
Deals: 0-3 per company, associated with it (primary) and with 1-2 of its contacts.
Every contact (duplicates too) is associated with the company created for its person's org,
which is therefore its primary company (``associatedcompanyid``); a duplicate company of the
org (below) has no contacts, so the original stays the primary. The links come from the world
alone, after everything else is rendered (no draw on any `random.Random`), and are kept in
each contact row's ``associations`` like a deal's; the truth is unchanged (a contact still
maps to its person, a company to its org).

Companies: one per org with contacts, plus every look-alike org (a prospect with no contact
yet). Their mess comes from a `random.Random` of its own (seed + "hubspot:companies"), so
contacts and deals are exactly what they were without it: ~15% of domains typed as a URL or in
capitals, ~5% missing, and ~5% of companies duplicated (another spelling of the name, the domain
as a URL or missing, sometimes a phone).
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.hubspot.store import DEAL_STAGES, HubSpotObjects
from sandbox.state import SandboxState
from sandbox.timefmt import iso_ms_z, parse_instant_ms
from sandbox.world import (
    COUNTRY_NAMES,
    OrgTruth,
    PeopleWorld,
    PersonTruth,
    ToolSeed,
    broken_email,
    confusable_orgs,
    mess_company_name,
    mess_domain,
    mess_name,
    nickname,
    pad_email,
    random_phone_format,
    record_times,
)

__all__ = ["COMPANY_DUPLICATES", "IN_HUBSPOT", "OWNER_IDS", "load", "render"]

IN_HUBSPOT = 0.80
"""People with ``draw(p, "crm-marketing") < IN_HUBSPOT`` are HubSpot contacts."""

_FIRST_CONTACT_ID = 1001
_FIRST_COMPANY_ID = 5001
_FIRST_DEAL_ID = 9001
_DERIVED = (
    "hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate", "associations",
)  # fmt: skip
OWNER_IDS = ("31245001", "31245002", "31245003", "31245004")
COMPANY_DUPLICATES = 0.05
"""Share of companies someone created a second time (at least one)."""
_MESSY_DOMAIN = 0.15
_NO_DOMAIN = 0.05
_PRODUCTS = ("Platform", "Renewal", "Expansion", "Pilot", "Support plan", "Onboarding")


def _first_name(rng: random.Random, first: str) -> str:
    roll = rng.random()
    short = nickname(first)
    if short and roll < 0.125:
        return short
    if roll > 0.925:
        return mess_name(rng, first)
    return first


def _contact(
    rng: random.Random, world: PeopleWorld, person: PersonTruth, contact_id: int
) -> tuple[dict[str, Any], bool]:
    """(properties, invalid email?) for the person's main contact."""
    email = person.work_email
    if person.personal_email and rng.random() < 0.10:
        email = person.personal_email
    invalid = rng.random() < 0.0125
    if invalid:
        email = broken_email(rng, email)
    elif rng.random() < 0.10:
        email = pad_email(rng, email)
    created, modified = record_times(rng, world)
    org = world.org(person)
    props: dict[str, Any] = {
        "hs_object_id": str(contact_id),
        "email": email,
        "firstname": _first_name(rng, person.first_name),
        "lastname": person.last_name if rng.random() > 0.05 else mess_name(rng, person.last_name),
        "phone": random_phone_format(rng, person.phone) if rng.random() < 0.85 else None,
        "mobilephone": (
            random_phone_format(rng, person.mobile)
            if person.mobile and rng.random() < 0.3
            else None
        ),
        "company": org.name,
        "jobtitle": person.job_title if rng.random() < 0.8 else None,
        "lifecyclestage": person.lifecycle_stage,
        "city": person.city if rng.random() < 0.75 else None,
        "country": COUNTRY_NAMES[person.country] if rng.random() < 0.7 else None,
        # Unsubscribed through HubSpot's subscription preferences (its own draw: the seeded
        # world's other values do not move).
        "hs_email_optout": "true" if world.draw(person, "hubspot-email-optout") < 0.06 else "false",
        "createdate": iso_ms_z(created),
        "lastmodifieddate": iso_ms_z(modified),
    }
    return props, invalid


def _duplicate_email(person: PersonTruth, main_email: str) -> str:
    if person.personal_email and person.personal_email != main_email.strip():
        return person.personal_email
    # Unique per person: the index is part of the local part.
    return f"{person.work_email.split('@')[0]}.{person.index + 1}@gmail.com"


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Contacts for ~80% of people (+~2% duplicates) and a company per org they work at."""
    seed = ToolSeed(streams={"contacts": [], "companies": []})
    contacts = seed.streams["contacts"]
    next_id = _FIRST_CONTACT_ID
    used_orgs: set[int] = set()
    org_contacts: dict[int, list[int]] = {}
    contact_org: dict[int, int] = {}
    for person in world.people:
        if world.draw(person, "crm-marketing") >= IN_HUBSPOT:
            continue
        used_orgs.add(person.org_index)
        org_contacts.setdefault(person.org_index, []).append(next_id)
        props, invalid = _contact(rng, world, person, next_id)
        contacts.append(props)
        seed.truth[f"hubspot:contacts:{next_id}"] = person.id
        contact_org[next_id] = person.org_index
        next_id += 1
        if not invalid and rng.random() < 0.02:
            created, modified = record_times(rng, world)
            dup = dict(props)
            dup.update(
                {
                    "hs_object_id": str(next_id),
                    "email": _duplicate_email(person, props["email"]),
                    "firstname": person.first_name,
                    "phone": random_phone_format(rng, person.phone),
                    "jobtitle": None,
                    "createdate": iso_ms_z(created),
                    "lastmodifieddate": iso_ms_z(modified),
                }
            )
            contacts.append(dup)
            seed.truth[f"hubspot:contacts:{next_id}"] = person.id
            contact_org[next_id] = person.org_index
            next_id += 1
    for offset, index in enumerate(sorted(used_orgs)):
        org = world.orgs[index]
        company_id = _FIRST_COMPANY_ID + offset
        created, modified = record_times(rng, world)
        seed.streams["companies"].append(
            {
                "hs_object_id": str(company_id),
                "name": org.name,
                "domain": org.domain,
                "industry": org.industry if rng.random() < 0.7 else None,
                "city": org.city if rng.random() < 0.6 else None,
                "country": COUNTRY_NAMES[org.country] if rng.random() < 0.6 else None,
                "phone": random_phone_format(rng, org.phone) if rng.random() < 0.5 else None,
                "createdate": iso_ms_z(created),
                "hs_lastmodifieddate": iso_ms_z(modified),
            }
        )
        seed.truth[f"hubspot:companies:{company_id}"] = org.id
    _render_deals(world, rng, seed, sorted(used_orgs), org_contacts)
    _mess_companies(world, seed, used_orgs)
    _associate_contacts(contacts, sorted(used_orgs), contact_org)
    return seed


def _associate_contacts(
    contacts: list[dict[str, Any]], orgs: list[int], contact_org: dict[int, int]
) -> None:
    """Link each contact to its org's original company (the one rendered for the org)."""
    company_of = {index: _FIRST_COMPANY_ID + offset for offset, index in enumerate(orgs)}
    for row in contacts:
        row["associations"] = {"companies": [company_of[contact_org[int(row["hs_object_id"])]]]}


def _mess_companies(world: PeopleWorld, seed: ToolSeed, used_orgs: set[int]) -> None:
    """Domains typed every way, look-alike companies and duplicates (own randomness)."""
    rng = random.Random(f"revsync-world:{world.seed}:tool:hubspot:companies")
    companies = seed.streams["companies"]
    next_id = _FIRST_COMPANY_ID + len(companies)
    orgs_by_id = {o.id: o for o in world.orgs}
    for index, org in enumerate(world.orgs):
        if org.lookalike_of is None or index in used_orgs:
            continue
        created, modified = record_times(rng, world)
        companies.append(
            {
                "hs_object_id": str(next_id),
                "name": org.name,
                "domain": org.domain,
                "industry": org.industry if rng.random() < 0.7 else None,
                "city": org.city if rng.random() < 0.6 else None,
                "country": COUNTRY_NAMES[org.country] if rng.random() < 0.8 else None,
                "phone": random_phone_format(rng, org.phone) if rng.random() < 0.5 else None,
                "createdate": iso_ms_z(created),
                "hs_lastmodifieddate": iso_ms_z(modified),
            }
        )
        seed.truth[f"hubspot:companies:{next_id}"] = org.id
        next_id += 1
    confusable = confusable_orgs(world.orgs)

    def org_of(company: dict[str, Any]) -> OrgTruth:
        return orgs_by_id[seed.truth[f"hubspot:companies:{company['hs_object_id']}"]]

    for company in companies:
        roll = rng.random()
        if roll < _NO_DOMAIN and org_of(company).id not in confusable:
            company["domain"] = None
        elif roll < _NO_DOMAIN + _MESSY_DOMAIN:
            company["domain"] = mess_domain(rng, company["domain"])
    count = max(1, round(len(companies) * COMPANY_DUPLICATES)) if companies else 0
    for position in sorted(rng.sample(range(len(companies)), count)):
        org = org_of(companies[position])
        companies.append(_duplicate_company(rng, world, org, next_id, org.id in confusable))
        seed.truth[f"hubspot:companies:{next_id}"] = org.id
        next_id += 1


def _duplicate_company(
    rng: random.Random, world: PeopleWorld, org: OrgTruth, company_id: int, keep_domain: bool
) -> dict[str, Any]:
    """The same org entered again: another spelling, the domain as a URL or left out."""
    created, modified = record_times(rng, world)
    with_domain = rng.random() < 0.6 or keep_domain
    return {
        "hs_object_id": str(company_id),
        "name": mess_company_name(rng, org.name, org.country),
        "domain": mess_domain(rng, org.domain) if with_domain else None,
        "industry": org.industry if rng.random() < 0.3 else None,
        "city": org.city if rng.random() < 0.5 else None,
        "country": COUNTRY_NAMES[org.country] if rng.random() < 0.5 else None,
        "phone": random_phone_format(rng, org.phone) if rng.random() < 0.4 else None,
        "createdate": iso_ms_z(created),
        "hs_lastmodifieddate": iso_ms_z(modified),
    }


def _render_deals(
    world: PeopleWorld,
    rng: random.Random,
    seed: ToolSeed,
    orgs: list[int],
    org_contacts: dict[int, list[int]],
) -> None:
    """0-3 deals per company (rendered after contacts/companies: their randomness is kept)."""
    deals = seed.streams["deals"] = []
    deal_id = _FIRST_DEAL_ID
    for offset, index in enumerate(orgs):
        org = world.orgs[index]
        staff = org_contacts.get(index, [])
        for _ in range(rng.randint(0, 3)):
            created, modified = record_times(rng, world)
            stage = rng.choice(DEAL_STAGES)
            close = created + rng.randint(7, 120) * 86_400_000
            deals.append(
                {
                    "hs_object_id": str(deal_id),
                    "dealname": f"{org.name} - {rng.choice(_PRODUCTS)}",
                    "amount": str(rng.randrange(1_000, 250_000, 500)),
                    "dealstage": stage,
                    "pipeline": "default",
                    "closedate": iso_ms_z(close) if rng.random() < 0.9 else None,
                    "hubspot_owner_id": rng.choice(OWNER_IDS),
                    "createdate": iso_ms_z(created),
                    "hs_lastmodifieddate": iso_ms_z(modified),
                    "associations": {
                        "companies": [_FIRST_COMPANY_ID + offset],
                        "contacts": rng.sample(staff, min(len(staff), rng.randint(1, 2))),
                    },
                }
            )
            seed.truth[f"hubspot:deals:{deal_id}"] = org.id
            deal_id += 1


def _load_objects(objects: HubSpotObjects, rows: list[dict[str, Any]]) -> None:
    mtime_property = objects.kind.mtime_property
    with objects.store.bulk():
        for row in rows:
            props = {k: v for k, v in row.items() if k not in _DERIVED and v is not None}
            objects.create(
                props,
                parse_instant_ms(row[mtime_property]),
                object_id=int(row["hs_object_id"]),
                created_ms=parse_instant_ms(row["createdate"]),
                seeding=True,
            )


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace HubSpot's data with `seed` as-is (no API validation: broken emails stay)."""
    with state.lock:
        state.hubspot.clear()
        _load_objects(state.hubspot.contacts, seed.streams.get("contacts", []))
        _load_objects(state.hubspot.companies, seed.streams.get("companies", []))
        deals = seed.streams.get("deals", [])
        _load_objects(state.hubspot.deals, deals)
        links = state.hubspot.associations
        for from_type in ("contacts", "deals"):
            for row in seed.streams.get(from_type, []):
                from_id = int(row["hs_object_id"])
                for to_type, ids in (row.get("associations") or {}).items():
                    for to_id in ids:
                        links.associate(from_type, from_id, to_type, int(to_id))
