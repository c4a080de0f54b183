"""Load a generated :class:`~sandbox.seed.World` into the running sandbox's stores.

Seeded records keep their ids and timestamps and skip API validation: they are what a messy
account already contains (broken emails included), not what the API would accept today.
"""

from __future__ import annotations

from typing import Any

from sandbox.seed import World
from sandbox.state import SandboxState
from sandbox.timefmt import parse_instant_ms

__all__ = ["load_world"]

_DERIVED = ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate")


def _hubspot(objects: Any, rows: list[dict[str, Any]], mtime_property: str) -> None:
    with objects.store.bulk():
        for row in rows:
            props = {k: v for k, v in row.items() if k not in _DERIVED and v is not None}
            objects.create(
                props,
                parse_instant_ms(row[mtime_property]),
                object_id=int(row["hs_object_id"]),
                created_ms=parse_instant_ms(row["createdate"]),
                seeding=True,
            )


def load_world(state: SandboxState, world: World) -> dict[str, int]:
    """Replace the vendor data with `world`; faults, limits and the request log are kept."""
    with state.lock:
        state.hubspot.clear()
        state.mailchimp.clear()
        _hubspot(state.hubspot.contacts, world.hubspot_contacts, "lastmodifieddate")
        _hubspot(state.hubspot.companies, world.hubspot_companies, "hs_lastmodifieddate")
        members = state.mailchimp
        with members.members.bulk():
            for row in world.mailchimp_members:
                body = dict(row)
                body["_timestamp_signup_ms"] = parse_instant_ms(row["timestamp_signup"])
                body["_last_changed_ms"] = parse_instant_ms(row["last_changed"])
                members.add(body, body["_last_changed_ms"], seeding=True)
    return world.counts()
