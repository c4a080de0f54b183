"""Salesforce's share of the seeded world: Accounts, Contacts, Leads, Opportunities and the
people on them (OpportunityContactRoles).

~35% of people are in Salesforce (``draw(p, "salesforce")``, independent of HubSpot's draw, so
most of them are in HubSpot too); of those, ~85% are Contacts on their organization's Account
and ~15% are unconverted Leads (company as free text). Mess: mostly work emails, some
personal, ~2% duplicate Contacts (personal email, same name, phone typed differently),
nicknames and sloppy names, phones typed every way, sparse fields. Every org with a Contact
gets an Account and 0-3 Opportunities, each with 1-3 contact roles taken from its Account's
Contacts (drawn from their own random stream, after everything else, so adding them left every
other row as it was; the first role is the primary one). Ids are Salesforce-shaped and derived
from the row's position, so the same (people, seed) always gives the same ids.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sandbox.salesforce.soql import parse_datetime_ms
from sandbox.salesforce.store import (
    CONTACT_ROLES,
    STAGES,
    SObjectTable,
    record_id,
    sf_datetime,
)
from sandbox.state import SandboxState
from sandbox.world import (
    COUNTRY_NAMES,
    PeopleWorld,
    PersonTruth,
    ToolSeed,
    mess_name,
    nickname,
    random_phone_format,
    record_times,
    tool_rng,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["BENCH_STREAM", "IN_SALESFORCE", "LEAD_SHARE", "bench_reader", "load", "render"]

IN_SALESFORCE = 0.35
LEAD_SHARE = 0.15
_DUPLICATES = 0.02
_STREAMS = {
    "accounts": "Account",
    "contacts": "Contact",
    "leads": "Lead",
    "opportunities": "Opportunity",
    "opportunity_contact_roles": "OpportunityContactRole",
}
_KINDS = ("New", "Renewal", "Upsell")
_AUDIT = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp")


def _first(rng: random.Random, first: str) -> str:
    roll = rng.random()
    short = nickname(first)
    if short and roll < 0.12:
        return short
    if roll > 0.93:
        return mess_name(rng, first)
    return first


def _times(rng: random.Random, world: PeopleWorld) -> dict[str, str]:
    created, modified = record_times(rng, world)
    # SystemModstamp >= LastModifiedDate: background jobs touch ~10% of rows later.
    stamp = modified if rng.random() > 0.1 else min(world.now_ms - 1000, modified + 3_600_000)
    return {
        "CreatedDate": sf_datetime(created),
        "LastModifiedDate": sf_datetime(modified),
        "SystemModstamp": sf_datetime(max(stamp, modified)),
    }


def _person_fields(rng: random.Random, person: PersonTruth) -> dict[str, Any]:
    email = person.work_email
    if person.personal_email and rng.random() < 0.08:
        email = person.personal_email
    if rng.random() < 0.05:
        email = email.capitalize()
    return {
        "FirstName": _first(rng, person.first_name),
        "LastName": person.last_name if rng.random() > 0.05 else mess_name(rng, person.last_name),
        "Email": email,
        "Phone": random_phone_format(rng, person.phone) if rng.random() < 0.8 else None,
        "MobilePhone": (
            random_phone_format(rng, person.mobile)
            if person.mobile and rng.random() < 0.4
            else None
        ),
        "Title": person.job_title if rng.random() < 0.75 else None,
    }


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Accounts, Contacts (+~2% duplicates), Leads and Opportunities with their truth."""
    seed = ToolSeed(streams={name: [] for name in _STREAMS})
    serial = dict.fromkeys(_STREAMS.values(), 0)

    def next_id(sobject: str) -> str:
        serial[sobject] += 1
        return record_id(sobject, serial[sobject])

    account_of: dict[int, str] = {}
    contacts_of: dict[int, list[str]] = {}
    for person in world.people:
        if world.draw(person, "salesforce") >= IN_SALESFORCE:
            continue
        org = world.org(person)
        fields = _person_fields(rng, person)
        # Email Opt Out, on its own draw so the rest of the seeded world does not move.
        fields["HasOptedOutOfEmail"] = world.draw(person, "salesforce-email-optout") < 0.05
        if rng.random() < LEAD_SHARE:
            lead_id = next_id("Lead")
            seed.streams["leads"].append(
                {
                    "Id": lead_id,
                    **fields,
                    "Company": org.name if rng.random() < 0.9 else org.name.upper(),
                    "City": person.city if rng.random() < 0.6 else None,
                    "Country": COUNTRY_NAMES[person.country] if rng.random() < 0.6 else None,
                    "Status": rng.choice(("Open - Not Contacted", "Working - Contacted")),
                    **_times(rng, world),
                }
            )
            seed.truth[f"salesforce:leads:{lead_id}"] = person.id
            continue
        if person.org_index not in account_of:
            account_id = next_id("Account")
            account_of[person.org_index] = account_id
            seed.streams["accounts"].append(
                {
                    "Id": account_id,
                    "Name": org.name,
                    "Website": org.domain if rng.random() < 0.5 else f"https://www.{org.domain}",
                    "Industry": org.industry if rng.random() < 0.7 else None,
                    "Phone": random_phone_format(rng, org.phone) if rng.random() < 0.6 else None,
                    "BillingCity": org.city if rng.random() < 0.6 else None,
                    "BillingCountry": COUNTRY_NAMES[org.country] if rng.random() < 0.6 else None,
                    **_times(rng, world),
                }
            )
            seed.truth[f"salesforce:accounts:{account_id}"] = org.id
        contact_id = next_id("Contact")
        row = {
            "Id": contact_id,
            "AccountId": account_of[person.org_index],
            **fields,
            "MailingCity": person.city if rng.random() < 0.6 else None,
            "MailingCountry": COUNTRY_NAMES[person.country] if rng.random() < 0.6 else None,
            **_times(rng, world),
        }
        seed.streams["contacts"].append(row)
        seed.truth[f"salesforce:contacts:{contact_id}"] = person.id
        contacts_of.setdefault(person.org_index, []).append(contact_id)
        if rng.random() < _DUPLICATES:
            dup_id = next_id("Contact")
            dup_email = person.personal_email or (
                f"{person.work_email.split('@')[0]}.{person.index + 1}@gmail.com"
            )
            seed.streams["contacts"].append(
                {
                    **row,
                    "Id": dup_id,
                    "FirstName": person.first_name,
                    "Email": dup_email,
                    "Phone": random_phone_format(rng, person.phone),
                    "Title": None,
                    **_times(rng, world),
                }
            )
            seed.truth[f"salesforce:contacts:{dup_id}"] = person.id
    for org_index, account_id in account_of.items():
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            opp_id = next_id("Opportunity")
            stage = rng.choice(STAGES)
            times = _times(rng, world)
            seed.streams["opportunities"].append(
                {
                    "Id": opp_id,
                    "AccountId": account_id,
                    "ContactId": rng.choice(contacts_of[org_index]),
                    "Name": f"{world.orgs[org_index].name} - {rng.choice(_KINDS)}",
                    "StageName": stage,
                    "CloseDate": times["LastModifiedDate"][:10],
                    "Amount": float(rng.randrange(1, 200) * 500),
                    **times,
                }
            )
            seed.truth[f"salesforce:opportunities:{opp_id}"] = world.orgs[org_index].id
    _contact_roles(world, seed, contacts_of, account_of, next_id)
    return seed


