"""Freshdesk contacts, companies and tickets in memory, with Freshdesk's write rules.

Kept apart from the routes so the seed loader and the HTTP handlers share the same rules:
unique contact emails (primary and other), unique company names, contacts needing one identity
field, tickets creating their requester from an unknown email, merges that delete the
secondaries and move their tickets. Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.store import RecordStore
from sandbox.timefmt import parse_instant_ms

__all__ = [
    "COMPANY_FIELDS",
    "CONTACT_FIELDS",
    "TICKET_FIELDS",
    "FieldError",
    "FreshdeskData",
    "FreshdeskError",
    "fd_time",
    "parse_since",
]

CONTACT_FIELDS = frozenset(
    {
        "name",
        "email",
        "phone",
        "mobile",
        "twitter_id",
        "unique_external_id",
        "other_emails",
        "company_id",
        "view_all_tickets",
        "address",
        "description",
        "job_title",
        "language",
        "time_zone",
        "tags",
        "custom_fields",
        "avatar",
    }
)
COMPANY_FIELDS = frozenset(
    {
        "name",
        "description",
        "note",
        "domains",
        "health_score",
        "account_tier",
        "renewal_date",
        "industry",
        "custom_fields",
    }
)
_PENDING, _RESOLVED, _CLOSED = 3, 4, 5
_STATS = (
    "agent_responded_at",
    "requester_responded_at",
    "first_responded_at",
    "status_updated_at",
    "reopened_at",
    "resolved_at",
    "closed_at",
    "pending_since",
)
TICKET_FIELDS = frozenset(
    {
        "subject",
        "description",
        "email",
        "phone",
        "name",
        "requester_id",
        "twitter_id",
        "unique_external_id",
        "status",
        "priority",
        "source",
        "type",
        "responder_id",
        "group_id",
        "product_id",
        "company_id",
        "cc_emails",
        "tags",
        "custom_fields",
        "due_by",
        "fr_due_by",
    }
)
_IDENTITY = ("email", "phone", "mobile", "twitter_id", "unique_external_id")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")


@dataclass
class FieldError:
    field: str
    message: str
    code: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class FreshdeskError(Exception):
    """A Freshdesk error: validation (`errors` list) or a plain `{code, message}` body."""

    def __init__(
        self,
        status: int,
        errors: list[FieldError] | None = None,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(message or (errors[0].message if errors else str(status)))
        self.status = status
        self.errors = errors or []
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any] | None:
        if self.errors:
            return {
                "description": "Validation failed",
                "errors": [e.to_json() for e in self.errors],
            }
        if self.code:
            return {"code": self.code, "message": self.message or ""}
        return None


def fd_time(ms: int) -> str:
    """Freshdesk timestamps: ISO 8601 UTC with second precision, `Z` suffix."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(field_name: str, message: str, code: str = "invalid_value") -> FreshdeskError:
    return FreshdeskError(400, [FieldError(field_name, message, code)])


def _unknown_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = [FieldError(k, "Unexpected/invalid field in request", "invalid_field") for k in body]
    extra = [e for e in extra if e.field not in allowed]
    if extra:
        raise FreshdeskError(400, extra)


