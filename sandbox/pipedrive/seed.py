"""Pipedrive's share of the seeded world: persons, organizations and deals.

~30% of people are Pipedrive persons (``draw(p, "pipedrive")``, independent of the other CRMs,
so most are also in HubSpot). Mess: ``emails`` arrays with the work address (sometimes only a
personal one, ~20% both), other letter case now and then; ``phones`` typed every way, some
with the mobile too; nicknames and sloppy names; ~2% duplicate persons (personal email, same
name, phone in another format). Every org with a person is an organization with 0-3 deals.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.pipedrive.store import PipedriveEntity, pd_time
from sandbox.state import SandboxState
from sandbox.timefmt import parse_instant_ms
from sandbox.world import (
    COUNTRY_NAMES,
    PeopleWorld,
    PersonTruth,
    ToolSeed,
    mess_email,
    mess_name,
    nickname,
    random_phone_format,
    record_times,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["BENCH_STREAM", "IN_PIPEDRIVE", "bench_reader", "load", "render"]

IN_PIPEDRIVE = 0.30
_DUPLICATES = 0.02


def _times(rng: random.Random, world: PeopleWorld) -> dict[str, str]:
    created, modified = record_times(rng, world)
    return {"add_time": pd_time(created), "update_time": pd_time(modified)}


def _emails(rng: random.Random, person: PersonTruth) -> list[dict[str, Any]]:
    work = person.work_email if rng.random() > 0.1 else mess_email(rng, person.work_email)
    if person.personal_email and rng.random() < 0.06:
        return [{"value": person.personal_email, "primary": True, "label": "home"}]
    out = [{"value": work, "primary": True, "label": "work"}]
    if person.personal_email and rng.random() < 0.2:
        out.append({"value": person.personal_email, "primary": False, "label": "home"})
    return out


def _phones(rng: random.Random, person: PersonTruth) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if rng.random() < 0.75:
        out.append({"value": random_phone_format(rng, person.phone), "primary": True,
                    "label": "work"})  # fmt: skip
    if person.mobile and rng.random() < 0.35:
        out.append({"value": random_phone_format(rng, person.mobile), "primary": not out,
                    "label": "mobile"})  # fmt: skip
    return out


def _names(rng: random.Random, person: PersonTruth) -> dict[str, str]:
    first = person.first_name
    roll = rng.random()
    if nickname(first) and roll < 0.12:
        first = nickname(first) or first
    elif roll > 0.93:
        first = mess_name(rng, first)
    last = person.last_name if rng.random() > 0.05 else mess_name(rng, person.last_name)
    return {"name": f"{first} {last}", "first_name": first, "last_name": last}


def _website(org_key: str, domain: str) -> str | None:
    """The organization's website field (~80% filled, typed the ways people type it), from its
    own generator so the main stream, and every person drawn after it, stays as it was."""
    rng = random.Random(f"pipedrive-website:{org_key}")
    if rng.random() >= 0.8:
        return None
    return rng.choice((domain, f"https://www.{domain}", f"http://{domain}/", f"www.{domain}"))


def _close_date(deal_id: int) -> str | None:
    """The deal's expected close date (~70% set), from its own generator like `_website`."""
    rng = random.Random(f"pipedrive-close:{deal_id}")
    if rng.random() >= 0.7:
        return None
    return f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def render(world: PeopleWorld, rng: random.Random) -> ToolSeed:
    """Persons (+~2% duplicates), their organizations and 0-3 deals per organization."""
    seed = ToolSeed(streams={"persons": [], "organizations": [], "deals": []})
    org_id_of: dict[int, int] = {}
    persons_of: dict[int, list[int]] = {}
    for person in world.people:
        if world.draw(person, "pipedrive") >= IN_PIPEDRIVE:
            continue
        if person.org_index not in org_id_of:
            org = world.org(person)
            org_id = len(org_id_of) + 1
            org_id_of[person.org_index] = org_id
            seed.streams["organizations"].append(
                {
                    "id": org_id,
                    "name": org.name,
                    "address": (
                        {
                            "value": f"{org.city}, {COUNTRY_NAMES[org.country]}",
                            "locality": org.city,
                            "country": COUNTRY_NAMES[org.country],
                        }
                        if rng.random() < 0.6
                        else None
                    ),
                    "website": _website(org.id, org.domain),
                    **_times(rng, world),
                }
            )
            seed.truth[f"pipedrive:organizations:{org_id}"] = org.id
        person_id = len(seed.streams["persons"]) + 1
        row: dict[str, Any] = {
            "id": person_id,
            **_names(rng, person),
            "org_id": org_id_of[person.org_index] if rng.random() < 0.9 else None,
            "emails": _emails(rng, person),
            "phones": _phones(rng, person),
            "job_title": person.job_title if rng.random() < 0.5 else None,
            "marketing_status": _marketing_status(world.draw(person, "pipedrive-marketing")),
            **_times(rng, world),
        }
        seed.streams["persons"].append(row)
        seed.truth[f"pipedrive:persons:{person_id}"] = person.id
        persons_of.setdefault(person.org_index, []).append(person_id)
        if rng.random() < _DUPLICATES:
            dup_id = person_id + 1
            personal = person.personal_email or (
                f"{person.work_email.split('@')[0]}.{person.index + 1}@gmail.com"
            )
            seed.streams["persons"].append(
                {
                    **row,
                    "id": dup_id,
                    "name": f"{person.first_name} {person.last_name}",
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "emails": [{"value": personal, "primary": True, "label": "home"}],
                    "phones": [
                        {
                            "value": random_phone_format(rng, person.phone),
                            "primary": True,
                            "label": "work",
                        }
                    ],
                    "job_title": None,
                    **_times(rng, world),
                }
            )
            seed.truth[f"pipedrive:persons:{dup_id}"] = person.id
    for org_index, org_id in org_id_of.items():
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            deal_id = len(seed.streams["deals"]) + 1
            status = rng.choices(("open", "won", "lost"), (6, 3, 2))[0]
            seed.streams["deals"].append(
                {
                    "id": deal_id,
                    "title": f"{world.orgs[org_index].name} deal",
                    "org_id": org_id,
                    "person_id": rng.choice(persons_of[org_index]),
                    "value": rng.randrange(1, 200) * 500,
                    "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
                    "status": status,
                    "stage_id": rng.randrange(1, 6),
                    "expected_close_date": _close_date(deal_id),
                    **_times(rng, world),
                }
            )
            seed.truth[f"pipedrive:deals:{deal_id}"] = world.orgs[org_index].id
    return seed


