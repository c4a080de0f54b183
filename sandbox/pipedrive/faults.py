"""Pipedrive's side of the generic faults: v2 cursors, deletions and v1 merges.

v2 lists continue with an opaque ``cursor``; a stale one gets the 400 ``Invalid cursor``
error Pipedrive answers for a cursor it cannot use (``{success: false, error, …}``).
Deletion marks the record deleted (it 404s and leaves lists). A merge is the v1 merge
(``PUT /v1/{entity}/{id}/merge``): the survivor wins conflicts and fills its blanks, emails
and phones are joined, what pointed at the merged record points at the survivor, and the
merged id 404s. The entity (persons, organizations, deals) is read off the request path.
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import int_key, path_kind, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.pipedrive.store import PipedriveEntity, PipedriveError
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]

_ENTITIES = ("persons", "organizations", "deals")


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    return 400, PipedriveError(400, "Invalid cursor").body(), {}


def _records(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        items = data.get("items")
        if isinstance(items, list):  # search: data.items[].item
            return [i["item"] for i in items if isinstance(i, dict) and "item" in i]
        return [data] if "id" in data else []
    return []


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Pipedrive company)."""

    def entity(path: str) -> PipedriveEntity | None:
        kind = path_kind(path, _ENTITIES)
        return state.pipedrive.entities[kind] if kind else None

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            found = entity(path)
            rec = found.get(int(record_id)) if found and record_id.isdigit() else None
            if found is None or rec is None:
                return False
            found.delete(rec, state.now_ms())
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            found = entity(path)
            away = found.get(int(record_id)) if found and record_id.isdigit() else None
            if found is None or away is None:
                return None
            keep = survivor(found.store, away["id"], int_key(into))
            if keep is None:
                return None
            state.pipedrive.merge(found, away, keep, state.now_ms())
            return str(keep["id"])

    return ToolFaultHooks(
        expired_cursor=_expired, records=_records, delete_record=delete, merge_record=merge
    )
