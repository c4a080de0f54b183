"""Aircall write side: shared contacts (person), one contact a call.

Aircall has no bulk endpoint, no upsert and no idempotency key, and it refuses a contact
without a phone number. An unlinked person is therefore looked up before it is created: by
email, then by number (``GET /v1/contacts/search``); found, it is updated, not found,
created (``POST /v1/contacts``). A create replayed after a crash (Aircall made the
contact, we never stored its id) finds the contact by its email or number instead of making
another.

Aircall keeps numbers and addresses as lists of ``{label, value}``. A create sends ours as the
lists' one item. An update changes names and company with ``POST /v1/contacts/{id}`` (which
ignores the lists); a create that found its contact also adds the number or address the
contact lacks through ``/phone_details`` / ``/email_details``, never removing the ones a user
typed. A linked
contact answered ``404`` was deleted in Aircall (or merged by a user): a ``gone`` outcome.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from connectors.calls import json_or_none, send_json, write_failed
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub, vendor_message
from connectors.values import text_or_none
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["AircallWriter"]

logger = logging.getLogger(__name__)

_CONTACTS = "/v1/contacts"
_LABEL = "Work"
_NAMES = ("first_name", "last_name", "company_name", "information")
_HINTS = {
    401: "Aircall refused the API key: check REVSYNC_AIRCALL_API_ID and REVSYNC_AIRCALL_API_TOKEN",
    403: "the API key was revoked, or the company's plan has no API access",
}


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


class _Refused(Exception):
    """Aircall refused this contact (a 4xx about its content): an ``ok=False`` outcome."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AircallWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Aircall shared contacts."""

    tool = "aircall"

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """A lookup and a call or two per item; one outcome per item, in input order."""
        if entity != "person":
            raise ConfigError(f"the Aircall writer does not write {entity!r}", tool=self.tool)
        return [self._write(item) for item in items]

    def _write(self, item: WriteItem) -> WriteOutcome:
        body = dict(item.properties)
        phone = text_or_none(body.pop("phone", None))
        email = text_or_none(body.pop("email", None))
        names = {k: v for k, v in body.items() if k in _NAMES}
        try:
            if item.record_id:
                data = self._update(item.record_id, names, phone, email)
                return self._done(item, data, created=False)
            if phone is None and item.key.startswith("+"):
                phone = item.key  # the natural key is the number
            found = self._lookup(phone, email)
            if found is not None and (refused := self.claimed(item, found, "contact")):
                return refused
            if found is not None:
                logger.info("aircall: contact %s already holds the number or email", found)
                return self._done(item, self._update(found, names, phone, email), created=False)
            if phone is None:
                return WriteOutcome(
                    item.key, ok=False, error="Aircall needs a phone number to create a contact"
                )
            create: dict[str, Any] = {
                **names,
                "phone_numbers": [{"label": _LABEL, "value": phone}],
            }
            if email:
                create["emails"] = [{"label": _LABEL, "value": email}]
            data = self._contact(send_json(self._client, "POST", _CONTACTS, create, tool=self.tool))
            return self._done(item, data, created=True)
        except _Refused as exc:
            gone = bool(item.record_id) and exc.status in (404, 410)
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone
            )

    def _update(
        self, record_id: str, names: dict[str, Any], phone: str | None, email: str | None
    ) -> dict[str, Any]:
        """Names and company first (the answer is the contact), then the number and address
        it lacks."""
        path = f"{_CONTACTS}/{record_id}"
        if names:
            data = self._contact(send_json(self._client, "POST", path, names, tool=self.tool))
        else:
            data = self._contact(send_json(self._client, "GET", path, None, tool=self.tool))
        held_phones = {_digits(str(p.get("value") or "")) for p in data.get("phone_numbers") or []}
        if phone and _digits(phone) not in held_phones:
            detail = {"label": _LABEL, "value": phone}
            response = send_json(
                self._client, "POST", f"{path}/phone_details", detail, tool=self.tool
            )
            data = self._contact(response)
        held_emails = {str(e.get("value") or "").lower() for e in data.get("emails") or []}
        if email and email.lower() not in held_emails:
            detail = {"label": _LABEL, "value": email}
            response = send_json(
                self._client, "POST", f"{path}/email_details", detail, tool=self.tool
            )
            data = self._contact(response)
        return data

    def _lookup(self, phone: str | None, email: str | None) -> str | None:
        """The contact holding the email, else the number. A contact found by number that
        lists other addresses but not ours is someone else on a shared line (a switchboard):
        passed over, so a create never overwrites a colleague."""
        if email:
            for contact in self._search("email", email):
                return str(contact["id"])
        if phone:
            for contact in self._search("phone_number", phone):
                held = {str(e.get("value") or "").lower() for e in contact.get("emails") or []}
                held.discard("")
                if email and held and email.lower() not in held:
                    continue
                return str(contact["id"])
        return None

    def _search(self, name: str, value: str) -> list[dict[str, Any]]:
        """``GET /v1/contacts/search`` by one number or address, oldest contact first."""
        response = send_json(
            self._client,
            "GET",
            f"{_CONTACTS}/search",
            None,
            tool=self.tool,
            params={name: value, "order": "asc"},
        )
        if response.status_code != 200:
            self._refuse(response)
        body = json_or_none(response)
        found = body.get("contacts") if isinstance(body, dict) else None
        return [c for c in found or [] if isinstance(c, dict) and c.get("id") is not None]

    def find_survivor(self, phone: str) -> str | None:
        """The contact holding ``phone`` now (a user merged duplicates in the app), if any."""
        try:
            return self._lookup(phone, None) if phone.strip() else None
        except _Refused:
            return None

    # -- shared ----------------------------------------------------------------------------

    def _done(self, item: WriteItem, data: dict[str, Any], *, created: bool) -> WriteOutcome:
        rid = data.get("id")
        if rid is None:
            error = "Aircall answered no contact id"
            return WriteOutcome(item.key, ok=False, record_id=item.record_id, error=error)
        return WriteOutcome(item.key, ok=True, record_id=str(rid), created=created, data=data)

    def _contact(self, response: httpx.Response) -> dict[str, Any]:
        """The ``contact`` of a 200/201 answer; a refusal raises :class:`_Refused`, anything
        else that failed after retries ``WriteFailed``."""
        if response.status_code in (200, 201):
            body = json_or_none(response)
            contact = body.get("contact") if isinstance(body, dict) else None
            return contact if isinstance(contact, dict) else {}
        self._refuse(response)
        return {}  # not reached: _refuse raises

    def _refuse(self, response: httpx.Response) -> None:
        if classify_response(response, self._provider.errors) is not ErrorClass.SKIP:
            raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)
        said = vendor_message(response, rules=self._provider.errors)
        body = json_or_none(response)
        kind = body.get("error") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind and kind != said:
            said = f"{kind}: {said}"  # "Invalid phone number: 12 is not a valid phone number"
        status = response.status_code
        raise _Refused(
            scrub(f"aircall refused the contact ({status}): {said}", self._secrets), status
        )
