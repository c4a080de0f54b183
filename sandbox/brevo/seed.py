"""Brevo's share of the seeded world: an emailing tool's contacts, lists and a small CRM.

~40% of people are contacts; many signed up with a personal address, some only left an SMS
number (E.164, Brevo's format), a few subscribed twice (work and personal address), names are
nicknamed or sloppy, and everyone is on one to three lists.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.brevo.store import brevo_time
from sandbox.timefmt import parse_instant_ms

if TYPE_CHECKING:
    import httpx

    from sandbox.state import SandboxState
    from sandbox.world import PeopleWorld, ToolSeed

__all__ = ["BENCH_STREAM", "LISTS", "bench_reader", "load", "render"]

LISTS: tuple[tuple[int, str], ...] = (
    (2, "Newsletter"),
    (3, "Product updates"),
    (5, "Events"),
    (7, "Customers"),
)
_STAGES = ("Lead qualification", "Proposal", "Negotiation", "Won", "Lost")


def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Who is in Brevo and how their records look there; deterministic from `rng`."""
    from sandbox.world import ToolSeed, mess_name, nickname, record_times

    contacts: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    org_contacts: dict[int, list[int]] = {}
    list_ids = [lid for lid, _ in LISTS]
    next_id = 1

    def contact(person: Any, email: str | None, sms: str | None, first: str) -> dict[str, Any]:
        nonlocal next_id
        created, modified = record_times(rng, world)
        attrs: dict[str, Any] = {"FIRSTNAME": first, "LASTNAME": person.last_name}
        if sms:
            attrs["SMS"] = sms
        if rng.random() < 0.6:
            attrs["COMPANY"] = world.org(person).name
        if rng.random() < 0.4:
            attrs["JOB_TITLE"] = person.job_title
        rec: dict[str, Any] = {
            "id": next_id,
            "emailBlacklisted": rng.random() < 0.05,
            "smsBlacklisted": sms is not None and rng.random() < 0.03,
            "createdAt": brevo_time(created),
            "modifiedAt": brevo_time(modified),
            "listIds": sorted(rng.sample(list_ids, rng.randint(1, 3))),
            "attributes": attrs,
        }
        if email is not None:
            rec["email"] = email.strip().lower()
        truth[f"brevo:contacts:{next_id}"] = person.id
        next_id += 1
        contacts.append(rec)
        return rec

    for person in world.people:
        if world.draw(person, "brevo") >= 0.40:
            continue
        first = person.first_name
        roll = rng.random()
        if roll < 0.2 and nickname(first):
            first = nickname(first) or first
        elif roll < 0.3:
            first = mess_name(rng, first)
        personal = person.personal_email
        use_personal = personal is not None and rng.random() < 0.45
        email: str | None = personal if use_personal else person.work_email
        sms = person.mobile or person.phone if rng.random() < 0.5 else None
        if sms is not None and rng.random() < 0.06:
            email = None  # an SMS-only contact
        rec = contact(person, email, sms, first)
        if email == person.work_email:
            org_contacts.setdefault(person.org_index, []).append(rec["id"])
        if personal is not None and email is not None and rng.random() < 0.02:
            other = person.work_email if use_personal else personal
            contact(person, other, None, person.first_name)  # subscribed twice

    companies: list[dict[str, Any]] = []
    deals: list[dict[str, Any]] = []
    for index, org in enumerate(world.orgs):
        linked = org_contacts.get(index)
        if not linked or rng.random() > 0.5:
            continue
        created, modified = record_times(rng, world)
        company_id = _hex_id(rng)
        companies.append(
            {
                "id": company_id,
                "attributes": {
                    "name": org.name,
                    "domain": org.domain,
                    "industry": org.industry,
                    "phone_number": org.phone,
                    "number_of_contacts": len(linked),
                    "created_at": brevo_time(created),
                    "last_updated_at": brevo_time(modified),
                },
                "linkedContactsIds": linked,
                "linkedDealsIds": [],
            }
        )
        truth[f"brevo:companies:{company_id}"] = org.id
        for _ in range(rng.choice((0, 0, 1, 2))):
            d_created, d_modified = record_times(rng, world, after_ms=created)
            deal_id = _hex_id(rng)
            deals.append(
                {
                    "id": deal_id,
                    "attributes": {
                        "deal_name": f"{org.name} - {rng.choice(('Renewal', 'Upsell', 'New'))}",
                        "amount": rng.randrange(1_000, 100_000, 500),
                        "deal_stage": rng.choice(_STAGES),
                        "created_at": brevo_time(d_created),
                        "last_updated_at": brevo_time(d_modified),
                    },
                    "linkedContactsIds": linked[:1],
                    "linkedCompaniesIds": [company_id],
                }
            )
            companies[-1]["linkedDealsIds"].append(deal_id)
    lists = [{"id": lid, "name": name, "folderId": 1} for lid, name in LISTS]
    return ToolSeed(
        streams={"contacts": contacts, "lists": lists, "companies": companies, "deals": deals},
        truth=truth,
    )


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Brevo's data with the rendered records."""
    now = state.now_ms()
    with state.lock:
        data = state.brevo
        data.clear()
        for item in seed.streams.get("lists", []):
            data.add_list(int(item["id"]), str(item["name"]), now, int(item.get("folderId", 1)))
        with data.contacts.bulk():
            for rec in seed.streams.get("contacts", []):
                data.load_contact(dict(rec), parse_instant_ms(rec["modifiedAt"]))
        for kind, objects in (("companies", data.companies), ("deals", data.deals)):
            with objects.store.bulk():
                for rec in seed.streams.get(kind, []):
                    mtime = parse_instant_ms(rec["attributes"]["last_updated_at"])
                    objects.put(dict(rec), mtime)


BENCH_STREAM = "contacts"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every contact the way a connector does: ``sort=asc`` offset pages of 1000 (the
    default descending order shifts under concurrent creates)."""
    from sandbox.credentials import SANDBOX_BREVO_KEY

    headers = {"api-key": SANDBOX_BREVO_KEY}
    offset = 0
    while True:
        page = client.get(
            f"{base_url}/contacts",
            params={"limit": 1000, "offset": offset, "sort": "asc"},
            headers=headers,
        )
        contacts = page.raise_for_status().json().get("contacts", [])
        yield len(contacts)
        offset += len(contacts)
        if len(contacts) < 1000:
            return
