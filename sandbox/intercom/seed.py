"""Intercom's share of the seeded world: users of the product, leads from the messenger, and
the conversations they started.

About a quarter of people talk to the company through Intercom. Most are users carrying the
customer's own `external_id` and a work email; the rest are leads, a good share of them with
no email at all (a name, maybe a phone). Users are attached to their organization's company.
Conversations come from their own random stream (``…:intercom:conversations``), so the
contacts and companies are what they were before conversations existed.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.intercom.store import empty_statistics
from sandbox.world import (
    PeopleWorld,
    ToolSeed,
    mess_email,
    nickname,
    random_phone_format,
    record_times,
)

if TYPE_CHECKING:
    import httpx

    from sandbox.state import SandboxState

__all__ = ["BENCH_STREAM", "SHARE", "bench_reader", "load", "render"]

SHARE = 0.25
ADMINS = (991_267_601, 991_267_602, 991_267_603)
"""The workspace's teammates conversations are assigned to (admin ids are integers)."""
_PRIORITIES = ("none", "low", "medium", "high", "urgent")
_SUBJECTS = (
    "Cannot log in",
    "Question about my invoice",
    "How do I export my data?",
    "The app is slow today",
    "Upgrade to the annual plan",
    "Password reset email never arrived",
)


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Contacts and companies in the store's shape (UNIX seconds in `_created_s`/`_updated_s`)."""
    seed = ToolSeed(streams={"contacts": [], "companies": []})
    contacts, companies = seed.streams["contacts"], seed.streams["companies"]
    company_ids: dict[int, str] = {}
    n = 0

    def company_for(org_index: int) -> str:
        if org_index not in company_ids:
            org = world.orgs[org_index]
            cid = f"5{len(company_ids) + 1:023x}"
            created, updated = record_times(rng, world)
            companies.append(
                {
                    "id": cid,
                    "company_id": f"acct-{org_index + 1:06d}",
                    "name": org.name,
                    "website": f"https://{org.domain}",
                    "industry": org.industry,
                    "_created_s": created // 1000,
                    "_updated_s": updated // 1000,
                }
            )
            seed.truth[f"intercom:companies:{cid}"] = org.id
            company_ids[org_index] = cid
        return company_ids[org_index]

    for person in world.people:
        if world.draw(person, "intercom") >= SHARE:
            continue
        n += 1
        key = f"6{n:023x}"
        created, updated = record_times(rng, world)
        first = person.first_name
        if rng.random() < 0.2:
            first = nickname(first) or first
        row: dict[str, Any] = {
            "id": key,
            "name": f"{first} {person.last_name}",
            "_created_s": created // 1000,
            "_updated_s": updated // 1000,
            "_companies": [],
        }
        if rng.random() < 0.7:
            email = (
                person.work_email
                if rng.random() < 0.85
                else (person.personal_email or person.work_email)
            )
            row.update(
                role="user",
                external_id=f"cust-{person.index + 1:07d}",
                email=mess_email(rng, email) if rng.random() < 0.1 else email,
                signed_up_at=created // 1000,
            )
            if rng.random() < 0.6:
                row["_companies"] = [company_for(person.org_index)]
        else:
            row["role"] = "lead"
            if rng.random() < 0.6:
                row["email"] = person.personal_email or person.work_email
            elif rng.random() < 0.5:
                row["name"] = None  # an anonymous messenger visitor who left only a phone
            if rng.random() < 0.5 or not row.get("email"):
                row["phone"] = random_phone_format(rng, person.mobile or person.phone)
        if rng.random() < 0.4:
            row["location"] = {
                "type": "location",
                "country": person.country,
                "region": None,
                "city": person.city,
            }
        contacts.append(row)
        seed.truth[f"intercom:contacts:{key}"] = person.id
    _conversations(world, seed)
    return seed


