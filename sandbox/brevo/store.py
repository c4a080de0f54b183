"""Brevo's contacts, lists and CRM objects, with Brevo's own write rules.

Why a module of its own: Brevo identifies a contact by any of email, SMS, EXT_ID or numeric id,
keeps attributes in UPPERCASE, refuses a second contact with the same email/SMS/EXT_ID
(``duplicate_parameter``) and lists by *creation* order even when filtering on modification
time. Those rules are what a connector trips over, so they live here, away from HTTP.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.store import RecordStore
from sandbox.timefmt import iso_ms_z, parse_instant_ms

__all__ = [
    "CONTACT_ATTRIBUTES",
    "BrevoData",
    "BrevoError",
    "CrmObjects",
    "brevo_time",
    "valid_email",
]

logger = logging.getLogger(__name__)

CONTACT_ATTRIBUTES = frozenset(
    {
        "EMAIL",
        "FIRSTNAME",
        "LASTNAME",
        "SMS",
        "WHATSAPP",
        "LANDLINE_NUMBER",
        "EXT_ID",
        "COMPANY",
        "JOB_TITLE",
        "LIFECYCLE",
        "CITY",
        "COUNTRY",
    }
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_RE = re.compile(r"^\+?[1-9]\d{5,14}$")


class BrevoError(Exception):
    """A Brevo API error: HTTP status plus the spec's ``errorModel`` code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def brevo_time(ms: int) -> str:
    """Brevo's timestamps: millisecond ISO with an explicit UTC offset."""
    return iso_ms_z(ms)[:-1] + "+00:00"


def valid_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value))


def _norm_phone(value: Any) -> str:
    text = re.sub(r"[\s\-().]", "", str(value))
    if not _PHONE_RE.match(text):
        raise BrevoError(400, "invalid_parameter", "Invalid phone number")
    return text if text.startswith("+") else "+" + text


@dataclass
class _Filtered:
    """A cached filtered, creation-ordered key list: paging a filter stays O(page)."""

    version: int
    keys: list[Any] = field(default_factory=list)


