"""Mailchimp's side of the generic faults: offsets as cursors, deletions and "merges".

Mailchimp pages by ``offset`` and never expires it; an armed ``expired_cursor`` answers a
problem-detail 400 (the shape of every Mailchimp validation error). Mailchimp has no merge API:
a merge between reads emulates what an admin does with a duplicate — fill the survivor's blank
merge fields and tags from the other member (its ``last_changed`` moves), then delete the other.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from sandbox.faults import ToolFaultHooks
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _carries_cursor(path: str, query: str, body: bytes) -> bool:
    offset = parse_qs(query).get("offset", ["0"])[0]
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


def _records(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        members = body.get("members")
        if isinstance(members, list):
            return [m for m in members if isinstance(m, dict)]
        if "email_address" in body and "id" in body:
            return [body]
    return []


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
            winner = data.lookup(into) if into else None
            if winner is None:
                seq = data.members.seq_of(loser["id"])
                after = data.members.page_after_seq(seq + 1, 1)
                first = [k for k in data.members.page_by_creation(0, 2) if k != loser["id"]]
                key = after[0][1] if after else (first[0] if first else None)
                winner = data.members.get(key) if key is not None else None
            if winner is None or winner["id"] == loser["id"]:
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
        records=_records,
        delete_record=delete,
        merge_record=merge,
    )
