"""HubSpot write side: contacts, companies and deals in batches of 100.

Unlinked records go through ``batch/upsert`` on a unique property: people on ``email``,
companies and deals (which have no key HubSpot enforces) on the custom unique
``revsync_unified_id``
holding the golden record's unified id. If a previous run crashed after HubSpot created the
record but before we stored its id, the retry finds it by that key instead of creating a
duplicate. Linked records (known ``record_id``) go through ``batch/update`` by id, which is also
the only safe way to change a contact's email. Each input carries an ``objectWriteTraceId`` so
a 207 multi-status can be mapped back to the input that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from connectors.calls import send_for_json, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import (
    ConfigError,
    ErrorClass,
    WriteFailed,
    classify_response,
    scrub,
    vendor_message,
)
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["UNIFIED_ID_PROPERTY", "HubSpotWriter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _ObjectType:
    """What the writer needs to know about one HubSpot object type."""

    name: str
    """``contacts`` / ``companies``: the path segment and the scope's middle part."""
    id_property: str
    """The unique property creates upsert on (``WriteItem.key`` is its value)."""
    case_blind: bool = False
    """HubSpot compares the key without case (emails)."""
    primary_links: tuple[tuple[str, str, int], ...] = ()
    """(read-only property, object type, Primary association type id): properties HubSpot
    derives from the record's primary association (a contact's ``associatedcompanyid``),
    written by associating, not as properties."""
    opt_out: str | None = None
    """The read-only property the subscription preferences set (``hs_email_optout``): a
    ``"true"`` written is an unsubscribe through the communication preferences API."""

    @property
    def hints(self) -> dict[int, str]:
        return {
            401: "check the private app token (REVSYNC_HUBSPOT_ACCESS_TOKEN)",
            403: f"the token lacks scope crm.objects.{self.name}.write",
        }

    def natural(self, value: str) -> str:
        return value.lower() if self.case_blind else value


UNIFIED_ID_PROPERTY = "revsync_unified_id"
"""The custom unique property revsync writes unified ids to (see README: create it once)."""
_CONTACTS = _ObjectType(
    "contacts",
    "email",
    case_blind=True,
    primary_links=(("associatedcompanyid", "companies", 1),),
    opt_out="hs_email_optout",
)
ASSOCIATION_BATCH = 100
"""Inputs per v4 associations batch call revsync sends."""
_COMPANIES = _ObjectType("companies", UNIFIED_ID_PROPERTY)
_DEALS = _ObjectType("deals", UNIFIED_ID_PROPERTY)
_ENTITY_OBJECTS = {
    "person": _CONTACTS,
    "contact": _CONTACTS,
    "contacts": _CONTACTS,
    "company": _COMPANIES,
    "companies": _COMPANIES,
    "deal": _DEALS,
    "deals": _DEALS,
}

_Indexed = Sequence[tuple[int, WriteItem]]


class HubSpotWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for HubSpot CRM objects."""

    tool = "hubspot"

    def __init__(
        self, conn: Connection, client: httpx.Client | None = None, *, batch_size: int | None = None
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """``person`` (contacts, keyed by email) or ``company`` (companies, keyed by the unified
        id in ``revsync_unified_id``); linked items are updated by id."""
        object_type = _object_type(entity)
        items, links = _split_links(object_type, items)
        items, opt_outs = _split_opt_outs(object_type, items)
        outcomes: dict[int, WriteOutcome] = {}
        for i, item in enumerate(items):
            if item.record_id and not item.properties and i in opt_outs:
                outcomes[i] = WriteOutcome(item.key, ok=True, record_id=item.record_id)
        updates = [
            (i, item) for i, item in enumerate(items) if item.record_id and i not in outcomes
        ]
        upserts: list[tuple[int, WriteItem]] = []
        for i, item in enumerate(items):
            if item.record_id:
                continue
            if not item.key:
                error = f"no {object_type.id_property} to upsert by"
                outcomes[i] = WriteOutcome(item.key, ok=False, error=error)
            else:
                upserts.append((i, item))
        for op, indexed in (("update", updates), ("upsert", upserts)):
            for start in range(0, len(indexed), self._batch_size):
                self._write(object_type, op, indexed[start : start + self._batch_size], outcomes)
        for (to_type, type_id), wanted in links.items():
            self._associate(object_type, to_type, type_id, wanted, outcomes)
        for i in sorted(opt_outs):
            self._unsubscribe(items[i].key, i, outcomes)
        return [outcomes[i] for i in range(len(items))]

    def _unsubscribe(self, email: str, index: int, outcomes: dict[int, WriteOutcome]) -> None:
        """Opt ``email`` out of all email (communication preferences v4): HubSpot then sets
        the contact's ``hs_email_optout``, which the CRM API cannot write."""
        done = outcomes[index]
        if not done.ok:
            return
        path = f"/communication-preferences/v4/statuses/{quote(email, safe='')}/unsubscribe-all"
        response = send_json(
            self._client, "POST", path, None, tool=self.tool, params={"channel": "EMAIL"}
        )
        if response.status_code == 200:
            return
        if classify_response(response, self._provider.errors) is not ErrorClass.SKIP:
            raise write_failed(
                response, tool=self.tool, hints=_CONTACTS.hints, secrets=self._secrets
            )
        reason = scrub(vendor_message(response, rules=self._provider.errors), self._secrets)
        outcomes[index] = WriteOutcome(
            done.key,
            ok=False,
            record_id=done.record_id,
            error=f"written, but not unsubscribed: {reason}",
        )

    def _associate(
        self,
        object_type: _ObjectType,
        to_type: str,
        type_id: int,
        wanted: dict[int, str],
        outcomes: dict[int, WriteOutcome],
    ) -> None:
        """Make each written record's primary ``to_type`` the one asked for (v4 batch/create
        with the Primary type: HubSpot moves the primary, the old one stays associated)."""
        pairs = [
            (i, str(outcomes[i].record_id), to_id)
            for i, to_id in sorted(wanted.items())
            if outcomes[i].ok and outcomes[i].record_id
        ]
        path = f"/crm/v4/associations/{object_type.name}/{to_type}/batch/create"
        for start in range(0, len(pairs), ASSOCIATION_BATCH):
            chunk = pairs[start : start + ASSOCIATION_BATCH]
            inputs = [
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                    ],
                }
                for _, from_id, to_id in chunk
            ]
            response = send_json(self._client, "POST", path, {"inputs": inputs}, tool=self.tool)
            if response.status_code not in (200, 201, 207):
                if classify_response(response, self._provider.errors) is not ErrorClass.SKIP:
                    raise write_failed(
                        response, tool=self.tool, hints=object_type.hints, secrets=self._secrets
                    )
                reason = scrub(vendor_message(response, rules=self._provider.errors), self._secrets)
                refused = {from_id: reason for _, from_id, _ in chunk}
            else:
                refused = _refused_links(response.json())
            for i, from_id, to_id in chunk:
                if from_id in refused:
                    done = outcomes[i]
                    outcomes[i] = WriteOutcome(
                        done.key,
                        ok=False,
                        record_id=done.record_id,
                        error=f"written, but not associated with {to_type} {to_id}: "
                        f"{refused[from_id]}",
                    )

    def merge_contacts(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge ``merged_id`` into ``primary_id``; returns the surviving contact."""
        return self._merge(_CONTACTS, primary_id, merged_id)

    def merge_companies(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge ``merged_id`` into ``primary_id``; returns the surviving company, whose
        ``hs_merged_object_ids`` lists the merged id (which 404s from then on)."""
        return self._merge(_COMPANIES, primary_id, merged_id)

    def _merge(self, object_type: _ObjectType, primary_id: str, merged_id: str) -> dict[str, Any]:
        return send_for_json(
            self._client,
            "POST",
            f"/crm/v3/objects/{object_type.name}/merge",
            {"primaryObjectId": primary_id, "objectIdToMerge": merged_id},
            tool=self.tool,
            hints=object_type.hints,
            secrets=self._secrets,
        )

    def _write(
        self, object_type: _ObjectType, op: str, chunk: _Indexed, outcomes: dict[int, WriteOutcome]
    ) -> None:
        inputs = [_input(object_type, op, item, trace=str(n)) for n, (_, item) in enumerate(chunk)]
        path = f"/crm/v3/objects/{object_type.name}/batch/{op}"
        response = send_json(self._client, "POST", path, {"inputs": inputs}, tool=self.tool)
        if response.status_code in (200, 201, 207):
            outcomes.update(_parse_batch(object_type, op, chunk, response.json()))
            return
        if op == "upsert" and _key_property_missing(response, object_type):
            raise self._missing_key_property(response, object_type)
        if classify_response(response, self._provider.errors) is ErrorClass.SKIP:
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
                error=scrub(vendor_message(response, rules=self._provider.errors), self._secrets),
            )
            return
        raise write_failed(response, tool=self.tool, hints=object_type.hints, secrets=self._secrets)

    def _missing_key_property(
        self, response: httpx.Response, object_type: _ObjectType
    ) -> WriteFailed:
        """Every create would fail alike: stop the run with the fix, not a dead letter each."""
        name, prop = object_type.name, object_type.id_property
        return WriteFailed(
            f"hubspot write failed: the account has no unique {name} property {prop!r} for "
            f"revsync to upsert on; create it once (type string, fieldType text, "
            f"hasUniqueValue true) with POST /crm/v3/properties/{name} (scope "
            f"crm.schemas.{name}.write), see connectors/hubspot/README.md: "
            f"{scrub(vendor_message(response, rules=self._provider.errors), self._secrets)}",
            tool=self.tool,
            request=f"{response.request.method} {response.request.url.path}",
            status=response.status_code,
            error_class=ErrorClass.FATAL,
        )


