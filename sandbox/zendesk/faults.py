"""Zendesk's side of the generic faults: cursors, soft-deleted users and user merges.

Zendesk continues with ``page[after]`` (cursor pagination), ``cursor`` (incremental
exports) or ``page`` (offset pagination); a stale cursor gets the 400
``InvalidPaginationParameter`` body the sandbox answers for any unusable cursor. Deleting a
user is Zendesk's soft delete (``active: false``, emails freed, gone from lists); tickets and
organizations are removed. A merge is Zendesk's user merge (``PUT /users/{id}/merge``): end
users only, the source's emails and tickets move to the target and the source goes inactive;
tickets show the survivor as ``requester_id``. The kind is read off the request path.
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import int_key, path_kind, records_under, survivor
from sandbox.faults import ToolFaultHooks
from sandbox.state import SandboxState
from sandbox.zendesk.store import ZendeskError

__all__ = ["fault_hooks"]

_KINDS = ("users", "tickets", "organizations")


def _expired() -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {"error": "InvalidPaginationParameter", "description": "cursor is invalid or expired"}
    return 400, body, {}


def _mergeable(rec: dict[str, Any]) -> bool:
    return bool(rec["active"]) and rec["role"] == "end-user"


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Zendesk account)."""

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            data = state.zendesk
            kind = path_kind(path, _KINDS) or "users"
            if kind == "users":
                user = data.find_user(record_id)
                if user is None or not user["active"]:
                    return False
                data.deactivate(user, state.now_ms())
            elif kind == "tickets":
                ticket = data.tickets.get(int(record_id)) if record_id.isdigit() else None
                if ticket is None or ticket.get("status") == "deleted":
                    return False
                data.delete_ticket(ticket, state.now_ms())
            else:
                org = data.find_org(record_id)
                if org is None:
                    return False
                data.delete_org(org)
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.zendesk
            if (path_kind(path, _KINDS) or "users") != "users":
                return None
            source = data.find_user(record_id)
            if source is None:
                return None
            target = survivor(data.users, source["id"], int_key(into), _mergeable)
            if target is None:
                return None
            try:
                data.merge_users(source, target, state.now_ms())
            except ZendeskError:
                return None  # agents, inactive users and self-merges cannot be merged
            return str(target["id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        records=records_under(
            ("users", "tickets", "organizations", "results"), ("user", "ticket", "organization")
        ),
        delete_record=delete,
        merge_record=merge,
    )
