"""Zendesk's share of the seeded world: a helpdesk's end users, organizations and tickets.

~30% of people wrote to support: some from their work address (then in their organization),
some from a personal one, some under another name. A few wrote twice from two addresses and
exist as two users; some tickets come from strangers whose address is nowhere else (those
users are deliberately absent from the truth). A handful of agents answer.

Organizations: one per org someone wrote from at work, plus every look-alike org (set up by an
admin, no user yet). Their mess comes from a `random.Random` of its own (seed +
"zendesk:organizations"), so users and tickets are what they were without it: ~35% of names
carry another legal form (`Acme Inc.`, `Acme GmbH`, `ACME`), ~10% have no `domain_names`, and
names stay unique ignoring case as Zendesk requires (a clash gets the country: `Acme (Germany)`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.timefmt import parse_instant_ms
from sandbox.zendesk.store import ORG_ID_BASE, USER_ID_BASE, user_record, zd_time

if TYPE_CHECKING:
    from sandbox.world import OrgTruth

if TYPE_CHECKING:
    import httpx

    from sandbox.state import SandboxState
    from sandbox.world import PeopleWorld, ToolSeed

__all__ = ["BENCH_STREAM", "NO_DOMAIN", "bench_reader", "load", "render"]

_SUBJECTS = (
    "Cannot log in",
    "Invoice question",
    "Feature request: export to CSV",
    "Password reset not received",
    "Billing address change",
    "API returns 500",
    "How do I add a teammate?",
    "Cancel my subscription",
)
_STATUS = ("new", "open", "pending", "hold", "solved", "closed")
_STATUS_W = (5, 20, 10, 3, 40, 22)
_STRANGER_DOMAINS = ("mailbox.org", "fastmail.com", "hey.com", "zoho.com")
NO_DOMAIN = 0.10
"""Share of organizations without `domain_names` (at least one)."""
_OTHER_LEGAL_FORM = 0.35


def _organization(org: OrgTruth, oid: int, created: int, modified: int) -> dict[str, Any]:
    return {
        "id": oid,
        "name": org.name,
        "shared_tickets": False,
        "shared_comments": False,
        "external_id": None,
        "created_at": zd_time(created),
        "updated_at": zd_time(modified),
        "domain_names": [org.domain],
        "details": org.industry,
        "notes": None,
        "group_id": None,
        "tags": [],
        "organization_fields": {},
    }


def _user(uid: int, name: str, email: str, created: int, modified: int) -> dict[str, Any]:
    return user_record(
        uid, name=name, email=email, created_ms=created, modified_ms=modified, verified=True
    )


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Who is in Zendesk and how their records look there; deterministic from `rng`."""
    from sandbox.world import ToolSeed, mess_name, nickname, random_phone_format, record_times

    users: list[dict[str, Any]] = []
    orgs: dict[int, dict[str, Any]] = {}
    tickets: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    agents: list[int] = []
    next_user = USER_ID_BASE + 1

    def add_user(name: str, email: str, created: int, modified: int) -> dict[str, Any]:
        nonlocal next_user
        rec = _user(next_user, name, email.strip().lower(), created, modified)
        next_user += 1
        users.append(rec)
        return rec

    def org_id(index: int) -> int:
        if index not in orgs:
            org = world.orgs[index]
            created, modified = record_times(rng, world)
            oid = ORG_ID_BASE + 1 + index
            orgs[index] = _organization(org, oid, created, modified)
            truth[f"zendesk:organizations:{oid}"] = org.id
        return int(orgs[index]["id"])

    def add_tickets(requester: dict[str, Any], count: int, after: int) -> None:
        for _ in range(count):
            created, modified = record_times(rng, world, after_ms=after)
            subject = rng.choice(_SUBJECTS)
            status = rng.choices(_STATUS, _STATUS_W)[0]
            tid = len(tickets) + 1
            tickets.append(
                {
                    "id": tid,
                    "external_id": None,
                    "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
                    "created_at": zd_time(created),
                    "updated_at": zd_time(modified),
                    "generated_timestamp": modified // 1000,
                    "type": rng.choice(("question", "incident", "problem", "task", None)),
                    "subject": subject,
                    "raw_subject": subject,
                    "description": f"{subject}. Please help.",
                    "priority": rng.choice(("low", "normal", "normal", "high", "urgent", None)),
                    "status": status,
                    "recipient": "support@revsync-sandbox.example",
                    "requester_id": requester["id"],
                    "submitter_id": requester["id"],
                    "assignee_id": rng.choice(agents) if status != "new" else None,
                    "organization_id": requester["organization_id"],
                    "group_id": None,
                    "collaborator_ids": [],
                    "follower_ids": [],
                    "email_cc_ids": [],
                    "has_incidents": False,
                    "is_public": True,
                    "due_at": None,
                    "tags": [],
                    "custom_fields": [],
                    "satisfaction_rating": None,
                    "sharing_agreement_ids": [],
                    "brand_id": 1,
                    "allow_channelback": False,
                    "allow_attachments": True,
                    "from_messaging_channel": False,
                }
            )
            truth_key = truth.get(f"zendesk:users:{requester['id']}")
            if truth_key is not None:
                truth[f"zendesk:tickets:{tid}"] = truth_key

    now = world.now_ms
    for k, name in enumerate(("Ada Agent", "Sam Support", "Lee Helpdesk")):
        agent = add_user(name, f"agent{k + 1}@revsync-sandbox.example", now - 400 * 86_400_000, now)
        agent.update(role="agent", restricted_agent=False, ticket_restriction=None)
        agents.append(agent["id"])

    strangers = 0
    for person in world.people:
        if world.draw(person, "zendesk") >= 0.30:
            continue
        created, modified = record_times(rng, world)
        personal = person.personal_email
        use_personal = personal is not None and rng.random() < 0.4
        email = personal if use_personal and personal else person.work_email
        first = person.first_name
        roll = rng.random()
        if roll < 0.15 and nickname(first):
            first = nickname(first) or first
        elif roll < 0.25:
            first = mess_name(rng, first)
        name = f"{first} {person.last_name}" if rng.random() > 0.05 else first
        rec = add_user(name, email, created, modified)
        if email == person.work_email:
            rec["organization_id"] = org_id(person.org_index)
        if rng.random() < 0.3:
            rec["phone"] = random_phone_format(rng, person.mobile or person.phone)
        truth[f"zendesk:users:{rec['id']}"] = person.id
        add_tickets(rec, rng.choices((0, 1, 2, 3, 4), (20, 40, 20, 12, 8))[0], created)
        if personal is not None and rng.random() < 0.03:
            other = person.work_email if use_personal else personal
            dup = add_user(
                f"{person.first_name} {person.last_name}", other, *record_times(rng, world)
            )
            truth[f"zendesk:users:{dup['id']}"] = person.id
            add_tickets(dup, 1, parse_instant_ms(dup["created_at"]))
        if rng.random() < 0.05:
            strangers += 1
            stranger = add_user(
                f"Visitor {strangers}",
                f"visitor.{strangers}@{rng.choice(_STRANGER_DOMAINS)}",
                *record_times(rng, world),
            )
            add_tickets(stranger, 1, parse_instant_ms(stranger["created_at"]))
    _mess_organizations(world, orgs, truth)
    return ToolSeed(
        streams={
            "users": users,
            "organizations": [orgs[i] for i in sorted(orgs)],
            "tickets": tickets,
        },
        truth=truth,
    )


