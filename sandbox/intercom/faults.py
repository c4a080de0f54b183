"""Intercom's side of the generic faults: ``starting_after`` cursors, deletions, lead merges.

Intercom continues lists with ``starting_after`` (query string, or ``pagination`` in a search
body); a stale one gets the 400 ``error.list`` with ``parameter_invalid`` on
``starting_after``, as for any cursor Intercom cannot use. Deleting a contact removes it (404
afterwards, gone from lists and search). A merge is ``POST /contacts/merge``: only a lead merges,
into a user, which keeps its values and fills its blanks; the lead 404s. A user served by a
response is not merged (Intercom cannot merge two users).
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import body_value, path_kind, query_value, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.intercom.errors import intercom_error_body
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _carries_cursor(path: str, query: str, body: bytes) -> bool:
    return bool(
        query_value(query, "starting_after") or body_value(body, "pagination", "starting_after")
    )


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    body = intercom_error_body(
        "parameter_invalid", "starting_after is not a valid cursor", "starting_after"
    )
    return 400, body, {}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Intercom workspace)."""

    def delete(path: str, record_id: str) -> bool:
        if path_kind(path, ("companies",)):
            return False  # only contacts are deleted between reads
        with state.lock:
            rec = state.intercom.contacts.get(record_id)
            if rec is None:
                return False
            state.intercom.delete_contact(rec)
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.intercom
            lead = data.contacts.get(record_id)
            if lead is None or lead["role"] != "lead":
                return None
            user = survivor(data.contacts, record_id, into, lambda r: r["role"] == "user")
            if user is None:
                return None
            data.merge(lead, user, state.now_ms() // 1000)
            return str(user["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        carries_cursor=_carries_cursor,
        records=records_under(("data",), bare=("id",)),
        delete_record=delete,
        merge_record=merge,
    )
