"""Mailchimp's share of the seeded world: one audience's members, as a newsletter list grows.

People with ``draw(p, "crm-marketing") < 0.55`` or ``>= 0.80`` are members (~55% also in
HubSpot, ~20% only here). Many signed up with a personal address while the CRM holds their
work one; ~30% of addresses are in other letter case (same subscriber hash); nicknames, sloppy
names, phones typed differently, sparse merge fields, mixed statuses and tags. Every address
is one Mailchimp accepts (it rejects invalid and fake ones on import).
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.mailchimp.store import ADMIN_UNSUBSCRIBE, subscriber_hash
from sandbox.state import SandboxState
from sandbox.timefmt import iso_offset, parse_instant_ms
from sandbox.world import (
    COUNTRY_NAMES,
    PeopleWorld,
    ToolSeed,
    mess_email,
    mess_name,
    nickname,
    random_phone_format,
    record_times,
)

__all__ = ["load", "render"]

_TAGS = ("newsletter", "webinar-2025", "trial", "customer", "event-lead", "vip", "partner")
_STATUSES = ("subscribed",) * 85 + ("unsubscribed",) * 8 + ("pending",) * 4 + ("cleaned",) * 3
_UNSUBSCRIBE_REASONS = (
    ADMIN_UNSUBSCRIBE,
    "I no longer want to receive these emails",
    "I never signed up for this mailing list",
    "The emails are inappropriate",
    "The emails are spam and should be reported",
    "Other",
)
"""What Mailchimp's unsubscribe form offers, and what an admin's unsubscribe records."""


def _in_mailchimp(draw: float) -> bool:
    return draw < 0.55 or draw >= 0.80


def _first_name(rng: random.Random, first: str) -> str:
    roll = rng.random()
    short = nickname(first)
    if short and roll < 0.125:
        return short
    if roll > 0.925:
        return mess_name(rng, first)
    return first


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Members keyed by subscriber hash; ~35% of those with a personal email used it here."""
    seed = ToolSeed(streams={"members": []})
    members = seed.streams["members"]
    for person in world.people:
        if not _in_mailchimp(world.draw(person, "crm-marketing")):
            continue
        email = person.work_email
        if person.personal_email and rng.random() < 0.35:
            email = person.personal_email
        if rng.random() < 0.30:
            email = mess_email(rng, email)
        phone = ""
        if rng.random() < 0.6:
            number = person.mobile if person.mobile and rng.random() < 0.15 else person.phone
            phone = random_phone_format(rng, number)
        signup, changed = record_times(rng, world)
        org = world.org(person)
        member: dict[str, Any] = {
            "id": subscriber_hash(email),
            "email_address": email,
            "status": rng.choice(_STATUSES),
            "merge_fields": {
                "FNAME": _first_name(rng, person.first_name),
                "LNAME": person.last_name,
                "PHONE": phone,
                "COMPANY": org.name if rng.random() < 0.6 else "",
                "JOBTITLE": person.job_title if rng.random() < 0.3 else "",
                "LIFECYCLE": "",
                "CITY": person.city if rng.random() < 0.5 else "",
                "COUNTRY": COUNTRY_NAMES[person.country] if rng.random() < 0.5 else "",
            },
            "tags": rng.sample(_TAGS, rng.randrange(0, 3)),
            "timestamp_signup": iso_offset(signup),
            "last_changed": iso_offset(changed),
        }
        if member["status"] == "unsubscribed":  # its own draw: the rest of the world stays
            pick = world.draw(person, "mailchimp-unsubscribe-reason")
            member["unsubscribe_reason"] = _UNSUBSCRIBE_REASONS[
                int(pick * len(_UNSUBSCRIBE_REASONS))
            ]
        members.append(member)
        seed.truth[f"mailchimp:members:{member['id']}"] = person.id
    return seed


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace the audience's members with `seed` (ids, statuses and timestamps kept)."""
    with state.lock:
        state.mailchimp.clear()
        data = state.mailchimp
        with data.members.bulk():
            for row in seed.streams.get("members", []):
                body = dict(row)
                body["_timestamp_signup_ms"] = parse_instant_ms(row["timestamp_signup"])
                body["_last_changed_ms"] = parse_instant_ms(row["last_changed"])
                data.add(body, body["_last_changed_ms"], seeding=True)