def _load_rows(entity: PipedriveEntity, rows: list[dict[str, Any]]) -> None:
    with entity.store.bulk():
        for row in rows:
            values = {k: v for k, v in row.items() if k not in ("id", "add_time", "update_time")}
            entity.create(
                values,
                parse_instant_ms(row["update_time"]),
                record_id=int(row["id"]),
                created_ms=parse_instant_ms(row["add_time"]),
                seeding=True,
            )


def load(state: SandboxState, seed: ToolSeed) -> None:
    """Replace Pipedrive's data with `seed` as-is (seeding skips validation)."""
    with state.lock:
        state.pipedrive.clear()
        for name in ("organizations", "persons", "deals"):
            _load_rows(state.pipedrive.entities[name], seed.streams.get(name, []))


BENCH_STREAM = "persons"


def bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]:
    """Read every person the way an incremental connector does: v2 ``updated_since`` sorted by
    ``update_time``, 500 a page, following ``additional_data.next_cursor``."""
    from sandbox.credentials import SANDBOX_PIPEDRIVE_TOKEN

    headers = {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}
    params: dict[str, str | int] = {
        "limit": 500,
        "sort_by": "update_time",
        "sort_direction": "asc",
        "updated_since": "2000-01-01T00:00:00Z",
    }
    while True:
        page = client.get(f"{base_url}/api/v2/persons", params=params, headers=headers)
        body = page.raise_for_status().json()
        yield len(body["data"])
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return
        params["cursor"] = cursor


def _marketing_status(draw: float) -> str:
    """Campaigns' consent (its own draw, so the rest of the seeded world does not move)."""
    if draw < 0.06:
        return "unsubscribed"
    return "subscribed" if draw < 0.45 else "no_consent"
