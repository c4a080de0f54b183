"""The world generator: the same messy people spread over HubSpot and Mailchimp.

Pure and deterministic for a (people, seed, now): no network, no clock unless `now` is given.
The mess is deliberate (see sandbox/README.md): overlapping populations, emails differing in
case and whitespace, phone formats, nicknames and sloppy names with older/newer timestamps,
duplicates inside HubSpot and invalid emails. `World.truth` says which records are one person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.mailchimp_data import subscriber_hash
from sandbox.timefmt import iso_ms_z, iso_offset, ms_of

__all__ = ["SEED_ANCHOR", "World", "generate_world"]

SEED_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
"""Default `now` for the generator, so a bare call is reproducible forever."""

_FIRST = (
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
    "David", "Elizabeth", "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica",
    "Charles", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Margaret",
    "Katherine", "Andrew", "Jane", "Steven", "Emily", "Edward", "Rebecca", "Alexander",
    "Olivia", "Benjamin", "Sophie", "Lucas", "Amelie", "Yuki", "Priya", "Mateo",
    "Chloe", "Noah", "Fatima", "Liam", "Aisha", "Hannah", "Samuel", "Grace",
)  # fmt: skip
_NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Richard": "Dick", "James": "Jim", "Michael": "Mike",
    "Elizabeth": "Liz", "Katherine": "Kate", "Jennifer": "Jen", "Joseph": "Joe",
    "Thomas": "Tom", "Charles": "Charlie", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Margaret": "Maggie", "Andrew": "Andy", "Steven": "Steve",
    "Edward": "Ed", "Rebecca": "Becky", "Alexander": "Alex", "Benjamin": "Ben",
    "Samuel": "Sam", "Patricia": "Pat", "Susan": "Sue",
}  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Okonkwo", "Nakamura",
    "Müller", "Dubois", "Rossi", "Kowalski", "O'Brien", "Patel", "Nguyen", "Schmidt",
)  # fmt: skip
_COMPANIES = (
    ("Acme Corp", "acme.io"), ("Globex", "globex.com"), ("Initech", "initech.net"),
    ("Umbrella Health", "umbrellahealth.com"), ("Stark Industries", "starkindustries.com"),
    ("Wayne Enterprises", "wayne-ent.com"), ("Hooli", "hooli.xyz"), ("Pied Piper", "piedpiper.io"),
    ("Vandelay Industries", "vandelay.co"), ("Soylent Foods", "soylentfoods.com"),
    ("Cyberdyne Systems", "cyberdyne.ai"), ("Tyrell Corp", "tyrell.dev"),
    ("Massive Dynamic", "massivedynamic.org"), ("Nakatomi Trading", "nakatomi.co.jp"),
    ("Oceanic Air", "oceanic-air.com"), ("Blue Sun", "bluesun.space"),
    ("Gringotts Finance", "gringotts.co.uk"), ("Bluth Company", "bluth.company"),
    ("Dunder Mifflin", "dundermifflin.com"), ("Wonka Confections", "wonka.ch"),
)  # fmt: skip
_PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com")
_TITLES = (
    "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Growth", "Marketing Manager",
    "Sales Director", "Account Executive", "Software Engineer", "Product Manager",
    "Operations Lead", "Customer Success Manager", "Data Analyst", "Office Manager",
    "Founder", "Consultant",
)  # fmt: skip
_LIFECYCLE = (
    "subscriber", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead",
    "opportunity", "customer", "customer", "evangelist", "other",
)  # fmt: skip
# (country name, ISO code, calling code, national-number generator key, cities)
_PLACES = (
    ("United States", "US", "1", "nanp",
     ("San Francisco", "New York", "Austin", "Chicago", "Seattle", "Boston")),
    ("Canada", "CA", "1", "nanp", ("Toronto", "Vancouver", "Montreal")),
    ("United Kingdom", "GB", "44", "gb", ("London", "Manchester", "Edinburgh")),
    ("Germany", "DE", "49", "de", ("Berlin", "Munich", "Hamburg")),
    ("France", "FR", "33", "fr", ("Paris", "Lyon", "Toulouse")),
    ("Australia", "AU", "61", "au", ("Sydney", "Melbourne")),
)  # fmt: skip
_PLACE_WEIGHTS = (60, 8, 12, 8, 7, 5)
_US_AREAS = ("415", "212", "512", "312", "206", "617", "646", "628", "737", "416", "604")
_TAGS = ("newsletter", "webinar-2025", "trial", "customer", "event-lead", "vip", "partner")
_MC_STATUSES = ("subscribed",) * 85 + ("unsubscribed",) * 8 + ("pending",) * 4 + ("cleaned",) * 3
_BROKEN_EMAILS = ("{u}@@{d}", "{u} @{d}", "{u}@{host}", "{u}.{d}", "{u}@{d}.")
_FAKE_EMAILS = ("{u}@example.com", "{u}@test.com", "test.{u}@example.com")


@dataclass
class World:
    """Generated tool data plus the ground truth of who is who."""

    hubspot_contacts: list[dict[str, Any]] = field(default_factory=list)
    mailchimp_members: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)
    hubspot_companies: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "people": len(self.people),
            "hubspot_contacts": len(self.hubspot_contacts),
            "hubspot_companies": len(self.hubspot_companies),
            "mailchimp_members": len(self.mailchimp_members),
        }


def _ascii(text: str) -> str:
    return text.replace("ü", "u").replace("é", "e").replace("'", "").replace(" ", "").lower()


def _phone_parts(rng: random.Random, scheme: str) -> str:
    """The national significant number (digits only)."""
    if scheme == "nanp":
        return rng.choice(_US_AREAS) + "555" + f"{rng.randrange(100, 10000):04d}"[-4:]
    if scheme == "gb":
        return "20" + f"{rng.randrange(10**7, 10**8)}"
    if scheme == "de":
        return "30" + f"{rng.randrange(10**7, 10**8)}"
    if scheme == "fr":
        return str(rng.choice((1, 6, 7))) + f"{rng.randrange(10**7, 10**8)}"
    return "2" + f"{rng.randrange(10**7, 10**8)}"


def _format_phone(rng: random.Random, cc: str, national: str) -> str:
    """One of the ways people type the same number."""
    if cc == "1":
        a, b, c = national[:3], national[3:6], national[6:]
        return rng.choice(
            (
                f"+1 {a}-{b}-{c}",
                f"({a}) {b} {c}",
                f"{a}{b}{c}",
                f"{a}.{b}.{c}",
                f"+1{a}{b}{c}",
                f"1-{a}-{b}-{c}",
            )
        )
    spaced = " ".join(national[i : i + 2] for i in range(0, len(national), 2))
    return rng.choice(
        (
            f"+{cc} {national}",
            f"+{cc} {spaced}",
            f"00{cc}{national}",
            f"0{national}",
            f"+{cc}{national}",
        )
    )


def _mess_name(rng: random.Random, name: str) -> str:
    return rng.choice((f"  {name.lower()}  ", name.upper(), f" {name}", name.lower(), f"{name} "))


def _mess_email(rng: random.Random, email: str) -> str:
    local, _, domain = email.partition("@")
    return rng.choice(
        (
            email.upper(),
            local.capitalize() + "@" + domain.capitalize(),
            ".".join(p.capitalize() for p in local.split(".")) + "@" + domain,
        )
    )


def generate_world(people: int, seed: int, *, now: datetime | None = None) -> World:
    """Generate `people` persons and their HubSpot contacts and Mailchimp members.

    About 55% are in both tools, 25% only in HubSpot, 20% only in Mailchimp; ~2% of HubSpot
    people have a duplicate contact and ~1% have an invalid email. Timestamps fall within the
    365 days before `now` (default :data:`SEED_ANCHOR`).
    """
    if people < 0:
        raise ValueError("people must be >= 0")
    rng = random.Random(seed)
    now = now or SEED_ANCHOR
    now_ms = ms_of(now)
    year_ms = int(timedelta(days=365).total_seconds() * 1000)
    world = World()
    hs_id = 1001
    used_emails: set[str] = set()
    company_ids: dict[str, int] = {}

    def moment(after_ms: int | None = None) -> int:
        low = now_ms - year_ms if after_ms is None else after_ms
        return rng.randrange(low, max(low + 1, now_ms - 60_000))

    for n in range(people):
        pid = f"p{n + 1:06d}"
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
        company, domain = rng.choice(_COMPANIES)
        country, _iso, cc, scheme, cities = rng.choices(_PLACES, weights=_PLACE_WEIGHTS)[0]
        city = rng.choice(cities)
        national = _phone_parts(rng, scheme)
        work = rng.random() < 0.7
        local = f"{_ascii(first)}.{_ascii(last)}"
        base_domain = domain if work else rng.choice(_PERSONAL_DOMAINS)
        email = f"{local}@{base_domain}"
        k = 2
        while email in used_emails:
            email = f"{local}{k}@{base_domain}"
            k += 1
        used_emails.add(email)
        person = {
            "id": pid,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone_cc": cc,
            "phone_national": national,
            "company": company,
            "job_title": rng.choice(_TITLES),
            "lifecycle_stage": rng.choice(_LIFECYCLE),
            "city": city,
            "country": country,
        }
        world.people.append(person)
        if company not in company_ids:
            created = moment()
            company_ids[company] = 5001 + len(company_ids)
            world.hubspot_companies.append(
                {
                    "hs_object_id": str(company_ids[company]),
                    "name": company,
                    "domain": domain,
                    "createdate": iso_ms_z(created),
                    "hs_lastmodifieddate": iso_ms_z(moment(created)),
                }
            )

        r = rng.random()
        invalid = rng.random() < 0.01
        in_hubspot = r < 0.80 or invalid
        in_mailchimp = (r < 0.55 or r >= 0.80) and not invalid

        hs_first, mc_first = first, first
        if in_hubspot and in_mailchimp:
            roll = rng.random()
            nickname = _NICKNAMES.get(first)
            if nickname and roll < 0.25:
                if rng.random() < 0.5:
                    hs_first = nickname
                else:
                    mc_first = nickname
            elif roll < 0.40:
                if rng.random() < 0.5:
                    hs_first = _mess_name(rng, first)
                else:
                    mc_first = _mess_name(rng, first)

        if in_hubspot:
            hs_email = email
            if invalid:
                host = base_domain.split(".")[0]
                pattern = rng.choice(_BROKEN_EMAILS + _FAKE_EMAILS)
                hs_email = pattern.format(u=local, d=base_domain, host=host)
            elif rng.random() < 0.10:
                hs_email = rng.choice((f"  {email}", f"{email} ", f" {email}  "))
            created = moment()
            contact = {
                "hs_object_id": str(hs_id),
                "email": hs_email,
                "firstname": hs_first,
                "lastname": last if rng.random() > 0.05 else _mess_name(rng, last),
                "phone": _format_phone(rng, cc, national) if rng.random() < 0.85 else None,
                "company": company,
                "jobtitle": person["job_title"] if rng.random() < 0.8 else None,
                "lifecyclestage": person["lifecycle_stage"],
                "city": city if rng.random() < 0.75 else None,
                "country": country if rng.random() < 0.7 else None,
                "createdate": iso_ms_z(created),
                "lastmodifieddate": iso_ms_z(moment(created)),
            }
            world.hubspot_contacts.append(contact)
            world.truth[f"hubspot:{hs_id}"] = pid
            hs_id += 1
            if not invalid and rng.random() < 0.02:
                dup_local = f"{_ascii(first)}{_ascii(last)}{rng.randrange(10, 99)}"
                dup_email = f"{dup_local}@{rng.choice(_PERSONAL_DOMAINS)}"
                if dup_email not in used_emails:
                    used_emails.add(dup_email)
                    created = moment()
                    dup = dict(contact)
                    dup.update(
                        {
                            "hs_object_id": str(hs_id),
                            "email": dup_email,
                            "firstname": first,
                            "phone": _format_phone(rng, cc, national),
                            "jobtitle": None,
                            "createdate": iso_ms_z(created),
                            "lastmodifieddate": iso_ms_z(moment(created)),
                        }
                    )
                    world.hubspot_contacts.append(dup)
                    world.truth[f"hubspot:{hs_id}"] = pid
                    hs_id += 1

        if in_mailchimp:
            mc_email = _mess_email(rng, email) if (in_hubspot and rng.random() < 0.30) else email
            signup = moment()
            member = {
                "id": subscriber_hash(mc_email),
                "email_address": mc_email,
                "status": rng.choice(_MC_STATUSES),
                "merge_fields": {
                    "FNAME": mc_first,
                    "LNAME": last,
                    "PHONE": _format_phone(rng, cc, national) if rng.random() < 0.6 else "",
                    "COMPANY": company if rng.random() < 0.6 else "",
                    "JOBTITLE": person["job_title"] if rng.random() < 0.3 else "",
                    "LIFECYCLE": "",
                    "CITY": city if rng.random() < 0.5 else "",
                    "COUNTRY": country if rng.random() < 0.5 else "",
                },
                "tags": rng.sample(_TAGS, rng.randrange(0, 3)),
                "timestamp_signup": iso_offset(signup),
                "last_changed": iso_offset(moment(signup)),
            }
            world.mailchimp_members.append(member)
            world.truth[f"mailchimp:{member['id']}"] = pid
    return world
