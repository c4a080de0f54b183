"""Intercom write side (REST API 2.16): contacts and companies, one record a call.

Intercom has no batch writes in 2.16 and no upsert for contacts. A linked contact is updated by
id (``PUT /contacts/{id}``). An unlinked one is looked up first, by email through
``POST /contacts/search`` (users are unique by email; a user is preferred to a lead holding the
same address), then updated, or created as a user (``POST /contacts``). The search index trails
creates by minutes, so a create replayed after a crash may not find the user it made: Intercom
then answers ``409`` naming the holder's id, which is updated instead.

Companies are created with ``POST /companies``, create-or-update keyed by ``company_id`` (the
unified id on creates, so a replayed create updates), and updated by Intercom's id with
``PUT /companies/{id}``. A contact's company (``company_ref`` in the payload: Intercom's company
id) is attached after the contact is written, with ``POST /contacts/{id}/companies``, unless the
contact already holds it; the contact's other companies are detached (the unified person has
one company).

Errors are ``{"type": "error.list", "errors": [{"code", "message"}]}``: a record-level refusal
becomes an ``ok=False`` outcome with Intercom's own message. A linked id answered 404 (deleted,
or a lead merged away) or 410 (merged; ``Link`` names the survivor) is a ``gone`` outcome the
sync follows to whoever holds the email now (``find_survivor``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from connectors.calls import json_or_none, send_json, write_failed
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub
from connectors.values import text_or_none
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["COMPANY_REF", "IntercomWriter", "error_text"]

logger = logging.getLogger(__name__)

COMPANY_REF = "company_ref"
"""The payload key of the contact's company (the manifest adds it to every contact read)."""

_HINTS = {
    401: "Intercom refused the access token: check REVSYNC_INTERCOM_ACCESS_TOKEN (and the region)",
    403: 'the app lacks the permission "Write users and companies"',
}
# A linked record answered with these no longer exists under that id.
_GONE_STATUSES = frozenset({404, 410})
# What the manifest adds or Intercom computes: never sent back.
_CONTACT_READ_ONLY = frozenset(
    {
        "id",
        "type",
        "workspace_id",
        "updated_at",
        "updated_at_iso",
        "created_at",
        "merged_contact_ids",
        "merge_history",
        "location",
        "companies",
    }
)
_COMPANY_READ_ONLY = frozenset({"id", "type", "app_id", "updated_at", "updated_at_iso"})
# "A contact matching those details already exists with id=6762f0…" (the 409's message).
_HOLDER = re.compile(r"\bid=([0-9a-zA-Z]+)")


@dataclass(frozen=True)
class _Kind:
    entity: str
    label: str


_CONTACT = _Kind("person", "contact")
_COMPANY = _Kind("company", "company")
_KINDS = {"person": _CONTACT, "company": _COMPANY}


class _Refused(Exception):
    """Intercom refused this record (a 4xx about it): an ``ok=False`` outcome."""

    def __init__(self, message: str, status: int, code: str | None, *, own: bool) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.own = own
        """The call addressed the linked record itself (its 404/410 means it is gone)."""


