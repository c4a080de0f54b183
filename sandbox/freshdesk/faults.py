"""Freshdesk's side of the generic faults: page numbers, soft deletes and contact merges.

Freshdesk pages by ``page`` (next page in the ``Link`` header) and never expires it; an armed
``expired_cursor`` answers the 400 ``Validation failed`` body with an ``invalid_value`` error on
``page`` (the shape of every Freshdesk paging error; chosen). Deleting a contact is Freshdesk's
soft delete (``deleted: true`` by id, gone from lists); companies and tickets are removed. A
merge is ``POST /contacts/merge``: the secondary 404s, its emails join the primary's
``other_emails``, blanks are filled and its tickets move to the primary. Only contacts merge.
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import int_key, path_kind, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.freshdesk.store import FieldError, FreshdeskError
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]

_KINDS = ("contacts", "companies", "tickets")


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    err = FreshdeskError(
        400, [FieldError("page", "The requested page is no longer available", "invalid_value")]
    )
    return 400, err.body() or {}, {}


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Freshdesk helpdesk)."""

    def delete(path: str, record_id: str) -> bool:
        if not record_id.isdigit():
            return False
        with state.lock:
            data = state.freshdesk
            kind = path_kind(path, _KINDS) or "contacts"
            rec = getattr(data, kind).get(int(record_id))
            if rec is None or rec.get("deleted"):
                return False
            if kind == "contacts":
                data.delete_contact(rec, state.now_ms())
            elif kind == "companies":
                data.delete_company(rec)
            else:
                data.delete_ticket(rec)
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        if (path_kind(path, _KINDS) or "contacts") != "contacts" or not record_id.isdigit():
            return None
        with state.lock:
            data = state.freshdesk
            secondary = data.contacts.get(int(record_id))
            if secondary is None or secondary["deleted"]:
                return None
            primary = survivor(
                data.contacts, secondary["id"], int_key(into), lambda r: not r["deleted"]
            )
            if primary is None:
                return None
            data.merge_contacts(primary, [secondary], state.now_ms())
            return str(primary["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        records=records_under(("results",), bare=("id",)),
        delete_record=delete,
        merge_record=merge,
    )
