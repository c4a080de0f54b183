"""HubSpot's side of the generic faults: its cursors, its expired-cursor error, its merges.

HubSpot pages with ``after`` (query string on lists, JSON body on search). It documents no
cursor expiry: the sandbox answers a stale cursor with the 400 ``VALIDATION_ERROR`` shape every
HubSpot validation failure has. A record deleted between reads is archived; a merged one is
merged into another contact with HubSpot's own merge rules (primary keeps its values).
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.fault_support import body_value, query_value, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.hubspot.store import HubSpotObjects
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _objects(state: SandboxState, path: str) -> HubSpotObjects | None:
    _, found, rest = path.partition("/objects/")
    return state.hubspot.objects.get(rest.split("/", 1)[0]) if found else None


def _carries_cursor(path: str, query: str, body: bytes) -> bool:
    return bool(query_value(query, "after")) or body_value(body, "after") not in (None, "", 0, "0")


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {
        "status": "error",
        "message": "The paging cursor 'after' is invalid or has expired; restart the listing.",
        "correlationId": str(uuid.uuid4()),
        "category": "VALIDATION_ERROR",
    }
    return 400, body, {}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its HubSpot data)."""

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            objects = _objects(state, path)
            rec = objects.resolve(record_id) if objects else None
            if objects is None or rec is None:
                return False
            objects.archive(rec, state.now_ms())
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            objects = _objects(state, path)
            loser = objects.resolve(record_id) if objects else None
            if objects is None or loser is None:
                return None
            named = objects.resolve(into) if into else None
            raw = survivor(objects.store, loser.id, named.id if named else None)
            winner = raw["r"] if raw is not None else None
            if winner is None:
                return None
            objects.merge(winner, loser, state.now_ms())
            return str(winner.id)

    return ToolFaultHooks(
        expired_cursor=_expired,
        carries_cursor=_carries_cursor,
        records=records_under(("results",), bare=("id", "properties")),
        delete_record=delete,
        merge_record=merge,
    )
