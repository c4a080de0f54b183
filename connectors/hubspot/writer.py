"""HubSpot write side: contacts in batches of 100.

Unlinked people go through ``batch/upsert`` keyed by ``email``: if a previous run crashed after
HubSpot created the contact but before we stored its id, the retry finds it by email instead of
creating a duplicate. Linked people (known ``record_id``) go through ``batch/update`` by id,
which is also the only safe way to change a contact's email. Each input carries an
``objectWriteTraceId`` so a 207 multi-status can be mapped back to the input that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from connectors.calls import send_for_json, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub, vendor_message
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.writer import WriteItem, WriteOutcome

__all__ = ["HubSpotWriter"]

logger = logging.getLogger(__name__)

_ENTITY_OBJECTS = {"person": "contacts", "contact": "contacts", "contacts": "contacts"}
_HINTS = {
    401: "check the private app token (REVSYNC_HUBSPOT_ACCESS_TOKEN)",
    403: "the token lacks scope crm.objects.contacts.write",
}

_Indexed = Sequence[tuple[int, WriteItem]]


class HubSpotWriter:
    """:class:`connectors.writer.Writer` for HubSpot CRM objects."""

    tool = "hubspot"

    def __init__(
        self, conn: Connection, client: httpx.Client | None = None, *, batch_size: int | None = None
    ) -> None:
        provider = provider_for(self.tool)
        self._secrets = [value.get_secret_value() for value in conn.secrets.values()]
        self._owns_client = client is None
        self._client = client if client is not None else build_client(conn, provider)
        self._batch_size = min(batch_size or provider.batch_max, provider.batch_max)

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        object_type = _object_type(entity)
        outcomes: dict[int, WriteOutcome] = {}
        updates = [(i, item) for i, item in enumerate(items) if item.record_id]
        upserts: list[tuple[int, WriteItem]] = []
        for i, item in enumerate(items):
            if item.record_id:
                continue
            if not item.key:
                outcomes[i] = WriteOutcome(item.key, ok=False, error="no email to upsert by")
            else:
                upserts.append((i, item))
        for op, indexed in (("update", updates), ("upsert", upserts)):
            for start in range(0, len(indexed), self._batch_size):
                self._write(object_type, op, indexed[start : start + self._batch_size], outcomes)
        return [outcomes[i] for i in range(len(items))]

    def merge_contacts(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge ``merged_id`` into ``primary_id``; returns the surviving contact."""
        return send_for_json(
            self._client,
            "POST",
            "/crm/v3/objects/contacts/merge",
            {"primaryObjectId": primary_id, "objectIdToMerge": merged_id},
            tool=self.tool,
            hints=_HINTS,
            secrets=self._secrets,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _write(
        self, object_type: str, op: str, chunk: _Indexed, outcomes: dict[int, WriteOutcome]
    ) -> None:
        inputs = [_input(op, item, trace=str(n)) for n, (_, item) in enumerate(chunk)]
        path = f"/crm/v3/objects/{object_type}/batch/{op}"
        response = send_json(self._client, "POST", path, {"inputs": inputs}, tool=self.tool)
        if response.status_code in (200, 201, 207):
            outcomes.update(_parse_batch(op, chunk, response.json()))
            return
        if classify_response(response) is ErrorClass.SKIP:
            if len(chunk) > 1:
                # HubSpot rejects a whole batch for one invalid input: bisect to find it.
                middle = len(chunk) // 2
                self._write(object_type, op, chunk[:middle], outcomes)
                self._write(object_type, op, chunk[middle:], outcomes)
                return
            index, item = chunk[0]
            outcomes[index] = WriteOutcome(
                item.key,
                ok=False,
                record_id=item.record_id,
                error=scrub(vendor_message(response), self._secrets),
            )
            return
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)


def _object_type(entity: str) -> str:
    try:
        return _ENTITY_OBJECTS[entity]
    except KeyError:
        raise ConfigError(
            f"the HubSpot writer does not write {entity!r} yet", tool="hubspot"
        ) from None


def _input(op: str, item: WriteItem, *, trace: str) -> dict[str, Any]:
    if op == "update":
        return {"id": item.record_id, "properties": item.properties, "objectWriteTraceId": trace}
    properties = dict(item.properties)
    properties.setdefault("email", item.key)
    return {
        "id": item.key,
        "idProperty": "email",
        "properties": properties,
        "objectWriteTraceId": trace,
    }


def _parse_batch(op: str, chunk: _Indexed, body: dict[str, Any]) -> dict[int, WriteOutcome]:
    """Map a 200/201/207 batch answer back onto the inputs, by trace id, then id/email."""
    by_trace = {str(n): index for n, (index, _) in enumerate(chunk)}
    by_natural: dict[str, int] = {}
    for position, item in chunk:
        by_natural[(item.record_id if op == "update" else item.key.lower()) or ""] = position
    items = dict(chunk)
    index: int | None
    outcomes: dict[int, WriteOutcome] = {}

    for result in body.get("results") or []:
        index = _locate(result.get("objectWriteTraceId"), by_trace)
        if index is None:
            natural = (
                str(result.get("id", ""))
                if op == "update"
                else str((result.get("properties") or {}).get("email", "")).lower()
            )
            index = by_natural.get(natural)
        if index is None:
            logger.warning(
                "HubSpot returned a result that matches no input (id %s)", result.get("id")
            )
            continue
        outcomes[index] = WriteOutcome(
            items[index].key,
            ok=True,
            record_id=str(result["id"]) if result.get("id") is not None else None,
            created=bool(result.get("new", False)) if op == "upsert" else False,
            data=result,
        )

    stray_errors: list[str] = []
    for error in body.get("errors") or []:
        message = f"{error.get('category', 'ERROR')}: {error.get('message', 'rejected')}"
        index = _locate(error.get("objectWriteTraceId"), by_trace)
        if index is None:
            index = _locate_by_context(error.get("context"), by_natural)
        if index is None:
            stray_errors.append(message)
            continue
        outcomes[index] = WriteOutcome(
            items[index].key, ok=False, record_id=items[index].record_id, error=message
        )

    for position, item in chunk:
        if position not in outcomes:
            reason = "; ".join(stray_errors) or "HubSpot returned no result for this record"
            outcomes[position] = WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=reason
            )
    return outcomes


def _locate(trace: Any, by_trace: dict[str, int]) -> int | None:
    return by_trace.get(str(trace)) if trace is not None else None


def _locate_by_context(context: Any, by_natural: dict[str, int]) -> int | None:
    if not isinstance(context, dict):
        return None
    for values in context.values():
        for value in values if isinstance(values, list) else [values]:
            for candidate in (str(value), str(value).lower()):
                if candidate in by_natural:
                    return by_natural[candidate]
    return None
