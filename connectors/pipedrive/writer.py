"""Pipedrive write side: persons, organizations and deals through API v2, one record a call.

Pipedrive has no batch writes, no upsert and no idempotency key, and allows duplicates. So an
unlinked record is looked up before it is created: first by the revsync id custom field (its
key is a connection option, since Pipedrive keys custom fields by a per-account hash), then by
the entity's natural key where it has one (a person's email; an organization's exact name
only when no revsync id field is configured), through v2 search with ``exact_match=true``.
Found, it is PATCHed (and given the revsync id); not found, POSTed with the revsync id, so a
create replayed after a crash (Pipedrive made the record, we never stored its id) finds it.
Linked records (known ``record_id``) are PATCHed by id. A refused record is an ``ok=False``
outcome carrying Pipedrive's own ``error`` text; a linked id answered 404/410 (merged away in
Pipedrive's UI, or deleted) is a ``gone`` outcome the sync follows to the survivor.

The mapping reads flat fields the manifest adds (``connectors/pipedrive/components.py``);
this module turns them back into Pipedrive's shapes: ``primary_email``/``primary_phone`` into
the ``emails``/``phones`` lists (an update keeps the other items), ``revsync_unified_id`` into
``custom_fields``, a deal's ``revsync_stage`` into ``status`` or ``stage_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.calls import json_or_none, send_for_json, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import (
    ConfigError,
    ErrorClass,
    classify_response,
    scrub,
    vendor_message,
)
from connectors.pipedrive.components import CLOSED_STATUSES, STAGE, UNIFIED_ID, primary_value
from connectors.values import as_integer, text_or_none
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["PipedriveWriter"]

logger = logging.getLogger(__name__)

_HINTS = {
    401: "Pipedrive refused the API token: check REVSYNC_PIPEDRIVE_API_TOKEN",
    402: "the Pipedrive company's subscription has lapsed or lacks API access",
    403: "the token's user may not edit this record (visibility groups or permission sets)",
}
# Fields Pipedrive takes as integers; mapped values may arrive as text or floats.
_INTEGER_FIELDS = ("org_id", "person_id", "owner_id", "stage_id", "pipeline_id", "visible_to")
# What the manifest adds or Pipedrive computes: never sent back.
_READ_ONLY = ("id", "first_name", "last_name", "add_time", "update_time", "is_deleted")


@dataclass(frozen=True)
class _Kind:
    entity: str
    path: str  # persons | organizations | deals
    label: str
    id_option: str  # the connection option naming the revsync id custom field
    name_field: str | None  # looked up by exact name (organizations)


_PERSON = _Kind("person", "persons", "person", "person_unified_id_field", None)
_ORG = _Kind("company", "organizations", "organization", "org_unified_id_field", "name")
_DEAL = _Kind("deal", "deals", "deal", "deal_unified_id_field", None)
_KINDS = {"person": _PERSON, "company": _ORG, "deal": _DEAL}


# A linked id Pipedrive answers with these no longer exists: merged away (the v2 lists drop it
# and name no survivor) or deleted.
_GONE_STATUSES = frozenset({404, 410})


class _Refused(Exception):
    """Pipedrive refused this record (a 4xx about its content): an ``ok=False`` outcome."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PipedriveWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Pipedrive persons, organizations and deals."""

    tool = "pipedrive"

    def __init__(
        self, conn: Connection, client: httpx.Client | None = None, *, batch_size: int | None = None
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)
        self._field_keys = {
            kind.entity: (conn.options.get(kind.id_option) or "").strip()
            for kind in _KINDS.values()
        }

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One call (or a lookup and a call) per item; one outcome per item, in order."""
        kind = _kind(entity)
        return [self._write_one(kind, item) for item in items]

    def merge_persons(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge ``merged_id`` into ``primary_id`` (whose values win conflicts); returns the
        surviving person (v1 shape). The merged id 404s from then on."""
        return self._merge(_PERSON, primary_id, merged_id)

    def merge_organizations(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge organization ``merged_id`` into ``primary_id``; its persons and deals move to
        the survivor."""
        return self._merge(_ORG, primary_id, merged_id)

    def find_survivor(self, email: str) -> str | None:
        """The person holding ``email`` now (a merge moves the emails onto the survivor)."""
        address = email.strip().lower()
        if not address:
            return None
        try:
            return self._search_email(address)
        except _Refused:
            return None

    # -- one record ------------------------------------------------------------------------

    def _write_one(self, kind: _Kind, item: WriteItem) -> WriteOutcome:
        try:
            found = item.record_id or self._lookup(kind, item)
            if found and not item.record_id and (refused := self.claimed(item, found, kind.label)):
                return refused
            body = self._body(kind, item, record_id=found, linked=bool(item.record_id))
            if found:
                data = self._send(kind, "PATCH", f"/api/v2/{kind.path}/{found}", body)
            else:
                data = self._send(kind, "POST", f"/api/v2/{kind.path}", body)
        except _Refused as exc:
            gone = bool(item.record_id) and exc.status in _GONE_STATUSES
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone
            )
        if item.record_id and data.get("is_deleted") is True:
            # Deleted persons stay readable (and editable) for 30 days before they are purged.
            error = f"pipedrive {kind.label} {item.record_id} is deleted"
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=error, gone=True
            )
        record_id = str(data["id"]) if data.get("id") is not None else found
        return WriteOutcome(item.key, ok=True, record_id=record_id, created=not found, data=data)

    def _send(self, kind: _Kind, method: str, path: str, body: Any) -> dict[str, Any]:
        response = send_json(self._client, method, path, body, tool=self.tool)
        return self._data(kind, response)

    def _data(self, kind: _Kind, response: httpx.Response) -> dict[str, Any]:
        """The answer's ``data`` object; a record-level refusal raises :class:`_Refused`,
        anything else that failed after retries ``WriteFailed``."""
        if response.status_code == 200:
            body = json_or_none(response)
            if isinstance(body, dict) and body.get("success") is not False:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
        if response.status_code == 200 or (
            classify_response(response, self._provider.errors) is ErrorClass.SKIP
        ):
            said = scrub(vendor_message(response, rules=self._provider.errors), self._secrets)
            status = response.status_code
            raise _Refused(f"pipedrive refused the {kind.label} ({status}): {said}", status)
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)

    # -- lookups ---------------------------------------------------------------------------

    def _lookup(self, kind: _Kind, item: WriteItem) -> str | None:
        """The id of the record this unlinked item already is in Pipedrive, if any."""
        unified_id = text_or_none(item.properties.get(UNIFIED_ID))
        field_key = self._field_keys[kind.entity]
        if unified_id and field_key:
            found = self._search(
                kind,
                unified_id,
                "custom_fields",
                lambda i: unified_id in {str(v) for v in i.get("custom_fields") or []},
            )
            if found:
                return found
        if kind is _PERSON:
            email = text_or_none(item.properties.get("primary_email")) or (
                item.key if "@" in item.key else None
            )
            return self._search_email(email.lower()) if email else None
        if kind.name_field and not field_key:
            # Only without the revsync id field: with it, a create's replay is found by the id,
            # and an organization of the same name is another golden company's (every record
            # read is linked to one), often a lookalike that a PATCH would overwrite.
            name = text_or_none(item.properties.get(kind.name_field))
            if name:
                wanted = name.casefold()
                return self._search(
                    kind, name, "name", lambda i: str(i.get("name") or "").casefold() == wanted
                )
        return None

    def _search_email(self, email: str) -> str | None:
        def holds(found: dict[str, Any]) -> bool:
            return email in {str(e).strip().lower() for e in found.get("emails") or []}

        return self._search(_PERSON, email, "email", holds)

    def _search(
        self, kind: _Kind, term: str, field: str, keep: Callable[[dict[str, Any]], bool]
    ) -> str | None:
        """The first exact match of ``/api/v2/{entity}/search`` that ``keep`` accepts (search
        results are the API's own index: it returns every record holding the term)."""
        params = {"term": term, "fields": field, "exact_match": "true", "limit": "10"}
        response = send_json(
            self._client, "GET", f"/api/v2/{kind.path}/search", None, tool=self.tool, params=params
        )
        data = self._data(kind, response)
        for entry in data.get("items") or []:
            found = entry.get("item") if isinstance(entry, dict) else None
            if isinstance(found, dict) and found.get("id") is not None and keep(found):
                return str(found["id"])
        return None

    # -- payloads --------------------------------------------------------------------------

    def _body(
        self, kind: _Kind, item: WriteItem, *, record_id: str | None, linked: bool
    ) -> dict[str, Any]:
        body = {k: v for k, v in item.properties.items() if k not in _READ_ONLY}
        unified_id = text_or_none(body.pop(UNIFIED_ID, None))
        field_key = self._field_keys[kind.entity]
        # The revsync id goes on creates and on records found by lookup; a linked record is
        # never re-keyed.
        if unified_id and field_key and not linked:
            custom = dict(body.get("custom_fields") or {})
            custom[field_key] = unified_id
            body["custom_fields"] = custom
        if kind is _PERSON:
            self._contact_lists(body, record_id)
        if kind is _DEAL and STAGE in body:
            stage = text_or_none(body.pop(STAGE))
            if stage in CLOSED_STATUSES:
                body["status"] = stage
            elif stage:
                body["stage_id"], body["status"] = stage, "open"
        for name in _INTEGER_FIELDS:
            if name in body:
                body[name] = as_integer(body[name])
        return body

    def _contact_lists(self, body: dict[str, Any], record_id: str | None) -> None:
        """``primary_email``/``primary_phone`` -> the ``emails``/``phones`` lists; on an
        existing person the other items are kept (a PATCH replaces the whole list)."""
        wanted: dict[str, str] = {}
        for name in ("emails", "phones"):
            value = text_or_none(body.pop(f"primary_{name[:-1]}", None))
            if value:
                wanted[name] = value
        if not wanted:
            return
        current: dict[str, Any] = {}
        if record_id:
            current = self._send(_PERSON, "GET", f"/api/v2/persons/{record_id}", None)
        for name, value in wanted.items():
            body[name] = _with_primary(current.get(name), value)

    def _merge(self, kind: _Kind, primary_id: str, merged_id: str) -> dict[str, Any]:
        answer = send_for_json(
            self._client,
            "PUT",
            f"/v1/{kind.path}/{merged_id}/merge",
            {"merge_with_id": as_integer(primary_id)},
            tool=self.tool,
            hints=_HINTS,
            secrets=self._secrets,
        )
        data = answer.get("data")
        return data if isinstance(data, dict) else {}


def _kind(entity: str) -> _Kind:
    try:
        return _KINDS[entity]
    except KeyError:
        message = f"the Pipedrive writer does not write {entity!r}"
        raise ConfigError(message, tool="pipedrive") from None


def _with_primary(items: Any, value: str) -> list[dict[str, Any]]:
    """``items`` with ``value`` as the primary one: an item already holding it becomes primary,
    else it replaces the primary item's value (keeping its label); the others stay."""
    kept = [dict(i) for i in items or [] if isinstance(i, dict) and i.get("value")]
    if not kept:
        return [{"value": value, "primary": True, "label": "work"}]
    if primary_value(kept) == value:
        return kept
    same = [i for i in kept if str(i["value"]).strip().lower() == value.strip().lower()]
    if same:
        for i in kept:
            i["primary"] = i is same[0]
        return kept
    target = next((i for i in kept if i.get("primary")), kept[0])
    target["value"], target["primary"] = value, True
    return kept
