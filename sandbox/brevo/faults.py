"""Brevo's side of the generic faults: offsets as cursors, deletions and "merges".

Brevo pages by ``offset`` (``page`` on ``/companies``) and never expires it; an armed
``expired_cursor`` answers the 400 ``invalid_parameter`` errorModel Brevo gives for a bad
paging parameter (chosen shape). Deletion is Brevo's hard delete (contacts, companies,
deals). Brevo has no merge API: a merge between reads does what an admin does with a
duplicate contact — the survivor fills its blank attributes and joins the other's lists, the
other is deleted. Companies and deals are not merged.
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import int_key, path_kind, query_value, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]

_KINDS = ("companies", "deals", "contacts")


def _carries_cursor(path: str, query: str, body: bytes) -> bool:
    offset, page = query_value(query, "offset"), query_value(query, "page")
    return (offset.isdigit() and int(offset) > 0) or (page.isdigit() and int(page) > 1)


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {
        "code": "invalid_parameter",
        "message": "The requested page is no longer valid; restart from offset 0.",
    }
    return 400, body, {}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Brevo account)."""

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            data = state.brevo
            kind = path_kind(path, _KINDS)
            if kind in ("companies", "deals"):
                return bool(getattr(data, kind).delete(record_id))
            rec = data.contacts.get(int(record_id)) if record_id.isdigit() else None
            if rec is None:
                return False
            data.delete(rec)
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.brevo
            if path_kind(path, _KINDS) in ("companies", "deals") or not record_id.isdigit():
                return None
            other = data.contacts.get(int(record_id))
            if other is None:
                return None
            kept = survivor(data.contacts, other["id"], int_key(into))
            if kept is None:
                return None
            data.absorb(kept, other, state.now_ms())
            return str(kept["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        carries_cursor=_carries_cursor,
        records=records_under(("contacts", "items"), bare=("id",)),
        delete_record=delete,
        merge_record=merge,
    )