def error_text(body: Any) -> tuple[str | None, str]:
    """``(code, "code: message")`` of an Intercom ``error.list`` body's first error."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = str(first["code"]) if first.get("code") else None
            message = str(first.get("message") or "").strip()
            text = ": ".join(p for p in (code, message) if p)
            return code, text or "rejected"
        plain = body.get("message")
        if isinstance(plain, str) and plain:
            return None, plain
    return None, "rejected"


class IntercomWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Intercom contacts and companies."""

    tool = "intercom"

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One call (or a lookup, a call and an attach) per item; one outcome per item."""
        kind = _kind(entity)
        write = self._write_contact if kind is _CONTACT else self._write_company
        return [write(item) for item in items]

    def find_survivor(self, email: str) -> str | None:
        """The contact holding ``email`` now (a lead merged into a user: the user)."""
        address = email.strip().lower()
        if not address:
            return None
        try:
            return self._search_email(address)
        except _Refused:
            return None

    # -- contacts --------------------------------------------------------------------------

    def _write_contact(self, item: WriteItem) -> WriteOutcome:
        body = {k: v for k, v in item.properties.items() if k not in _CONTACT_READ_ONLY}
        company = text_or_none(body.pop(COMPANY_REF, None))
        try:
            found = item.record_id or self._lookup_contact(item, body)
            if found and not item.record_id and (refused := self.claimed(item, found, "contact")):
                return refused
            if found:
                data = self._put_contact(found, body, linked=bool(item.record_id))
                created = False
            else:
                data, created = self._create_contact(body)
            record_id = str(data.get("id") or found)
            if company:
                self._attach(record_id, company, data)
        except _Refused as exc:
            return _refused(item, exc)
        return WriteOutcome(item.key, ok=True, record_id=record_id, created=created, data=data)

    def _put_contact(self, record_id: str, body: dict[str, Any], *, linked: bool) -> dict[str, Any]:
        update = dict(body)
        if linked:
            # The email is an identity field (never sent on updates by the mapping); a role is
            # never changed from here (a lead becomes a user by signing up or a merge).
            update.pop("role", None)
        return self._send(_CONTACT, "PUT", f"/contacts/{record_id}", update, own=linked)

    def _create_contact(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """POST as a user; a 409 names the user already holding the email: update it."""
        create = {"role": "user", **body}
        try:
            return self._send(_CONTACT, "POST", "/contacts", create), True
        except _Refused as exc:
            if exc.status != 409:
                raise
            holder = _holder(str(exc)) or self._lookup_contact(None, body)
            if not holder:
                raise
            logger.info("intercom contact exists already (409): updating %s", holder)
            return self._put_contact(holder, body, linked=False), False

    def _lookup_contact(self, item: WriteItem | None, body: dict[str, Any]) -> str | None:
        email = text_or_none(body.get("email")) or (
            item.key if item is not None and "@" in item.key else None
        )
        return self._search_email(email.lower()) if email else None

    def _search_email(self, email: str) -> str | None:
        """A user holding ``email``, else a lead holding it, else None."""
        query = {
            "query": {"field": "email", "operator": "=", "value": email},
            "pagination": {"per_page": 50},
        }
        answer = self._send(_CONTACT, "POST", "/contacts/search", query)
        found = [
            c
            for c in answer.get("data") or []
            if isinstance(c, dict)
            and c.get("id")
            and str(c.get("email") or "").strip().lower() == email
        ]
        found.sort(key=lambda c: (c.get("role") != "user", c.get("created_at") or 0))
        return str(found[0]["id"]) if found else None

    def _attach(self, contact_id: str, company_id: str, contact: dict[str, Any]) -> None:
        """Make ``company_id`` the contact's company: attached unless held, and the others
        detached. The unified person has one company, and a contact's companies come in no
        documented order, so with several the company read back would be anyone's."""
        listed = (contact.get("companies") or {}).get("data") or []
        held = [str(c["id"]) for c in listed if isinstance(c, dict) and c.get("id")]
        if (contact.get("companies") or {}).get("has_more"):
            held = self._companies_of(contact_id)
        if company_id not in held:
            self._send(_CONTACT, "POST", f"/contacts/{contact_id}/companies", {"id": company_id})
        for other in held:
            if other != company_id:
                path = f"/contacts/{contact_id}/companies/{other}"
                self._send(_CONTACT, "DELETE", path, None)

    def _companies_of(self, contact_id: str) -> list[str]:
        """Every company a contact is attached to (its record lists the first ten)."""
        out: list[str] = []
        page = 1
        while True:
            path = f"/contacts/{contact_id}/companies?page={page}&per_page=50"
            answer = self._send(_CONTACT, "GET", path, None)
            found = [str(c["id"]) for c in answer.get("companies") or [] if c.get("id")]
            out += found
            total_pages = (answer.get("pages") or {}).get("total_pages") or 1
            if not found or page >= int(total_pages):
                return out
            page += 1

    # -- companies -------------------------------------------------------------------------

    def _write_company(self, item: WriteItem) -> WriteOutcome:
        body = {k: v for k, v in item.properties.items() if k not in _COMPANY_READ_ONLY}
        try:
            if item.record_id:
                # company_id cannot change once set: never sent on updates.
                body.pop("company_id", None)
                path = f"/companies/{item.record_id}"
                data = self._send(_COMPANY, "PUT", path, body, own=True)
            else:
                body.setdefault("company_id", item.key)
                data = self._send(_COMPANY, "POST", "/companies", body)
        except _Refused as exc:
            return _refused(item, exc)
        record_id = str(data.get("id") or item.record_id or "") or None
        return WriteOutcome(
            item.key, ok=True, record_id=record_id, created=not item.record_id, data=data
        )

    # -- calls -----------------------------------------------------------------------------

    def _send(
        self, kind: _Kind, method: str, path: str, body: Any, *, own: bool = False
    ) -> dict[str, Any]:
        response = send_json(self._client, method, path, body, tool=self.tool)
        if response.status_code == 200:
            answer = json_or_none(response)
            return answer if isinstance(answer, dict) else {}
        status = response.status_code
        if status in (409, *_GONE_STATUSES) or (
            classify_response(response, self._provider.errors) is ErrorClass.SKIP
        ):
            code, said = error_text(json_or_none(response))
            said = scrub(said, self._secrets)
            message = f"intercom refused the {kind.label} ({status}): {said}"
            raise _Refused(message, status, code, own=own)
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)


def _kind(entity: str) -> _Kind:
    try:
        return _KINDS[entity]
    except KeyError:
        message = f"the Intercom writer does not write {entity!r}"
        raise ConfigError(message, tool="intercom") from None


def _refused(item: WriteItem, exc: _Refused) -> WriteOutcome:
    gone = exc.own and exc.status in _GONE_STATUSES
    return WriteOutcome(item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone)


def _holder(message: str) -> str | None:
    match = _HOLDER.search(message)
    return match.group(1) if match else None