def _conversations(world: PeopleWorld, seed: ToolSeed) -> None:
    """Zero to three conversations per contact, started by it, after it was created."""
    rng = random.Random(f"revsync-world:{world.seed}:tool:intercom:conversations")
    rows: list[dict[str, Any]] = []
    for contact in seed.streams["contacts"]:
        for _ in range(rng.choices((0, 1, 2, 3), (35, 40, 15, 10))[0]):
            created_ms, updated_ms = record_times(rng, world, after_ms=contact["_created_s"] * 1000)
            rows.append(_conversation(rng, contact, created_ms // 1000, updated_ms // 1000))
    rows.sort(key=lambda r: r["_created_s"])
    conversations = seed.streams.setdefault("conversations", [])
    for n, row in enumerate(rows, start=1):
        row["id"] = str(n)
        row["source"]["id"] = str(403_918_000 + n)
        conversations.append(row)
        person = seed.truth.get(f"intercom:contacts:{row['_contacts'][0]}")
        if person is not None:
            seed.truth[f"intercom:conversations:{n}"] = person


def _conversation(
    rng: random.Random, contact: dict[str, Any], created: int, updated: int
) -> dict[str, Any]:
    subject = rng.choice(_SUBJECTS)
    by_email = contact.get("email") and rng.random() < 0.3
    state = rng.choices(("open", "closed", "snoozed"), (35, 55, 10))[0]
    assignee = rng.choice(ADMINS) if state != "open" or rng.random() < 0.5 else 0
    stats = empty_statistics()
    stats.update(first_contact_reply_at=created, count_conversation_parts=rng.randint(1, 9))
    if state == "closed":
        stats.update(first_close_at=updated, last_close_at=updated, last_closed_by_id=str(assignee))
    return {
        "id": "",
        # Intercom titles few conversations (tickets, some AI summaries); email ones have a subject.
        "title": subject if rng.random() < 0.3 else None,
        "waiting_since": None if state == "closed" else updated,
        "snoozed_until": updated + 86_400 if state == "snoozed" else None,
        "open": state != "closed",
        "state": state,
        "read": rng.random() < 0.8,
        "priority": rng.choices(("none", "low", "medium", "high", "urgent"), (50, 10, 20, 15, 5))[
            0
        ],
        "admin_assignee_id": assignee,
        "team_assignee_id": 0,
        "source": {
            "type": "email" if by_email else "conversation",
            "id": "",
            "delivered_as": "customer_initiated",
            "subject": subject if by_email else "",
            "body": f"<p>{subject}. Can you help?</p>",
            "author": {
                "type": "user" if contact["role"] == "user" else "lead",
                "id": contact["id"],
                "name": contact.get("name"),
                "email": contact.get("email") or "",
            },
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
        "conversation_rating": None,
        "sla_applied": None,
        "statistics": stats,
        "ai_agent_participated": False,
        "ai_agent": None,
        "_contacts": [contact["id"]],
        "_company": (contact.get("_companies") or [None])[0],
        "_created_s": created,
        "_updated_s": updated,
    }


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Intercom's data with the seed (ids and timestamps kept, rules skipped)."""
    with state.lock:
        data = state.intercom
        data.clear()
        with data.companies.bulk():
            for row in seed.streams.get("companies", []):
                body = {k: v for k, v in row.items() if not k.startswith("_") and k != "id"}
                data.upsert_company(
                    body, row["_updated_s"], company_id=row["id"], created_s=row["_created_s"]
                )
        users: dict[str, int] = {}
        with data.contacts.bulk():
            for row in seed.streams.get("contacts", []):
                body = {k: v for k, v in row.items() if not k.startswith("_") and k != "id"}
                rec = data.create_contact(
                    body,
                    row["_updated_s"],
                    contact_id=row["id"],
                    created_s=row["_created_s"],
                    seeding=True,
                )
                rec["_companies"] = list(row.get("_companies", []))
                for cid in rec["_companies"]:
                    users[cid] = users.get(cid, 0) + 1
        for cid, count in users.items():
            company = data.companies.get(cid)
            if company is not None:
                company["user_count"] = count
        with data.conversations.bulk():
            for row in seed.streams.get("conversations", []):
                data.load_conversation(copy.deepcopy(row))


BENCH_STREAM = "contacts"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every contact the way a connector does: 150 a page, following
    ``pages.next.starting_after``."""
    from sandbox.credentials import SANDBOX_INTERCOM_TOKEN

    headers = {
        "Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}",
        "Intercom-Version": "2.16",
        "Accept": "application/json",
    }
    params: dict[str, str | int] = {"per_page": 150}
    while True:
        page = client.get(f"{base_url}/contacts", params=params, headers=headers)
        body = page.raise_for_status().json()
        yield len(body["data"])
        after = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
        if not after:
            return
        params["starting_after"] = after
