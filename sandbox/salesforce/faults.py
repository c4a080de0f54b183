"""Salesforce's side of the generic faults: query locators, soft deletes and UI-style merges.

A query continues through ``nextRecordsUrl`` (``/query/01g…-2000``): an expired one is the
400 ``INVALID_QUERY_LOCATOR`` error array Salesforce answers after its 15-minute idle timeout.
Deletion is Salesforce's soft delete (``IsDeleted``, gone from ``query``, kept by
``queryAll``). There is no REST merge: a merge is what the UI does — the master fills its
blanks from the loser and takes its children, the loser is deleted with ``MasterRecordId``
set. Only Accounts, Contacts and Leads merge; the table is found from the id's key prefix.
The OAuth token endpoint (``/services/oauth2/token``) is the login service, not the REST API:
faults aimed at every path leave it alone.
"""

from __future__ import annotations

from typing import Any

from sandbox.fault_support import survivor
from sandbox.faults import ToolFaultHooks
from sandbox.salesforce.store import MERGEABLE
from sandbox.state import SandboxState

__all__ = ["fault_hooks"]


def _expired() -> tuple[int, Any, dict[str, str]]:
    body = [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
    return 400, body, {}


def _records(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [r for r in body if isinstance(r, dict) and "Id" in r]
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("records"), list):
        return [r for r in body["records"] if isinstance(r, dict)]
    return [body] if "Id" in body and "attributes" in body else []


def _record_id(record: dict[str, Any]) -> str | None:
    value = record.get("Id")
    return str(value) if value else None


def _exempt(path: str) -> bool:
    return path.rstrip("/").endswith("/services/oauth2/token")


def fault_hooks(state: SandboxState) -> ToolFaultHooks:
    """Hooks bound to `state` (record faults change its Salesforce org)."""

    def delete(path: str, record_id: str) -> bool:
        with state.lock:
            table = state.salesforce.table_of(record_id)
            rec = table.get(record_id) if table else None
            if table is None or rec is None:
                return False
            table.delete(rec, state.now_ms())
            return True

    def merge(path: str, record_id: str, into: str | None) -> str | None:
        with state.lock:
            data = state.salesforce
            table = data.table_of(record_id)
            loser = table.get(record_id) if table else None
            if table is None or loser is None or table.definition.name not in MERGEABLE:
                return None
            named = table.normalize_id(into) if into else None
            master = survivor(table.store, loser["Id"], named, lambda r: not r["IsDeleted"])
            if master is None:
                return None
            data.merge(table, master, loser, state.now_ms())
            return str(master["Id"])

    return ToolFaultHooks(
        expired_cursor=_expired,
        records=_records,
        record_id=_record_id,
        delete_record=delete,
        merge_record=merge,
        exempt=_exempt,
    )