def _contact_roles(
    world: PeopleWorld,
    seed: ToolSeed,
    contacts_of: dict[int, list[str]],
    account_of: dict[int, str],
    next_id: Callable[[str], str],
) -> None:
    """1-3 roles per Opportunity from its Account's Contacts, from a random stream of their own."""
    rng = tool_rng(world.seed, "salesforce:contact-roles")
    org_of = {account_id: org for org, account_id in account_of.items()}
    for opp in seed.streams["opportunities"]:
        contacts = contacts_of[org_of[opp["AccountId"]]]
        people = rng.sample(contacts, min(len(contacts), rng.choice((1, 1, 2, 3))))
        for position, contact_id in enumerate(people):
            seed.streams["opportunity_contact_roles"].append(
                {
                    "Id": next_id("OpportunityContactRole"),
                    "OpportunityId": opp["Id"],
                    "ContactId": contact_id,
                    "Role": rng.choice(CONTACT_ROLES) if rng.random() < 0.8 else None,
                    "IsPrimary": position == 0,
                    # added with the deal or soon after; SystemModstamp is the role's own
                    **{k: opp[k] for k in ("CreatedDate", "LastModifiedDate", "SystemModstamp")},
                }
            )


def _load_rows(table: SObjectTable, rows: list[dict[str, Any]]) -> None:
    with table.store.bulk():
        for row in rows:
            values = {k: v for k, v in row.items() if k not in _AUDIT}
            rec = table.create(
                values,
                parse_datetime_ms(row["SystemModstamp"]),
                seeding=True,
                record_id=row["Id"],
                created_ms=parse_datetime_ms(row["CreatedDate"]),
            )
            rec["LastModifiedDate"] = parse_datetime_ms(row["LastModifiedDate"])
    table.next_serial = len(table.store) + 1


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Salesforce's data with `seed` as-is (seeding skips validation)."""
    with state.lock:
        state.salesforce.clear()
        for stream, sobject in _STREAMS.items():
            _load_rows(state.salesforce.tables[sobject], seed.streams.get(stream, []))


BENCH_STREAM = "contacts"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every Contact the way a connector does: one SOQL query on ``SystemModstamp``, then
    follow ``nextRecordsUrl`` (host-relative) until ``done``."""
    from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN

    headers = {"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"}
    soql = (
        "SELECT Id, FirstName, LastName, Email, Phone, AccountId, SystemModstamp FROM Contact "
        "WHERE SystemModstamp > 2000-01-01T00:00:00Z ORDER BY SystemModstamp"
    )
    url = f"{base_url}/services/data/v62.0/query"
    params: dict[str, str] | None = {"q": soql}
    while True:
        body = client.get(url, params=params, headers=headers).raise_for_status().json()
        yield len(body["records"])
        if body["done"]:
            return
        url, params = base_url + body["nextRecordsUrl"], None
