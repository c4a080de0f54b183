"""The walking skeleton's world API (HubSpot + Mailchimp only), over :mod:`sandbox.world`.

Kept for existing callers: ``generate_world(people, seed)`` returns the flat lists and the
two-part truth (``hubspot:<id>``, ``mailchimp:<hash>``) it always did. New code uses
:func:`sandbox.world.generate_world`, which covers every tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox import world as world_mod
from sandbox.world import COUNTRY_NAMES, SEED_ANCHOR, ToolSeed

__all__ = ["SEED_ANCHOR", "World", "generate_world", "to_tool_world"]

_TOOLS = ("hubspot", "mailchimp")


@dataclass
class World:
    """Generated HubSpot and Mailchimp data plus the ground truth of who is who."""

    hubspot_contacts: list[dict[str, Any]] = field(default_factory=list)
    mailchimp_members: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)
    hubspot_companies: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)
    source: world_mod.World | None = field(default=None, repr=False, compare=False)

    def counts(self) -> dict[str, int]:
        return {
            "people": len(self.people),
            "hubspot_contacts": len(self.hubspot_contacts),
            "hubspot_companies": len(self.hubspot_companies),
            "mailchimp_members": len(self.mailchimp_members),
        }


def _legacy_truth(truth: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, person in truth.items():
        tool, stream, record_id = key.split(":", 2)
        if (tool, stream) in (("hubspot", "contacts"), ("mailchimp", "members")):
            out[f"{tool}:{record_id}"] = person
    return out


def generate_world(people: int, seed: int, *, now: datetime | None = None) -> World:
    """HubSpot contacts/companies and Mailchimp members for `people` persons (pure)."""
    full = world_mod.generate_world(people, seed, tools=_TOOLS, now=now)
    hubspot = full.seeds.get("hubspot", ToolSeed())
    mailchimp = full.seeds.get("mailchimp", ToolSeed())
    orgs = full.people.orgs
    return World(
        hubspot_contacts=hubspot.streams.get("contacts", []),
        hubspot_companies=hubspot.streams.get("companies", []),
        mailchimp_members=mailchimp.streams.get("members", []),
        truth=_legacy_truth(full.truth),
        people=[
            {
                "id": p.id,
                "first_name": p.first_name,
                "last_name": p.last_name,
                "email": p.work_email,
                "personal_email": p.personal_email,
                "phone": p.phone,
                "mobile": p.mobile,
                "company": orgs[p.org_index].name,
                "job_title": p.job_title,
                "lifecycle_stage": p.lifecycle_stage,
                "city": p.city,
                "country": COUNTRY_NAMES[p.country],
            }
            for p in full.people.people
        ],
        source=full,
    )


def to_tool_world(legacy: World) -> world_mod.World:
    """The :class:`sandbox.world.World` behind a legacy world (for ``world.load_world``)."""
    if legacy.source is None:
        raise ValueError("world was not made by generate_world")
    return legacy.source
