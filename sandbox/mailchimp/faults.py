"""Mailchimp's side of the generic faults: offsets as cursors, deletions and "merges".

Mailchimp pages by ``offset`` and never expires it; an armed ``expired_cursor`` answers a
problem-detail 400 (the shape of every Mailchimp validation error). Mailchimp has no merge API:
a merge between reads emulates what an admin does with a duplicate — fill the survivor's blank
merge fields and tags from the other member (its ``last_changed`` moves), then delete the other.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.fault_support import query_value, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _carries_cursor(path: str, query: str, body: bytes) -> bool:
    offset = query_value(query, "offset")
    return offset.isdigit() and int(offset) > 0


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": "Invalid Resource",
        "status": 400,
        "detail": "The requested page is no longer available; restart from offset 0.",
        "instance": str(uuid.uuid4()),
    }
    return 400, body, {"Content-Type": "application/problem+json; charset=utf-8"}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Mailchimp audience)."""

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            return state.mailchimp.members.remove(record_id) is not None

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.mailchimp
            loser = data.lookup(record_id)
            if loser is None:
                return None
            named = data.lookup(into) if into else None
            winner = survivor(data.members, loser["id"], named["id"] if named else None)
            if winner is None:
                return None
            fields = {k: v for k, v in loser["merge_fields"].items() if v}
            fields.update({k: v for k, v in winner["merge_fields"].items() if v})
            tags = [t["name"] for t in winner["tags"]]
            tags += [t["name"] for t in loser["tags"] if t["name"] not in tags]
            data.members.remove(loser["id"])
            data.update(winner, {"merge_fields": fields, "tags": tags}, state.now_ms())
            return str(winner["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        carries_cursor=_carries_cursor,
        records=records_under(("members",), bare=("id", "email_address")),
        delete_record=delete,
        merge_record=merge,
    )
