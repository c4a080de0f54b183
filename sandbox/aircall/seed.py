"""Aircall's share of the seeded world: contacts known by phone, calls, agents and numbers.

About 30% of people are in the phone system. Many are known only by a phone number (a third
have no email at all: "phone only in Aircall"), names are often partial, numbers are stored as
typed. Calls come 0-5 per contact, plus calls from numbers that match no Aircall contact
(`contact: null`): half of those are world people who are not in Aircall (the truth knows who),
half are strangers, a few of them with their number withheld (Aircall's ``raw_digits`` is
then ``anonymous``). Answered calls are often recorded, some missed ones leave a voicemail, and
agents tag some calls.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.aircall.store import API_ROOT
from sandbox.timefmt import iso_ms_z
from sandbox.world import PeopleWorld, ToolSeed, record_times

if TYPE_CHECKING:
    import httpx

    from sandbox.state import SandboxState

__all__ = ["BENCH_STREAM", "SHARE", "bench_reader", "load", "render"]

SHARE = 0.30
_AGENTS = ("Alex Morgan", "Sam Rivera", "Jordan Lee", "Taylor Kim", "Casey Brooks",
           "Robin Patel", "Jamie Chen", "Drew Novak")  # fmt: skip
_LABELS = ("Work", "Mobile", "Home", "Other")
_TAGS = ((1, "Follow up"), (2, "VIP"), (3, "Support"), (4, "Sales"))


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Users, numbers, contacts and calls in the store's shape (UNIX seconds, but ISO 8601
    `created_at` on users and numbers, as Aircall sends them)."""
    seed = ToolSeed(streams={"users": [], "numbers": [], "contacts": [], "calls": []})
    users, numbers = seed.streams["users"], seed.streams["numbers"]
    contacts, calls = seed.streams["contacts"], seed.streams["calls"]
    start = world.now_ms // 1000 - 365 * 86_400
    since = iso_ms_z(start * 1000)  # users and numbers carry ISO 8601, calls UNIX seconds
    for i, name in enumerate(_AGENTS[: max(3, min(len(_AGENTS), len(world.people) // 200 + 3))]):
        first, last = name.split()
        users.append(
            {
                "id": 1001 + i,
                "direct_link": f"{API_ROOT}/users/{1001 + i}",
                "name": name,
                "email": f"{first.lower()}.{last.lower()}@revsync-demo.io",
                "available": True,
                "availability_status": "available",
                "created_at": since,
                "time_zone": "Etc/UTC",
                "language": "en-US",
            }
        )
    for i, (digits, label) in enumerate(
        (("+14155550000", "US main"), ("+442071230000", "UK"), ("+33170000000", "FR"))
    ):
        numbers.append(
            {
                "id": 501 + i,
                "direct_link": f"{API_ROOT}/numbers/{501 + i}",
                "name": label,
                "digits": digits,
                "country": ("US", "GB", "FR")[i],
                "time_zone": "Etc/UTC",
                "open": True,
                "availability_status": "open",
                "is_ivr": False,
                "live_recording_activated": False,
                "created_at": since,
            }
        )

    pending: list[tuple[dict[str, Any], str]] = []  # (call row, person id or "")
    detail = 1
    n = 0
    for person in world.people:
        if world.draw(person, "aircall") >= SHARE:
            if rng.random() < 0.01:  # a world person calling in, not an Aircall contact
                pending.append((_call(rng, world, None, person.mobile or person.phone), person.id))
            continue
        n += 1
        contact_id = 10_000_000 + n
        created, updated = record_times(rng, world)
        phones = [person.mobile or person.phone]
        if person.mobile and rng.random() < 0.3:
            phones.append(person.phone)
        emails: list[str] = []
        r = rng.random()
        if r < 0.45:
            emails.append(person.work_email)
        elif r < 0.65 and person.personal_email:
            emails.append(person.personal_email)
        phone_rows, email_rows = [], []
        for p in phones:
            value = p if rng.random() < 0.7 else p[:3] + " " + p[3:]
            phone_rows.append({"id": detail, "label": rng.choice(_LABELS), "value": value})
            detail += 1
        for e in emails:
            email_rows.append({"id": detail, "label": "Work", "value": e})
            detail += 1
        contacts.append(
            {
                "id": contact_id,
                "direct_link": f"{API_ROOT}/contacts/{contact_id}",
                "first_name": person.first_name if rng.random() < 0.8 else None,
                "last_name": person.last_name if rng.random() < 0.7 else None,
                "company_name": world.orgs[person.org_index].name if rng.random() < 0.5 else None,
                "description": None,
                "information": None,
                "is_shared": True,
                "created_at": created // 1000,
                "updated_at": updated // 1000,
                "phone_numbers": phone_rows,
                "emails": email_rows,
            }
        )
        seed.truth[f"aircall:contacts:{contact_id}"] = person.id
        for _ in range(rng.randrange(0, 6)):
            pending.append((_call(rng, world, contact_id, phones[0]), person.id))
    for k in range(max(1, len(pending) // 10)):
        stranger = "anonymous" if k % 4 == 3 else f"+1555{rng.randrange(10**7):07d}"
        pending.append((_call(rng, world, None, stranger), ""))
    pending.sort(key=lambda item: item[0]["started_at"])
    for i, (row, person_id) in enumerate(pending, start=1):
        call_id = 100_000_000 + i
        row["id"] = call_id
        row["direct_link"] = f"{API_ROOT}/calls/{call_id}"
        row["_user_id"] = (
            users[rng.randrange(len(users))]["id"] if row["status"] != "missed" else None
        )
        row["_number_id"] = numbers[rng.randrange(len(numbers))]["id"]
        _media(rng, row)
        calls.append(row)
        if person_id:
            seed.truth[f"aircall:calls:{call_id}"] = person_id
    return seed


def _call(
    rng: random.Random, world: PeopleWorld, contact_id: int | None, phone: str
) -> dict[str, Any]:
    started, _ = record_times(rng, world)
    started //= 1000
    answered = rng.random() < 0.75
    duration = rng.randrange(20, 1800) if answered else rng.randrange(0, 30)
    return {
        "direction": rng.choice(("inbound", "inbound", "outbound")),
        "status": "done",
        "missed_call_reason": None if answered else "no_available_agent",
        "started_at": started,
        "answered_at": started + rng.randrange(2, 20) if answered else None,
        "ended_at": started + duration,
        "duration": duration,
        "raw_digits": phone,
        "voicemail": None,
        "recording": None,
        "asset": None,
        "archived": False,
        "assigned_to": None,
        "tags": [],
        "comments": [],
        "teams": [],
        "transferred_by": None,
        "transferred_to": None,
        "cost": "0.0",
        "_contact_id": contact_id,
    }


def _media(rng: random.Random, row: dict[str, Any]) -> None:
    """Recordings of answered calls, voicemails of some missed inbound ones, agents' tags."""
    link = f"https://aircall-sandbox-media.s3.amazonaws.com/calls/{row['id']}"
    if row["answered_at"] is not None and rng.random() < 0.6:
        row["recording"] = f"{link}/recording.mp3"
    elif row["answered_at"] is None and row["direction"] == "inbound" and rng.random() < 0.4:
        row["voicemail"] = f"{link}/voicemail.mp3"
    if rng.random() < 0.3:
        row["tags"] = [{"id": i, "name": n} for i, n in rng.sample(_TAGS, rng.randrange(1, 3))]


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Aircall's data with the seed."""
    with state.lock:
        data = state.aircall
        data.clear()
        data.users = {u["id"]: dict(u) for u in seed.streams.get("users", [])}
        data.numbers = {x["id"]: dict(x) for x in seed.streams.get("numbers", [])}
        with data.contacts.bulk():
            for row in seed.streams.get("contacts", []):
                data.create_contact(
                    dict(row), row["created_at"], contact_id=row["id"], seeding=True
                )
        with data.calls.bulk():
            for row in seed.streams.get("calls", []):
                data.add_call(dict(row))


BENCH_STREAM = "calls"
_BENCH_CAP = 10_000  # Aircall refuses pages reaching past 10,000 records of one query


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every call the way a connector does: ``from``/``to`` windows on creation time, each
    holding at most 10,000 calls (split in two while ``meta.total`` says more), paged 50 at a
    time by following ``meta.next_page_link`` (rewritten from api.aircall.io to the sandbox)."""
    from sandbox.credentials import SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN

    auth = (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)
    windows = [(0, int(time.time()) + 86_400)]
    while windows:
        low, high = windows.pop(0)
        params: dict[str, str | int] = {"from": low, "to": high, "per_page": 50, "order": "asc"}
        page = client.get(f"{base_url}/v1/calls", params=params, auth=auth).raise_for_status()
        body = page.json()
        if body["meta"]["total"] > _BENCH_CAP and high > low:
            middle = (low + high) // 2
            windows[:0] = [(low, middle), (middle + 1, high)]
            continue
        while True:
            yield len(body["calls"])
            link = body["meta"]["next_page_link"]
            if not link:
                break
            url = base_url + link[len(API_ROOT) - len("/v1") :]
            body = client.get(url, auth=auth).raise_for_status().json()