def _split_links(
    object_type: _ObjectType, items: list[WriteItem]
) -> tuple[list[WriteItem], dict[tuple[str, int], dict[int, str]]]:
    """Items without the association-derived properties, and per (object type, Primary type
    id) the target id each item asks for."""
    if not object_type.primary_links:
        return items, {}
    links: dict[tuple[str, int], dict[int, str]] = {}
    out: list[WriteItem] = []
    for i, item in enumerate(items):
        properties = dict(item.properties)
        for name, to_type, type_id in object_type.primary_links:
            target = properties.pop(name, None)
            if target not in (None, ""):
                links.setdefault((to_type, type_id), {})[i] = str(target)
        out.append(WriteItem(key=item.key, record_id=item.record_id, properties=properties))
    return out, links


def _split_opt_outs(
    object_type: _ObjectType, items: list[WriteItem]
) -> tuple[list[WriteItem], set[int]]:
    """Items without the opt-out property, and the indexes of those that unsubscribe (only
    ``"true"`` is ever acted on: revsync never clears an opt-out)."""
    if object_type.opt_out is None:
        return items, set()
    out: list[WriteItem] = []
    opting: set[int] = set()
    for i, item in enumerate(items):
        properties = dict(item.properties)
        if str(properties.pop(object_type.opt_out, "")).lower() == "true":
            opting.add(i)
        out.append(WriteItem(key=item.key, record_id=item.record_id, properties=properties))
    return out, opting


def _refused_links(body: dict[str, Any]) -> dict[str, str]:
    """From-object id -> HubSpot's reason, for the inputs of a 207 association answer that
    failed (the ids are in each error's ``context``)."""
    out: dict[str, str] = {}
    for error in body.get("errors") or []:
        message = f"{error.get('category', 'ERROR')}: {error.get('message', 'rejected')}"
        for value in _context_values(error.get("context")):
            out[str(value)] = message
    return out


def _key_property_missing(response: httpx.Response, object_type: _ObjectType) -> bool:
    """HubSpot refuses the whole upsert when ``idProperty`` is not an existing unique property
    ("Unable to perform update/upsert by non-unique 0-2 property ...", or "does not exist")."""
    if response.status_code != 400:
        return False
    message = vendor_message(response, limit=1000).lower()
    return object_type.id_property in message and (
        "unique" in message or "does not exist" in message
    )


def _object_type(entity: str) -> _ObjectType:
    try:
        return _ENTITY_OBJECTS[entity]
    except KeyError:
        raise ConfigError(
            f"the HubSpot writer does not write {entity!r} yet", tool="hubspot"
        ) from None


def _input(object_type: _ObjectType, op: str, item: WriteItem, *, trace: str) -> dict[str, Any]:
    if op == "update":
        return {"id": item.record_id, "properties": item.properties, "objectWriteTraceId": trace}
    properties = dict(item.properties)
    properties.setdefault(object_type.id_property, item.key)
    return {
        "id": item.key,
        "idProperty": object_type.id_property,
        "properties": properties,
        "objectWriteTraceId": trace,
    }


def _parse_batch(
    object_type: _ObjectType, op: str, chunk: _Indexed, body: dict[str, Any]
) -> dict[int, WriteOutcome]:
    """Map a 200/201/207 batch answer back onto the inputs, by trace id, then id/upsert key."""
    by_trace = {str(n): index for n, (index, _) in enumerate(chunk)}
    by_natural: dict[str, int] = {}
    for position, item in chunk:
        natural = item.record_id if op == "update" else object_type.natural(item.key)
        by_natural[natural or ""] = position
    items = dict(chunk)
    index: int | None
    outcomes: dict[int, WriteOutcome] = {}

    for result in body.get("results") or []:
        index = _locate(result.get("objectWriteTraceId"), by_trace)
        if index is None:
            natural = (
                str(result.get("id", ""))
                if op == "update"
                else object_type.natural(
                    str((result.get("properties") or {}).get(object_type.id_property, ""))
                )
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
    for value in _context_values(context):
        for candidate in (str(value), str(value).lower()):
            if candidate in by_natural:
                return by_natural[candidate]
    return None


def _context_values(context: Any) -> list[Any]:
    """Every value of a HubSpot error ``context`` (``{name: [values]}``, or a single value)."""
    if not isinstance(context, dict):
        return []
    return [
        v for values in context.values() for v in (values if isinstance(values, list) else [values])
    ]