def _mess_organizations(
    world: PeopleWorld, orgs: dict[int, dict[str, Any]], truth: dict[str, str]
) -> None:
    """Look-alike orgs, legal-form variants, missing domains; names unique ignoring case."""
    from sandbox.world import COUNTRY_NAMES, confusable_orgs, mess_company_name, record_times

    rng = random.Random(f"revsync-world:{world.seed}:tool:zendesk:organizations")
    for index, org in enumerate(world.orgs):
        if org.lookalike_of is not None and index not in orgs:
            oid = ORG_ID_BASE + 1 + index
            orgs[index] = _organization(org, oid, *record_times(rng, world))
            truth[f"zendesk:organizations:{oid}"] = org.id
    confusable = confusable_orgs(world.orgs)
    plain = [i for i in sorted(orgs) if world.orgs[i].id not in confusable]
    wanted = max(1, round(len(orgs) * NO_DOMAIN)) if orgs else 0
    no_domain = set(rng.sample(plain, min(len(plain), wanted)))
    taken: set[str] = set()
    for index in sorted(orgs):
        rec, org = orgs[index], world.orgs[index]
        if rng.random() < _OTHER_LEGAL_FORM:
            rec["name"] = mess_company_name(rng, org.name, org.country)
        if index in no_domain:
            rec["domain_names"] = []
        for name in (rec["name"], f"{rec['name']} ({COUNTRY_NAMES[org.country]})", org.domain):
            if name.lower() not in taken:
                rec["name"] = name
                break
        else:
            rec["name"] = f"{rec['name']} {org.id}"
        taken.add(rec["name"].lower())


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Zendesk's data with the rendered records."""
    with state.lock:
        data = state.zendesk
        data.clear()
        with data.organizations.bulk():
            for rec in seed.streams.get("organizations", []):
                data.load_org(dict(rec), parse_instant_ms(rec["updated_at"]))
        with data.users.bulk():
            for rec in seed.streams.get("users", []):
                emails = [rec["email"]] if rec.get("email") else []
                data.load_user(dict(rec), emails, parse_instant_ms(rec["updated_at"]))
        with data.tickets.bulk():
            for rec in seed.streams.get("tickets", []):
                data.load_ticket(dict(rec), parse_instant_ms(rec["updated_at"]))


BENCH_STREAM = "users"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every user the way a connector does: the cursor-based incremental export from
    ``start_time`` 0, 1000 a page, until ``end_of_stream``. The export allows 10 requests a
    minute, so the bench first raises that limit through the control plane."""
    from sandbox.credentials import SANDBOX_ZENDESK_API_TOKEN, SANDBOX_ZENDESK_EMAIL

    root = base_url.rsplit("/zendesk", 1)[0]
    client.post(
        f"{root}/_sandbox/rate_limits",
        json={"tool": "zendesk-incremental", "max": 1_000_000, "interval_ms": 60_000},
    ).raise_for_status()
    auth = (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)
    url = f"{base_url}/api/v2/incremental/users/cursor"
    params: dict[str, str | int] = {"start_time": 0, "per_page": 1000}
    while True:
        body = client.get(url, params=params, auth=auth).raise_for_status().json()
        yield len(body["users"])
        if body["end_of_stream"]:
            return
        params = {"cursor": body["after_cursor"], "per_page": 1000}