class CrmObjects:
    """Brevo CRM companies or deals: 24-hex ids, free-form attributes, linked contacts."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.store: RecordStore[str] = RecordStore()
        self.version = 0
        self._cache: dict[tuple[Any, ...], _Filtered] = {}

    def clear(self) -> None:
        self.store.clear()
        self.version += 1
        self._cache.clear()

    def put(self, record: dict[str, Any], mtime_ms: int) -> None:
        self.store.put(record["id"], record, mtime_ms)
        self.version += 1

    def create(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BrevoError(400, "missing_parameter", "name is required")
        attrs = body.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise BrevoError(400, "invalid_parameter", "attributes should be an object")
        name_key = "deal_name" if self.kind == "deals" else "name"
        record: dict[str, Any] = {
            "id": secrets.token_hex(12),
            "attributes": {
                **attrs,
                name_key: name,
                "created_at": brevo_time(now_ms),
                "last_updated_at": brevo_time(now_ms),
            },
            "linkedContactsIds": [int(i) for i in body.get("linkedContactsIds") or []],
        }
        if self.kind == "companies":
            record["linkedDealsIds"] = [str(i) for i in body.get("linkedDealsIds") or []]
        else:
            record["linkedCompaniesIds"] = [str(i) for i in body.get("linkedCompaniesIds") or []]
        self.put(record, now_ms)
        return record

    def update(self, record: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        attrs = body.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise BrevoError(400, "invalid_parameter", "attributes should be an object")
        record["attributes"].update(attrs)
        if isinstance(body.get("name"), str):
            record["attributes"]["deal_name" if self.kind == "deals" else "name"] = body["name"]
        for key in ("linkedContactsIds", "linkedContactIds"):
            if isinstance(body.get(key), list):
                record["linkedContactsIds"] = [int(i) for i in body[key]]
        record["attributes"]["last_updated_at"] = brevo_time(now_ms)
        self.put(record, now_ms)

    def link_unlink(self, record: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        """``PATCH /companies/link-unlink/{id}``: add and remove contacts and deals."""
        contacts = list(record["linkedContactsIds"])
        deals = list(record.get("linkedDealsIds") or [])
        for key, current, add in (
            ("linkContactIds", contacts, True),
            ("unlinkContactIds", contacts, False),
            ("linkDealsIds", deals, True),
            ("unlinkDealsIds", deals, False),
        ):
            given = body.get(key)
            if given is None:
                continue
            if not isinstance(given, list):
                raise BrevoError(400, "invalid_parameter", f"{key} should be an array")
            for raw in given:
                ref: Any = raw if "Deals" in key else _contact_id(raw)
                if add and ref not in current:
                    current.append(ref)
                elif not add and ref in current:
                    current.remove(ref)
        record["linkedContactsIds"] = contacts
        record["linkedDealsIds"] = deals
        record["attributes"]["number_of_contacts"] = len(contacts)
        record["attributes"]["last_updated_at"] = brevo_time(now_ms)
        self.put(record, now_ms)

    def delete(self, key: str) -> bool:
        found = self.store.remove(key) is not None
        self.version += 1
        return found

    def filtered(self, modified_ms: int | None, created_ms: int | None) -> list[str]:
        """Ids (creation order) modified/created strictly after the given instants."""
        cache_key = (modified_ms, created_ms)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.version == self.version:
            return cached.keys
        keys = _filter_keys(self.store, modified_ms, created_ms, "attributes", "created_at")
        self._cache = {cache_key: _Filtered(self.version, keys)}
        return keys


def _contact_id(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise BrevoError(400, "invalid_parameter", "contact ids should be integers")
    return int(raw)


def _filter_keys(
    store: RecordStore[Any],
    modified_ms: int | None,
    created_ms: int | None,
    nest: str | None,
    created_field: str,
) -> list[Any]:
    """Creation-ordered keys matching the filters, via the modification index."""
    if modified_ms is not None:
        lo, hi = store.mtime_range(modified_ms + 1, None)
        candidates = store.keys_by_mtime(lo, hi)
    else:
        candidates = list(store.iter_keys())
    if created_ms is not None:
        kept = []
        for key in candidates:
            rec = store.get(key)
            assert rec is not None
            created = (rec[nest] if nest else rec)[created_field]
            if parse_instant_ms(created) > created_ms:
                kept.append(key)
        candidates = kept
    candidates.sort(key=store.seq_of)
    return candidates


class BrevoData:
    """The Brevo account: contacts with their unique identifiers, lists, companies, deals."""

    def __init__(self) -> None:
        self.contacts: RecordStore[int] = RecordStore()
        self.by_email: dict[str, int] = {}
        self.by_sms: dict[str, int] = {}
        self.by_ext_id: dict[str, int] = {}
        self.lists: dict[int, dict[str, Any]] = {}
        self.members: dict[int, set[int]] = {}
        self.companies = CrmObjects("companies")
        self.deals = CrmObjects("deals")
        self.processes: dict[int, dict[str, Any]] = {}
        self.next_process_id = 1
        self.next_id = 1
        self.version = 0
        self._cache: dict[tuple[Any, ...], _Filtered] = {}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # -- lookup --------------------------------------------------------------------------

    def find(self, identifier: str, identifier_type: str | None) -> dict[str, Any] | None:
        """Resolve a path identifier the way Brevo does (type given, or guessed)."""
        kind = identifier_type
        if kind is None:
            if "@" in identifier:
                kind = "email_id"
            elif identifier.isdigit():
                kind = "contact_id"
            elif identifier.startswith("+"):
                kind = "phone_id"
            else:
                raise BrevoError(400, "invalid_parameter", "Invalid identifier")
        key: int | None
        if kind == "email_id":
            key = self.by_email.get(identifier.strip().lower())
        elif kind == "contact_id":
            key = int(identifier) if identifier.isdigit() else None
        elif kind == "ext_id":
            key = self.by_ext_id.get(identifier)
        elif kind == "phone_id":
            try:
                key = self.by_sms.get(_norm_phone(identifier))
            except BrevoError:
                key = None
        elif kind in {"whatsapp_id", "landline_number_id"}:
            key = None
        else:
            raise BrevoError(400, "invalid_parameter", "Invalid identifierType")
        return self.contacts.get(key) if key is not None else None

    # -- writes --------------------------------------------------------------------------

    def _conflict(self, index: dict[str, int], value: str | None, own: int | None) -> bool:
        return value is not None and index.get(value, own) != own

    def _prepare(
        self, current: dict[str, Any] | None, body: dict[str, Any], *, creating: bool
    ) -> tuple[str | None, dict[str, Any]]:
        """Validate a create/update body; returns (new email, uppercase attributes)."""
        raw_attrs = body.get("attributes") or {}
        if not isinstance(raw_attrs, dict):
            raise BrevoError(400, "invalid_parameter", "attributes should be an object")
        attrs: dict[str, Any] = {}
        for name, value in raw_attrs.items():
            upper = str(name).upper()
            if upper not in CONTACT_ATTRIBUTES:
                logger.debug("ignoring unknown Brevo attribute %s", upper)
                continue
            attrs[upper] = value
        if body.get("ext_id") is not None:
            attrs["EXT_ID"] = str(body["ext_id"])
        if attrs.get("SMS") not in (None, ""):
            attrs["SMS"] = _norm_phone(attrs["SMS"])
        email = body.get("email") if creating else attrs.pop("EMAIL", None)
        attrs.pop("EMAIL", None)
        if email is not None:
            if not isinstance(email, str) or not valid_email(email.strip()):
                raise BrevoError(400, "invalid_parameter", "Invalid email address")
            email = email.strip().lower()
        own = current["id"] if current else None
        if self._conflict(self.by_email, email, own):
            raise BrevoError(
                400,
                "duplicate_parameter",
                "Unable to update contact, email is already associated with another Contact",
            )
        if self._conflict(self.by_sms, attrs.get("SMS") or None, own):
            raise BrevoError(
                400,
                "duplicate_parameter",
                "Unable to update contact, SMS is already associated with another Contact",
            )
        if self._conflict(self.by_ext_id, attrs.get("EXT_ID") or None, own):
            raise BrevoError(
                400,
                "duplicate_parameter",
                "Unable to update contact, EXT_ID is already associated with another Contact",
            )
        for list_id in [*(body.get("listIds") or []), *(body.get("unlinkListIds") or [])]:
            if not isinstance(list_id, int) or list_id not in self.lists:
                raise BrevoError(400, "invalid_parameter", f"Invalid list id: {list_id}")
        return email, attrs

    def find_existing(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The contact a create body would collide with: email first, then EXT_ID, then SMS."""
        email = body.get("email")
        if isinstance(email, str) and email.strip():
            found = self.by_email.get(email.strip().lower())
            if found is not None:
                return self.contacts.get(found)
        attrs = {str(k).upper(): v for k, v in (body.get("attributes") or {}).items()}
        ext = body.get("ext_id") or attrs.get("EXT_ID")
        if ext is not None and str(ext) in self.by_ext_id:
            return self.contacts.get(self.by_ext_id[str(ext)])
        sms = attrs.get("SMS")
        if sms:
            try:
                key = self.by_sms.get(_norm_phone(sms))
            except BrevoError:
                key = None
            if key is not None:
                return self.contacts.get(key)
        return None

    def create(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        email, attrs = self._prepare(None, body, creating=True)
        if email is None and not attrs.get("SMS") and not attrs.get("EXT_ID"):
            raise BrevoError(400, "missing_parameter", "email, SMS or EXT_ID is required")
        record: dict[str, Any] = {
            "id": self.next_id,
            "emailBlacklisted": bool(body.get("emailBlacklisted", False)),
            "smsBlacklisted": bool(body.get("smsBlacklisted", False)),
            "createdAt": brevo_time(now_ms),
            "modifiedAt": brevo_time(now_ms),
            "listIds": [],
            "attributes": {},
        }
        self.next_id += 1
        self._apply(record, email, attrs, body, now_ms)
        return record

    def update(self, record: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        email, attrs = self._prepare(record, body, creating=False)
        self._apply(record, email, attrs, body, now_ms)

    def _apply(
        self,
        record: dict[str, Any],
        email: str | None,
        attrs: dict[str, Any],
        body: dict[str, Any],
        now_ms: int,
    ) -> None:
        cid = record["id"]
        if email is not None and email != record.get("email"):
            self.by_email.pop(record.get("email") or "", None)
            record["email"] = email
            self.by_email[email] = cid
        for name, value in attrs.items():
            index = {"SMS": self.by_sms, "EXT_ID": self.by_ext_id}.get(name)
            if index is not None and record["attributes"].get(name):
                index.pop(record["attributes"][name], None)
            if value in (None, ""):
                record["attributes"].pop(name, None)
                continue
            record["attributes"][name] = value
            if index is not None:
                index[value] = cid
        for flag in ("emailBlacklisted", "smsBlacklisted"):
            if isinstance(body.get(flag), bool):
                record[flag] = body[flag]
        for list_id in body.get("listIds") or []:
            self._join(record, list_id)
        for list_id in body.get("unlinkListIds") or []:
            self._leave(record, list_id)
        self.touch(record, now_ms)

    def touch(self, record: dict[str, Any], now_ms: int) -> None:
        record["modifiedAt"] = brevo_time(now_ms)
        self.contacts.put(record["id"], record, now_ms)
        self.version += 1

    def _join(self, record: dict[str, Any], list_id: int) -> None:
        if list_id not in record["listIds"]:
            record["listIds"].append(list_id)
        self.members.setdefault(list_id, set()).add(record["id"])

    def _leave(self, record: dict[str, Any], list_id: int) -> None:
        if list_id in record["listIds"]:
            record["listIds"].remove(list_id)
        self.members.get(list_id, set()).discard(record["id"])

    def add_to_list(self, list_id: int, record: dict[str, Any], now_ms: int) -> None:
        self._join(record, list_id)
        self.touch(record, now_ms)

    def remove_from_list(self, list_id: int, record: dict[str, Any], now_ms: int) -> bool:
        if list_id not in record["listIds"]:
            return False
        self._leave(record, list_id)
        self.touch(record, now_ms)
        return True

    def delete(self, record: dict[str, Any]) -> None:
        self.contacts.remove(record["id"])
        self.by_email.pop(record.get("email") or "", None)
        self.by_sms.pop(record["attributes"].get("SMS") or "", None)
        self.by_ext_id.pop(record["attributes"].get("EXT_ID") or "", None)
        for list_id in record["listIds"]:
            self.members.get(list_id, set()).discard(record["id"])
        self.version += 1

    def absorb(self, survivor: dict[str, Any], other: dict[str, Any], now_ms: int) -> None:
        """Brevo has no merge API: what an admin does with a duplicate. The survivor fills its
        blank attributes (and email) from the other contact and joins its lists; the other
        contact is deleted first, so its unique identifiers are free to move."""
        self.delete(other)
        cid = survivor["id"]
        if not survivor.get("email") and other.get("email"):
            survivor["email"] = other["email"]
            self.by_email[str(other["email"]).strip().lower()] = cid
        for name, value in other["attributes"].items():
            if survivor["attributes"].get(name) in (None, "") and value not in (None, ""):
                survivor["attributes"][name] = value
                index = {"SMS": self.by_sms, "EXT_ID": self.by_ext_id}.get(name)
                if index is not None:
                    index[value] = cid
        for list_id in other["listIds"]:
            self._join(survivor, list_id)
        self.touch(survivor, now_ms)

    # -- imports -------------------------------------------------------------------------

    def queue_import(self, body: dict[str, Any]) -> int:
        """Accept a ``jsonBody`` import as a background process; rows are applied when the
        process completes (:meth:`advance_process`), not when it is accepted."""
        rows = body.get("jsonBody")
        if not isinstance(rows, list) or not rows:
            raise BrevoError(
                400, "missing_parameter", "One of fileUrl, fileBody or jsonBody is required"
            )
        list_ids = body.get("listIds")
        if not body.get("newList") and (not isinstance(list_ids, list) or not list_ids):
            raise BrevoError(400, "missing_parameter", "listIds or newList is required")
        for list_id in list_ids or []:
            if not isinstance(list_id, int) or list_id not in self.lists:
                raise BrevoError(400, "invalid_parameter", f"Invalid list id: {list_id}")
        pid = self.next_process_id
        self.next_process_id += 1
        self.processes[pid] = {"id": pid, "status": "queued", "name": "IMPORTUSER", "body": body}
        return pid

    def advance_process(self, pid: int, now_ms: int) -> dict[str, Any]:
        """One step of a process as a poll sees it: queued, then in_process, then completed
        (the import's rows are applied at that moment)."""
        process = self.processes.get(pid)
        if process is None:
            raise BrevoError(404, "invalid_parameter", "processId is invalid")
        if process["status"] == "queued":
            process["status"] = "in_process"
        elif process["status"] == "in_process":
            self._run_import(process.pop("body"), now_ms)
            process["status"] = "completed"
        return {k: process[k] for k in ("id", "status", "name")}

    def _run_import(self, body: dict[str, Any], now_ms: int) -> None:
        """Import rows the way Brevo does: unknown attributes ignored, a row it cannot take
        (bad email, bad SMS, an identifier another contact holds) skipped without an error in
        the API (Brevo reports those only in the import's notification)."""
        update_existing = body.get("updateExistingContacts", True) is not False
        erase = update_existing and body.get("emptyContactsAttributes") is True
        list_ids = [int(i) for i in body.get("listIds") or []]
        for row in body["jsonBody"]:
            if not isinstance(row, dict):
                continue
            attrs = row.get("attributes") or {}
            if not isinstance(attrs, dict):
                continue
            if not erase:
                attrs = {k: v for k, v in attrs.items() if v not in (None, "")}
            email = row.get("email")
            item = {"attributes": attrs, "listIds": list_ids}
            try:
                key = self.by_email.get(email.strip().lower()) if isinstance(email, str) else None
                if key is None:
                    self.create({**item, "email": email}, now_ms)
                elif update_existing:
                    self.update(self.contacts.get(key) or {}, item, now_ms)
            except BrevoError as err:
                logger.info("brevo import skipped a row: %s", err.message)

    def load_contact(self, record: dict[str, Any], mtime_ms: int) -> None:
        """Seeding: put a ready-made contact and index it (no validation: seeds are messy)."""
        cid = int(record["id"])
        self.contacts.put(cid, record, mtime_ms)
        if record.get("email"):
            self.by_email[str(record["email"]).strip().lower()] = cid
        if record["attributes"].get("SMS"):
            self.by_sms[record["attributes"]["SMS"]] = cid
        if record["attributes"].get("EXT_ID"):
            self.by_ext_id[record["attributes"]["EXT_ID"]] = cid
        for list_id in record.get("listIds", []):
            self.members.setdefault(list_id, set()).add(cid)
        self.next_id = max(self.next_id, cid + 1)
        self.version += 1

    def add_list(self, list_id: int, name: str, created_ms: int, folder_id: int = 1) -> None:
        self.lists[list_id] = {
            "id": list_id,
            "name": name,
            "folderId": folder_id,
            "createdAt": brevo_time(created_ms),
        }
        self.members.setdefault(list_id, set())

    def list_json(self, list_id: int) -> dict[str, Any]:
        members = self.members.get(list_id, set())
        blacklisted = sum(
            1 for cid in members if (self.contacts.get(cid) or {}).get("emailBlacklisted")
        )
        return {
            **self.lists[list_id],
            "totalBlacklisted": blacklisted,
            "totalSubscribers": len(members) - blacklisted,
            "uniqueSubscribers": len(members),
        }

    # -- reads ---------------------------------------------------------------------------

    def filtered(
        self, modified_ms: int | None, created_ms: int | None, list_id: int | None = None
    ) -> list[int]:
        """Contact ids, creation order, matching the filters (cached per data version)."""
        cache_key = (modified_ms, created_ms, list_id)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.version == self.version:
            return cached.keys
        keys: list[int] = _filter_keys(self.contacts, modified_ms, created_ms, None, "createdAt")
        if list_id is not None:
            members = self.members.get(list_id, set())
            keys = [k for k in keys if k in members]
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[cache_key] = _Filtered(self.version, keys)
        return keys