def _check_email(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL_RE.match(value.strip()):
        raise _invalid(field_name, "It should be in the 'valid email address' format")
    return value.strip().lower()


@dataclass
class _CreatedIndex:
    """(created ms, id) sorted, for 'created in the last 30 days, newest first' listings."""

    items: list[tuple[int, int]] = field(default_factory=list)

    def add(self, created_ms: int, key: int) -> None:
        bisect.insort(self.items, (created_ms, key))

    def remove(self, created_ms: int, key: int) -> None:
        i = bisect.bisect_left(self.items, (created_ms, key))
        if i < len(self.items) and self.items[i] == (created_ms, key):
            del self.items[i]


class FreshdeskData:
    """The helpdesk: three stores keyed by integer id, plus the unique indexes."""

    def __init__(self) -> None:
        self.contacts: RecordStore[int] = RecordStore()
        self.companies: RecordStore[int] = RecordStore()
        self.tickets: RecordStore[int] = RecordStore()
        self.ticket_created = _CreatedIndex()
        self.emails: dict[str, int] = {}
        self.company_names: dict[str, int] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deleted_contacts = 0
        self._next_id = {"contact": 1_000_000_001, "company": 2_000_000_001, "ticket": 1}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def _new_id(self, kind: str, wanted: int | None) -> int:
        if wanted is not None:
            self._next_id[kind] = max(self._next_id[kind], wanted + 1)
            return wanted
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    # -- contacts --------------------------------------------------------------------------

    def _contact_emails(self, rec: dict[str, Any]) -> list[str]:
        found = [rec.get("email") or "", *rec.get("other_emails", [])]
        return [e.lower() for e in found if e]

    def _check_contact(self, body: dict[str, Any], current: dict[str, Any] | None) -> None:
        _unknown_fields(body, CONTACT_FIELDS)
        merged = {**(current or {}), **body}
        if not any(merged.get(k) for k in _IDENTITY):
            raise _invalid(
                "requester_id",
                "Please fill at least 1 of email, mobile, phone, twitter_id, "
                "unique_external_id fields",
                "missing_field",
            )
        if "name" in body and not str(body["name"] or "").strip():
            raise _invalid("name", "It should not be blank as this is a mandatory field")
        own = current["id"] if current else None
        candidates = []
        if body.get("email") is not None:
            candidates.append(("email", _check_email("email", body["email"])))
        for other in body.get("other_emails") or []:
            candidates.append(("other_emails", _check_email("other_emails", other)))
        for field_name, email in candidates:
            holder = self.emails.get(email)
            if holder is not None and holder != own:
                raise FreshdeskError(
                    409, [FieldError(field_name, "It should be a unique value", "duplicate_value")]
                )
        company = body.get("company_id")
        if company is not None and company not in self.companies:
            raise _invalid("company_id", "There is no company matching the given company_id")

    def create_contact(
        self,
        body: dict[str, Any],
        now_ms: int,
        *,
        contact_id: int | None = None,
        created_ms: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        if not seeding:
            self._check_contact(body, None)
        key = self._new_id("contact", contact_id)
        email = body.get("email")
        rec: dict[str, Any] = {
            "id": key,
            "active": bool(body.get("active", False)),
            "address": None,
            "avatar": None,
            "company_id": None,
            "view_all_tickets": False,
            "deleted": False,
            "description": None,
            "email": None,
            "job_title": None,
            "language": "en",
            "mobile": None,
            "name": "",
            "phone": None,
            "time_zone": "Eastern Time (US & Canada)",
            "twitter_id": None,
            "unique_external_id": None,
            "other_emails": [],
            "tags": [],
            "custom_fields": {},
        }
        rec.update({k: v for k, v in body.items() if k in CONTACT_FIELDS or seeding})
        if isinstance(email, str):
            rec["email"] = email.strip().lower() if not seeding else email
        if not rec["name"]:
            rec["name"] = (rec["email"] or rec["phone"] or rec["mobile"] or "").split("@")[0]
        created = now_ms if created_ms is None else created_ms
        rec["_created_ms"] = created
        self.contacts.put(key, rec, now_ms)
        for e in self._contact_emails(rec):
            self.emails.setdefault(e, key)
        return rec

    def update_contact(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        self._check_contact(body, rec)
        for e in self._contact_emails(rec):
            if self.emails.get(e) == rec["id"]:
                del self.emails[e]
        for k, v in body.items():
            if k == "email" and isinstance(v, str):
                v = v.strip().lower()
            if k == "other_emails" and isinstance(v, list):
                v = [str(x).strip().lower() for x in v]
            rec[k] = v
        for e in self._contact_emails(rec):
            self.emails[e] = rec["id"]
        self.contacts.put(rec["id"], rec, now_ms)

    def delete_contact(self, rec: dict[str, Any], now_ms: int) -> None:
        """Soft delete: still readable by id, hidden from lists and lookups."""
        if not rec["deleted"]:
            self.deleted_contacts += 1
        rec["deleted"] = True
        self.contacts.put(rec["id"], rec, now_ms)

    def merge_contacts(
        self, primary: dict[str, Any], secondaries: list[dict[str, Any]], now_ms: int
    ) -> None:
        """Secondaries vanish (404), their emails join the primary, their tickets move."""
        moved: set[int] = {s["id"] for s in secondaries}
        for sec in secondaries:
            for e in self._contact_emails(sec):
                self.emails[e] = primary["id"]
                if e != (primary.get("email") or "") and e not in primary["other_emails"]:
                    primary["other_emails"].append(e)
            for k in ("phone", "mobile", "twitter_id", "company_id", "job_title"):
                if not primary.get(k) and sec.get(k):
                    primary[k] = sec[k]
            self.contacts.remove(sec["id"])
        for tid in list(self.tickets.iter_keys()):
            ticket = self.tickets.get(tid)
            if ticket is not None and ticket["requester_id"] in moved:
                ticket["requester_id"] = primary["id"]
                self.tickets.put(tid, ticket, now_ms)
        self.contacts.put(primary["id"], primary, now_ms)

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        key = self.emails.get(email.strip().lower())
        rec = self.contacts.get(key) if key is not None else None
        return rec if rec is not None and not rec["deleted"] else None

    # -- companies -------------------------------------------------------------------------

    def create_company(
        self,
        body: dict[str, Any],
        now_ms: int,
        *,
        company_id: int | None = None,
        created_ms: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        if not seeding:
            self._check_company(body, None)
        key = self._new_id("company", company_id)
        rec: dict[str, Any] = {
            "id": key,
            "name": "",
            "description": None,
            "note": None,
            "domains": [],
            "health_score": None,
            "account_tier": None,
            "renewal_date": None,
            "industry": None,
            "custom_fields": {},
        }
        rec.update(body)
        rec["_created_ms"] = now_ms if created_ms is None else created_ms
        self.companies.put(key, rec, now_ms)
        self.company_names.setdefault(str(rec["name"]).lower(), key)
        return rec

    def _check_company(self, body: dict[str, Any], current: dict[str, Any] | None) -> None:
        _unknown_fields(body, COMPANY_FIELDS)
        if current is None and not str(body.get("name") or "").strip():
            raise _invalid(
                "name", "It should not be blank as this is a mandatory field", "missing_field"
            )
        if "name" in body:
            holder = self.company_names.get(str(body["name"]).strip().lower())
            if holder is not None and (current is None or holder != current["id"]):
                raise FreshdeskError(
                    409, [FieldError("name", "It should be a unique value", "duplicate_value")]
                )
        domains = body.get("domains")
        if domains is not None and not isinstance(domains, list):
            raise _invalid("domains", "It should be a/an Array", "datatype_mismatch")

    def update_company(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        self._check_company(body, rec)
        if "name" in body:
            self.company_names.pop(str(rec["name"]).lower(), None)
            self.company_names[str(body["name"]).strip().lower()] = rec["id"]
        rec.update(body)
        self.companies.put(rec["id"], rec, now_ms)

    def delete_company(self, rec: dict[str, Any]) -> None:
        """Hard delete; contacts and tickets keep no dangling company id."""
        self.companies.remove(rec["id"])
        self.company_names.pop(str(rec["name"]).lower(), None)
        for store in (self.contacts, self.tickets):
            for key in list(store.iter_keys()):
                other = store.get(key)
                if other is not None and other.get("company_id") == rec["id"]:
                    other["company_id"] = None

    # -- tickets ---------------------------------------------------------------------------

    def _requester(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """The requester by id, or found/created from email, phone, twitter or external id."""
        if body.get("requester_id") is not None:
            rec = self.contacts.get(body["requester_id"])
            if rec is None:
                raise _invalid(
                    "requester_id", "There is no contact matching the given requester_id"
                )
            return rec
        if body.get("email"):
            email = _check_email("email", body["email"])
            found = self.contact_by_email(email)
            if found is not None:
                return found
            return self.create_contact(
                {"email": email, "name": body.get("name") or email.split("@")[0]}, now_ms
            )
        for k in ("phone", "twitter_id", "unique_external_id"):
            if body.get(k):
                for key in self.contacts.iter_keys():
                    rec = self.contacts.get(key)
                    if rec is not None and rec.get(k) == body[k]:
                        return rec
                if k == "phone" and not body.get("name"):
                    raise _invalid("name", "It should be a/an String", "missing_field")
                return self.create_contact(
                    {k: body[k], "name": body.get("name") or body[k]}, now_ms
                )
        raise _invalid(
            "requester_id",
            "Please fill at least 1 of requester_id, phone, email, twitter_id, "
            "unique_external_id fields",
            "missing_field",
        )

    def _check_ticket(self, body: dict[str, Any], create: bool) -> None:
        _unknown_fields(body, TICKET_FIELDS)
        if create and not str(body.get("subject") or "").strip():
            raise _invalid(
                "subject", "It should not be blank as this is a mandatory field", "missing_field"
            )
        for name, choices in (("status", (2, 3, 4, 5)), ("priority", (1, 2, 3, 4))):
            if name in body and body[name] not in choices:
                raise _invalid(
                    name, f"It should be one of these values: '{','.join(map(str, choices))}'"
                )
        company = body.get("company_id")
        if company is not None and company not in self.companies:
            raise _invalid("company_id", "There is no company matching the given company_id")

    def create_ticket(
        self,
        body: dict[str, Any],
        now_ms: int,
        *,
        ticket_id: int | None = None,
        created_ms: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        if not seeding:
            self._check_ticket(body, create=True)
            requester = self._requester(body, now_ms)
        else:
            requester = self.contacts.get(body["requester_id"]) or {"id": body["requester_id"]}
        key = self._new_id("ticket", ticket_id)
        created = now_ms if created_ms is None else created_ms
        rec: dict[str, Any] = {
            "id": key,
            "subject": body.get("subject", ""),
            "description": body.get("description", ""),
            "description_text": re.sub(r"<[^>]+>", "", str(body.get("description", ""))),
            "status": body.get("status", 2),
            "priority": body.get("priority", 1),
            "source": body.get("source", 2),
            "type": body.get("type"),
            "requester_id": requester["id"],
            "responder_id": body.get("responder_id"),
            "group_id": body.get("group_id"),
            "product_id": body.get("product_id"),
            "company_id": body.get("company_id", requester.get("company_id")),
            "email_config_id": None,
            "cc_emails": list(body.get("cc_emails") or []),
            "fwd_emails": [],
            "reply_cc_emails": list(body.get("cc_emails") or []),
            "to_emails": None,
            "tags": list(body.get("tags") or []),
            "custom_fields": dict(body.get("custom_fields") or {}),
            "fr_escalated": False,
            "spam": False,
            "is_escalated": False,
            "due_by": fd_time(created + 3 * 86_400_000),
            "fr_due_by": fd_time(created + 86_400_000),
            "_created_ms": created,
            "_stats": {name: None for name in _STATS},
        }
        self._restate(rec, None, now_ms)
        self.tickets.put(key, rec, now_ms)
        self.ticket_created.add(created, key)
        return rec

    def update_ticket(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        self._check_ticket(body, create=False)
        before = rec["status"]
        for k, v in body.items():
            rec[k] = v
        if rec["status"] != before:
            self._restate(rec, before, now_ms)
        self.tickets.put(rec["id"], rec, now_ms)

    @staticmethod
    def _restate(rec: dict[str, Any], before: int | None, now_ms: int) -> None:
        """The stats a status change stamps (``include=stats``): resolving sets resolved_at,
        closing closed_at (and resolved_at if it was never resolved), reopening reopened_at."""
        stats, at, status = rec["_stats"], fd_time(now_ms), rec["status"]
        stats["status_updated_at"] = at
        if status == _RESOLVED:
            stats["resolved_at"] = at
        elif status == _CLOSED:
            stats["closed_at"] = at
            stats["resolved_at"] = stats["resolved_at"] or at
        elif status == _PENDING:
            stats["pending_since"] = at
        if before in (_RESOLVED, _CLOSED) and status not in (_RESOLVED, _CLOSED):
            stats["reopened_at"] = at

    def delete_ticket(self, rec: dict[str, Any]) -> None:
        self.tickets.remove(rec["id"])
        self.ticket_created.remove(rec["_created_ms"], rec["id"])

    # -- JSON ------------------------------------------------------------------------------

    def to_json(
        self, store: RecordStore[int], rec: dict[str, Any], *, stats: bool = False
    ) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_")}
        out["created_at"] = fd_time(rec["_created_ms"])
        out["updated_at"] = fd_time(store.mtime(rec["id"]))
        if stats and "_stats" in rec:
            out["stats"] = dict(rec["_stats"])
        return out


def parse_since(value: str) -> int:
    """An `updated_since` value (ISO date or date-time, UTC) in ms, or ValueError."""
    return parse_instant_ms(value)
