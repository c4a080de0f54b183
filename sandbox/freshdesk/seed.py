"""Freshdesk's share of the seeded world: a helpdesk's contacts, companies and tickets.

About a quarter of people have written to support. Their contacts carry the mess of a
helpdesk (work or personal address, case-mangled emails, phones typed anyhow, nicknames), a few
people have two contacts (personal + work address), and some tickets come from addresses
that exist nowhere else: Freshdesk created the requester from the email, as it does.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.world import (
    PeopleWorld,
    ToolSeed,
    mess_email,
    mess_name,
    nickname,
    random_phone_format,
    record_times,
)

if TYPE_CHECKING:
    import httpx

    from sandbox.state import SandboxState

__all__ = ["BENCH_STREAM", "SHARE", "bench_reader", "load", "render"]

SHARE = 0.25
_SUBJECTS = (
    "Cannot log in", "Invoice question", "Feature request: export", "Bug in dashboard",
    "Password reset not received", "Upgrade our plan", "API returns 500", "Cancel subscription",
)  # fmt: skip


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Contacts, companies and tickets in the store's shape (`_created_ms`/`_updated_ms`)."""
    seed = ToolSeed(streams={"contacts": [], "companies": [], "tickets": []})
    contacts, companies, tickets = (seed.streams[k] for k in ("contacts", "companies", "tickets"))
    company_ids: dict[int, int] = {}
    next_contact = 1_000_000_001

    def company_for(org_index: int) -> int:
        if org_index not in company_ids:
            org = world.orgs[org_index]
            cid = 2_000_000_001 + len(company_ids)
            created, updated = record_times(rng, world)
            companies.append(
                {
                    "id": cid,
                    "name": org.name,
                    "domains": [org.domain],
                    "industry": org.industry,
                    "description": None,
                    "note": None,
                    "health_score": None,
                    "account_tier": None,
                    "renewal_date": None,
                    "custom_fields": {},
                    "_created_ms": created,
                    "_updated_ms": updated,
                }
            )
            seed.truth[f"freshdesk:companies:{cid}"] = org.id
            company_ids[org_index] = cid
        return company_ids[org_index]

    def contact(person: Any, email: str, created: int, updated: int) -> int:
        nonlocal next_contact
        first = person.first_name
        if rng.random() < 0.2 and nickname(first):
            first = nickname(first) or first
        name = f"{first} {person.last_name}"
        if rng.random() < 0.1:
            name = mess_name(rng, name)
        row: dict[str, Any] = {
            "id": next_contact,
            "name": name,
            "email": email,
            "phone": random_phone_format(rng, person.phone) if rng.random() < 0.6 else None,
            "mobile": person.mobile if person.mobile and rng.random() < 0.4 else None,
            "job_title": person.job_title if rng.random() < 0.5 else None,
            "company_id": company_for(person.org_index) if rng.random() < 0.7 else None,
            "active": rng.random() < 0.8,
            "_created_ms": created,
            "_updated_ms": updated,
        }
        contacts.append(row)
        seed.truth[f"freshdesk:contacts:{next_contact}"] = person.id
        next_contact += 1
        return int(row["id"])

    requesters: list[tuple[int, str, int]] = []  # (contact id, person id or "", created)
    for person in world.people:
        if world.draw(person, "freshdesk") >= SHARE:
            continue
        email = person.work_email
        if person.personal_email and rng.random() < 0.3:
            email = person.personal_email
        if rng.random() < 0.15:
            email = mess_email(rng, email)
        created, updated = record_times(rng, world)
        cid = contact(person, email.lower() if rng.random() < 0.5 else email, created, updated)
        requesters.append((cid, person.id, created))
        if person.personal_email and email != person.personal_email and rng.random() < 0.02:
            c2, u2 = record_times(rng, world)
            requesters.append((contact(person, person.personal_email, c2, u2), person.id, c2))

    strangers = max(1, len(requesters) // 20)
    for k in range(strangers):
        created, updated = record_times(rng, world)
        row = {
            "id": next_contact,
            "name": f"visitor{k + 1}",
            "email": f"visitor{k + 1}.{rng.randrange(10**6)}@mailbox.org",
            "phone": None,
            "mobile": None,
            "job_title": None,
            "company_id": None,
            "active": False,
            "_created_ms": created,
            "_updated_ms": updated,
        }
        contacts.append(row)  # no truth: this requester is no one in the world
        requesters.append((next_contact, "", created))
        next_contact += 1

    rows: list[dict[str, Any]] = []
    for contact_id, person_id, created in requesters:
        for _ in range(rng.choice((0, 1, 1, 1, 2, 3)) if person_id else 1):
            t_created, t_updated = record_times(rng, world, after_ms=created)
            rows.append(
                {
                    "requester_id": contact_id,
                    "subject": rng.choice(_SUBJECTS),
                    "description": "<div>Sent from the seeded world</div>",
                    "status": rng.choice((2, 2, 3, 4, 5, 5)),
                    "priority": rng.choice((1, 1, 2, 3, 4)),
                    "source": rng.choice((1, 2, 3, 7)),
                    "_person": person_id,
                    "_created_ms": t_created,
                    "_updated_ms": t_updated,
                }
            )
    rows.sort(key=lambda r: r["_created_ms"])
    by_id = {int(c["id"]): c for c in contacts}
    for i, ticket in enumerate(rows, start=1):
        ticket["id"] = i
        ticket["company_id"] = by_id[ticket["requester_id"]]["company_id"]
        person_id = ticket.pop("_person")
        if person_id:
            seed.truth[f"freshdesk:tickets:{i}"] = person_id
        tickets.append(ticket)
    return seed


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Freshdesk's data with the seed (ids and timestamps kept, rules skipped)."""
    with state.lock:
        data = state.freshdesk
        data.clear()
        with data.companies.bulk():
            for row in seed.streams.get("companies", []):
                body = {k: v for k, v in row.items() if not k.startswith("_") and k != "id"}
                data.create_company(
                    body,
                    row["_updated_ms"],
                    company_id=row["id"],
                    created_ms=row["_created_ms"],
                    seeding=True,
                )
        with data.contacts.bulk():
            for row in seed.streams.get("contacts", []):
                body = {k: v for k, v in row.items() if not k.startswith("_") and k != "id"}
                data.create_contact(
                    body,
                    row["_updated_ms"],
                    contact_id=row["id"],
                    created_ms=row["_created_ms"],
                    seeding=True,
                )
        with data.tickets.bulk():
            for row in seed.streams.get("tickets", []):
                body = {k: v for k, v in row.items() if not k.startswith("_") and k != "id"}
                data.create_ticket(
                    body,
                    row["_updated_ms"],
                    ticket_id=row["id"],
                    created_ms=row["_created_ms"],
                    seeding=True,
                )


BENCH_STREAM = "contacts"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every contact the way a connector does: 100 a page, following the ``Link``
    ``rel="next"`` header (the body is a bare array with no paging envelope)."""
    from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY

    auth = (SANDBOX_FRESHDESK_API_KEY, "X")
    url: str | None = f"{base_url}/api/v2/contacts?per_page=100"
    while url:
        page = client.get(url, auth=auth).raise_for_status()
        yield len(page.json())
        url = page.links.get("next", {}).get("url")
