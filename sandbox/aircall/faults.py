"""Aircall's side of the generic faults: pages, contact deletions and contact "merges".

Aircall pages with ``page``/``per_page`` and ``meta.next_page_link``; page numbers do not
expire, so an armed ``expired_cursor`` answers the 400 ``Invalid parameters`` error Aircall
gives for a page it will not serve (the 10,000-record window; chosen shape). Deleting a
contact removes it; calls keep ``contact: null``. Calls cannot be deleted. Aircall has no
merge API: a merge does what a user does with a duplicate contact in the app — the survivor
takes the other's numbers and emails and fills its blanks, the other's calls point at the
survivor, and the other is deleted.
"""

from __future__ import annotations

from typing import Any

from sandbox.aircall.store import AircallError
from sandbox.fault_support import int_key, path_kind, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    err = AircallError(
        400,
        "Invalid parameters",
        "The requested page is no longer available. "
        "Use the from and to parameters to narrow down the query.",
    )
    return 400, {"error": err.error, "troubleshoot": err.troubleshoot}, {}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Aircall company)."""

    def contact(path: str, record_id: str) -> dict[str, Any] | None:
        if path_kind(path, ("calls",)) or not record_id.isdigit():
            return None
        return state.aircall.contacts.get(int(record_id))

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            rec = contact(path, record_id)
            if rec is None:
                return False
            state.aircall.delete_contact(rec)
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.aircall
            other = contact(path, record_id)
            if other is None:
                return None
            kept = survivor(data.contacts, other["id"], int_key(into))
            if kept is None:
                return None
            data.merge_contacts(kept, other, state.now_ms() // 1000)
            return str(kept["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        records=records_under(("contacts", "calls", "users", "numbers"), ("contact", "call")),
        delete_record=delete,
        merge_record=merge,
    )
