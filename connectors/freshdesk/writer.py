"""Freshdesk write side: contacts (person) and companies (company), one record a call.

Freshdesk has no bulk create or update for either (CSV import only), no upsert and no
idempotency key. So an unlinked record is looked up before it is created, by the key Freshdesk
itself keeps unique: a contact by email (``GET /api/v2/contacts?email=``: one email belongs to
one contact), a company by name (``GET /api/v2/companies/autocomplete?name=``, then an exact,
case-blind match). Found, it is updated (``PUT``); not found, created (``POST``), so a create
replayed after a crash (Freshdesk made the record, we never stored its id) finds it. A company
found by name that holds none of our domains is another company of the same name (a look-alike
abroad): refused, never overwritten. Linked records are updated by id.

A ``409`` on a create means the lookup missed a holder (the address sits in another contact's
``other_emails``, or a concurrent writer got there first): the holder is found and updated,
never dead-lettered. A linked contact answered ``404`` (merged away: ``POST /contacts/merge``
deletes the secondaries; or deleted) is a ``gone`` outcome the sync follows to whoever holds
its email now (:meth:`FreshdeskWriter.find_survivor`). Any other refusal is an ``ok=False``
outcome carrying Freshdesk's own validation messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.calls import json_or_none, send_json, write_failed
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub, vendor_message
from connectors.values import as_integer, merged_domains, text_or_none
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["FreshdeskWriter", "describe_error"]

logger = logging.getLogger(__name__)

_CONTACTS = "/api/v2/contacts"
_COMPANIES = "/api/v2/companies"
_HINTS = {
    401: "Freshdesk refused the API key: check REVSYNC_FRESHDESK_API_KEY",
    403: "the API key's agent may not edit contacts or companies (its role), or the plan "
    "has no API access",
}
# Computed by Freshdesk or not writable: never sent back.
_READ_ONLY = frozenset({"id", "created_at", "updated_at", "deleted", "active", "other_emails"})
_INTEGER_FIELDS = ("company_id",)


def describe_error(body: Any, fallback: str) -> str:
    """``Validation failed: email: It should be a unique value (duplicate_value)`` from
    Freshdesk's ``{description, errors: [{field, message, code}]}``, else ``fallback``."""
    if not isinstance(body, dict):
        return fallback
    reasons = []
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            where = f"{error['field']}: " if error.get("field") else ""
            code = f" ({error['code']})" if error.get("code") else ""
            reasons.append(f"{where}{error['message']}{code}")
    head = str(body.get("description") or body.get("message") or body.get("code") or fallback)
    return f"{head}: {'; '.join(reasons)}"[:300] if reasons else head[:300]


@dataclass(frozen=True)
class _Kind:
    entity: str
    path: str
    label: str


_CONTACT = _Kind("person", _CONTACTS, "contact")
_COMPANY = _Kind("company", _COMPANIES, "company")


class _Refused(Exception):
    """Freshdesk refused this record (a 4xx about its content): an ``ok=False`` outcome."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class FreshdeskWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Freshdesk contacts and companies."""

    tool = "freshdesk"

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One call (or a lookup and a call) per item; one outcome per item, in order."""
        if entity == "person":
            return [self._write_contact(item) for item in items]
        if entity == "company":
            return [self._write_company(item) for item in items]
        raise ConfigError(f"the Freshdesk writer does not write {entity!r}", tool=self.tool)

    # -- merges ----------------------------------------------------------------------------

    def merge_contacts(self, primary_id: str, merged_id: str) -> dict[str, Any]:
        """Merge contact ``merged_id`` into ``primary_id``: Freshdesk deletes the secondary
        (it 404s from then on), moves its emails to the primary's ``other_emails`` and its
        tickets to the primary. Answers 204 (documented) or 200; returns the body if any."""
        body = {
            "primary_contact_id": int(primary_id),
            "secondary_contact_ids": [int(merged_id)],
        }
        response = send_json(self._client, "POST", f"{_CONTACTS}/merge", body, tool=self.tool)
        if response.status_code not in (200, 204):
            raise self._failed(response)
        data = json_or_none(response)
        return data if isinstance(data, dict) else {}

    def find_survivor(self, email: str) -> str | None:
        """The contact holding ``email`` now: after a merge, the primary (the address moved to
        its ``other_emails``); ``None`` when nobody does (the contact was deleted)."""
        address = email.strip().lower()
        if not address:
            return None
        try:
            return self._contact_by_email(address, search=True)
        except _Refused:
            return None

    # -- contacts --------------------------------------------------------------------------

    def _write_contact(self, item: WriteItem) -> WriteOutcome:
        body = self._body(item)
        email = text_or_none(body.get("email")) or (item.key if "@" in item.key else None)
        try:
            if item.record_id:
                data = self._send(_CONTACT, "PUT", f"{_CONTACTS}/{item.record_id}", body)
                if data.get("deleted") is True:
                    error = f"freshdesk contact {item.record_id} is deleted"
                    return WriteOutcome(
                        item.key, ok=False, record_id=item.record_id, error=error, gone=True
                    )
                return self._done(item, data, created=False)
            if email:
                body.setdefault("email", email)
            found = self._contact_by_email(email.lower()) if email else None
            if found and (refused := self.claimed(item, found, "contact")):
                return refused
            if found:
                return self._update_holder(item, found, body)
            try:
                data = self._send(_CONTACT, "POST", _CONTACTS, body)
            except _Refused as exc:
                if exc.status != 409 or not email:
                    raise
                holder = self._contact_by_email(email.lower(), search=True)
                if holder is None:
                    raise
                logger.info("freshdesk: email already held by contact %s; updating it", holder)
                return self._update_holder(item, holder, body)
            return self._done(item, data, created=True)
        except _Refused as exc:
            gone = bool(item.record_id) and exc.status in (404, 410)
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone
            )

    def _update_holder(self, item: WriteItem, holder: str, body: dict[str, Any]) -> WriteOutcome:
        """Update the contact that holds the item's email. The email is left out: the holder
        may keep it as an other email, and its primary address is not ours to swap."""
        rest = {k: v for k, v in body.items() if k != "email"}
        data = self._send(_CONTACT, "PUT", f"{_CONTACTS}/{holder}", rest) if rest else {}
        return self._done(item, {"id": holder, **data}, created=False)

    def _contact_by_email(self, email: str, *, search: bool = False) -> str | None:
        """The id of the contact holding ``email``: the list filter, then (``search``) the
        search API, which also looks at other emails (⚠ the filter's reach is unverified)."""
        response = send_json(
            self._client, "GET", _CONTACTS, None, tool=self.tool, params={"email": email}
        )
        for contact in self._list(_CONTACT, response):
            if contact.get("id") is not None and not contact.get("deleted"):
                return str(contact["id"])
        if not search:
            return None
        query = f"\"email:'{email}'\""
        response = send_json(
            self._client,
            "GET",
            "/api/v2/search/contacts",
            None,
            tool=self.tool,
            params={"query": query},
        )
        found = self._object(_CONTACT, response)
        for contact in found.get("results") or []:
            if isinstance(contact, dict) and contact.get("id") is not None:
                return str(contact["id"])
        return None

    # -- companies -------------------------------------------------------------------------

    def _write_company(self, item: WriteItem) -> WriteOutcome:
        body = self._body(item)
        name = text_or_none(body.get("name"))
        try:
            if item.record_id:
                return self._update_company(item, item.record_id, body)
            found = self._company_by_name(name) if name else None
            if found and (refused := self.claimed(item, found, "company")):
                return refused
            if found:
                return self._update_company(item, found, body, found_by_name=True)
            try:
                data = self._send(_COMPANY, "POST", _COMPANIES, body)
            except _Refused as exc:
                # Names are unique: a 409 is a company made since the lookup (a replay).
                again = self._company_by_name(name) if exc.status == 409 and name else None
                if again is None:
                    raise
                return self._update_company(item, again, body, found_by_name=True)
            return self._done(item, data, created=True)
        except _Refused as exc:
            error = str(exc)
            if item.record_id and exc.status == 404:
                error = f"company {item.record_id} not found in Freshdesk (deleted?): {error}"
            return WriteOutcome(item.key, ok=False, record_id=item.record_id, error=error)

    def _update_company(
        self, item: WriteItem, record_id: str, body: dict[str, Any], *, found_by_name: bool = False
    ) -> WriteOutcome:
        """PUT the company, our domains first. A company found by name is taken only when it
        is ours (it holds one of our domains, or none at all: a replayed create): another
        company of the same name (a look-alike abroad) is refused, never overwritten."""
        ours = body.get("domains")
        if isinstance(ours, list) or found_by_name:
            current = self._current_domains(record_id)
            wanted = {str(d).strip().lower() for d in ours or [] if str(d).strip()}
            held = {d.lower() for d in current}
            if found_by_name and wanted and held and not wanted & held:
                return WriteOutcome(
                    item.key,
                    ok=False,
                    error=f"Freshdesk already has another company named {body.get('name')!r} "
                    f"(company {record_id}, domains {', '.join(current)}); company names are "
                    "unique in Freshdesk: rename one of them",
                )
            if isinstance(ours, list):
                body["domains"] = merged_domains(ours, current)
        data = self._send(_COMPANY, "PUT", f"{_COMPANIES}/{record_id}", body)
        return self._done(item, data, created=False)

    def _company_by_name(self, name: str) -> str | None:
        """The company named ``name`` (case-blind, exact), through the name autocomplete."""
        response = send_json(
            self._client,
            "GET",
            f"{_COMPANIES}/autocomplete",
            None,
            tool=self.tool,
            params={"name": name},
        )
        wanted = name.strip().casefold()
        for company in self._object(_COMPANY, response).get("companies") or []:
            if not isinstance(company, dict) or company.get("id") is None:
                continue
            if str(company.get("name") or "").strip().casefold() == wanted:
                return str(company["id"])
        return None

    def _current_domains(self, record_id: str) -> list[str]:
        response = send_json(self._client, "GET", f"{_COMPANIES}/{record_id}", None, tool=self.tool)
        current = self._object(_COMPANY, response).get("domains") or []
        return [str(d).strip() for d in current if str(d).strip()]

    # -- shared ----------------------------------------------------------------------------

    def _body(self, item: WriteItem) -> dict[str, Any]:
        body = {k: v for k, v in item.properties.items() if k not in _READ_ONLY}
        for name in _INTEGER_FIELDS:
            if name in body:
                body[name] = as_integer(body[name])
        return body

    def _done(self, item: WriteItem, data: dict[str, Any], *, created: bool) -> WriteOutcome:
        rid = data.get("id")
        if rid is None:
            error = "Freshdesk answered no record id"
            return WriteOutcome(item.key, ok=False, record_id=item.record_id, error=error)
        return WriteOutcome(item.key, ok=True, record_id=str(rid), created=created, data=data)

    def _send(self, kind: _Kind, method: str, path: str, body: Any) -> dict[str, Any]:
        response = send_json(self._client, method, path, body, tool=self.tool)
        return self._object(kind, response)

    def _object(self, kind: _Kind, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object; a record-level refusal raises :class:`_Refused`, anything
        else that failed after retries ``WriteFailed``."""
        if response.status_code in (200, 201):
            body = json_or_none(response)
            return body if isinstance(body, dict) else {}
        self._refuse(kind, response)
        return {}  # not reached: _refuse raises

    def _list(self, kind: _Kind, response: httpx.Response) -> list[dict[str, Any]]:
        if response.status_code == 200:
            body = json_or_none(response)
            return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []
        self._refuse(kind, response)
        return []  # not reached: _refuse raises

    def _refuse(self, kind: _Kind, response: httpx.Response) -> None:
        if classify_response(response, self._provider.errors) is not ErrorClass.SKIP:
            raise self._failed(response)
        body = json_or_none(response)
        said = describe_error(body, vendor_message(response, rules=self._provider.errors))
        status = response.status_code
        message = scrub(f"freshdesk refused the {kind.label} ({status}): {said}", self._secrets)
        raise _Refused(message, status)

    def _failed(self, response: httpx.Response) -> Exception:
        return write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)
