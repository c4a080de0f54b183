"""Intercom contacts, companies and conversations in memory, with Intercom's rules and its
search semantics.

Kept apart from the routes so the seed loader shares the rules: users unique by email and
`external_id` (leads are not), lead-into-user merges that make the lead vanish and hand its
conversations to the user, companies upserted by `company_id`, and search where date fields
match by calendar day (UTC workspace). Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sandbox.credentials import SANDBOX_INTERCOM_WORKSPACE_ID
from sandbox.store import RecordStore

__all__ = [
    "APP_ID",
    "CONTACT_WRITABLE",
    "CONVERSATION_DATE_FIELDS",
    "DATE_FIELDS",
    "IntercomData",
    "IntercomError",
    "empty_statistics",
    "matches",
]

APP_ID = SANDBOX_INTERCOM_WORKSPACE_ID
CONTACT_WRITABLE = frozenset(
    {
        "role",
        "external_id",
        "email",
        "phone",
        "name",
        "avatar",
        "signed_up_at",
        "last_seen_at",
        "owner_id",
        "unsubscribed_from_emails",
        "custom_attributes",
        "email_verified",
    }
)
DATE_FIELDS = frozenset({"created_at", "updated_at", "signed_up_at", "last_seen_at"})
CONVERSATION_DATE_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "waiting_since",
        "snoozed_until",
        "statistics.first_close_at",
        "statistics.last_close_at",
    }
)
_STRING_FIELDS = frozenset({"id", "role", "name", "email", "email_domain", "phone", "external_id"})
_DAY = 86_400


class IntercomError(Exception):
    """An Intercom error list entry with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _day_start(ts: int) -> int:
    return ts - ts % _DAY


def _search_value(rec: dict[str, Any], field: str) -> Any:
    if field == "email_domain":
        email = rec.get("email") or ""
        return email.split("@", 1)[1] if "@" in email else ""
    if field.startswith("custom_attributes."):
        return (rec.get("custom_attributes") or {}).get(field.split(".", 1)[1])
    if field.startswith("location."):
        return (rec.get("location") or {}).get(field.split(".", 1)[1])
    return rec.get(field)


def _leaf(
    rec: dict[str, Any], field: str, op: str, value: Any, date_fields: frozenset[str]
) -> bool:
    have = _search_value(rec, field)
    if field in date_fields:
        if have is None:
            return False
        day = _day_start(int(value))
        if op == "=":
            return bool(day <= have < day + _DAY)
        if op == ">":
            return bool(have >= day + _DAY)
        return bool(have < day)  # "<"
    if op in ("IN", "NIN"):
        inside = any(_eq(have, v) for v in value)
        return inside if op == "IN" else not inside
    if op == "=":
        return _eq(have, value)
    if op == "!=":
        return not _eq(have, value)
    if op in (">", "<", ">=", "<="):
        if not isinstance(have, int | float):
            return False
        return {">": have > value, "<": have < value, ">=": have >= value, "<=": have <= value}[op]
    text, needle = str(have or "").lower(), str(value).lower()
    return {
        "~": needle in text,
        "!~": needle not in text,
        "^": text.startswith(needle),
        "$": text.endswith(needle),
    }[op]


def _eq(have: Any, value: Any) -> bool:
    if isinstance(have, list):  # a list attribute (contact_ids) matches any of its members
        return any(_eq(item, value) for item in have)
    if value is None:
        return have in (None, "")
    if isinstance(have, str) and isinstance(value, str):
        return have.lower() == value.lower()
    return bool(have == value)


def validate_query(query: Any, depth: int = 0, date_fields: frozenset[str] = DATE_FIELDS) -> None:
    """Reject what Intercom rejects: unknown operators, date operators it lacks, deep nesting."""
    if not isinstance(query, dict):
        raise IntercomError(400, "parameter_invalid", "query must be an object", "query")
    op = query.get("operator")
    if op in ("AND", "OR"):
        if depth >= 2:
            raise IntercomError(400, "parameter_invalid", "Maximum nesting of 2 exceeded", "query")
        items = query.get("value")
        if not isinstance(items, list) or not items or len(items) > 15:
            raise IntercomError(400, "parameter_invalid", "AND/OR needs 1 to 15 filters", "query")
        for item in items:
            validate_query(item, depth + 1, date_fields)
        return
    field = query.get("field")
    if not isinstance(field, str) or not field:
        raise IntercomError(400, "parameter_invalid", "field is required", "query.field")
    valid = {"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"}
    if op not in valid:
        raise IntercomError(400, "parameter_invalid", f"Operator {op!r} is not valid", "query")
    value = query.get("value")
    if field in date_fields:
        if op not in ("=", "<", ">"):
            raise IntercomError(
                400,
                "parameter_invalid",
                f"Operator {op} is not supported for field {field} of type date",
                "query",
            )
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise IntercomError(
                400, "parameter_invalid", f"{field} accepts a UNIX timestamp", "query.value"
            )
        query["value"] = int(value)
    if op in ("IN", "NIN") and not isinstance(value, list):
        raise IntercomError(400, "parameter_invalid", "IN and NIN need an array", "query.value")


def matches(
    rec: dict[str, Any], query: dict[str, Any], date_fields: frozenset[str] = DATE_FIELDS
) -> bool:
    """Does a (validated) query tree match this record's search view?"""
    op = query["operator"]
    if op == "AND":
        return all(matches(rec, q, date_fields) for q in query["value"])
    if op == "OR":
        return any(matches(rec, q, date_fields) for q in query["value"])
    return _leaf(rec, query["field"], op, query.get("value"), date_fields)


class IntercomData:
    """Contacts and companies keyed by Intercom's hex ids, conversations by their numeric
    string ids; `merged` maps old id -> survivor."""

    def __init__(self) -> None:
        self.contacts: RecordStore[str] = RecordStore()
        self.companies: RecordStore[str] = RecordStore()
        self.conversations: RecordStore[str] = RecordStore()
        self.next_conversation = 1
        self.user_emails: dict[str, str] = {}
        self.external_ids: dict[str, str] = {}
        self.company_keys: dict[str, str] = {}
        self.merged: dict[str, str] = {}
        self.merged_external_ids: dict[str, str] = {}
        self.scrolls: dict[str, int] = {}
        self._ids = itertools.count(1)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):022x}"

    # -- contacts --------------------------------------------------------------------------

    def _index(self, rec: dict[str, Any], add: bool) -> None:
        if rec["role"] != "user":
            return
        for table, value in (
            (self.user_emails, (rec.get("email") or "").lower()),
            (self.external_ids, rec.get("external_id") or ""),
        ):
            if not value:
                continue
            if add:
                table.setdefault(value, rec["id"])
            elif table.get(value) == rec["id"]:
                del table[value]

    def _check(self, body: dict[str, Any], current: dict[str, Any] | None) -> None:
        unknown = [k for k in body if k not in CONTACT_WRITABLE]
        if unknown:
            raise IntercomError(
                400, "parameter_invalid", f"{unknown[0]} is not a valid parameter", unknown[0]
            )
        role = body.get("role", (current or {}).get("role", "user"))
        if role not in ("user", "lead"):
            raise IntercomError(400, "parameter_invalid", "role must be user or lead", "role")
        if current is None and not any(body.get(k) for k in ("email", "external_id", "role")):
            raise IntercomError(
                400,
                "parameter_invalid",
                "Contacts must have an email, external_id or role",
            )
        if role != "user":
            return
        own = current["id"] if current else None
        email = (body.get("email") or "").strip().lower()
        holder = self.user_emails.get(email) if email else None
        external = body.get("external_id")
        if holder is None and external:
            holder = self.external_ids.get(str(external))
        if holder is not None and holder != own:
            raise IntercomError(
                409, "conflict", f"A contact matching those details already exists with id={holder}"
            )

    def create_contact(
        self,
        body: dict[str, Any],
        now_s: int,
        *,
        contact_id: str | None = None,
        created_s: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        if not seeding:
            self._check(body, None)
        key = contact_id or self.new_id("6")
        rec: dict[str, Any] = {
            "id": key,
            "role": body.get("role") or "user",
            "external_id": None,
            "email": "",
            "phone": None,
            "name": None,
            "avatar": None,
            "owner_id": None,
            "signed_up_at": None,
            "last_seen_at": None,
            "unsubscribed_from_emails": False,
            "custom_attributes": {},
            "location": {"type": "location", "country": None, "region": None, "city": None},
            "_companies": [],
            "_created_s": now_s if created_s is None else created_s,
        }
        rec.update({k: v for k, v in body.items() if k != "email_verified"})
        if rec["email"] is None:
            rec["email"] = ""
        if not seeding and rec["email"]:
            rec["email"] = str(rec["email"]).strip()
        self.contacts.put(key, rec, now_s * 1000)
        self._index(rec, add=True)
        return rec

    def update_contact(self, rec: dict[str, Any], body: dict[str, Any], now_s: int) -> None:
        self._check(body, rec)
        self._index(rec, add=False)
        rec.update({k: v for k, v in body.items() if k != "email_verified"})
        if rec["email"] is None:
            rec["email"] = ""
        self._index(rec, add=True)
        self.contacts.put(rec["id"], rec, now_s * 1000)

    def delete_contact(self, rec: dict[str, Any]) -> None:
        self._index(rec, add=False)
        self.contacts.remove(rec["id"])
        for cid in rec["_companies"]:
            company = self.companies.get(cid)
            if company is not None:
                company["user_count"] = max(0, company["user_count"] - 1)

    def merge(self, lead: dict[str, Any], user: dict[str, Any], now_s: int) -> None:
        """The lead disappears (404); the user keeps its values and fills blanks from it."""
        for k in ("email", "phone", "name"):
            if not user.get(k) and lead.get(k):
                user[k] = lead[k]
        for cid in lead["_companies"]:
            if cid not in user["_companies"]:
                user["_companies"].append(cid)
            elif (company := self.companies.get(cid)) is not None:
                company["user_count"] = max(0, company["user_count"] - 1)
        lead["_companies"] = []
        self._index(lead, add=False)
        self.contacts.remove(lead["id"])
        self.merged[lead["id"]] = user["id"]
        for old, into in list(self.merged.items()):
            if into == lead["id"]:  # chains resolve to the final target
                self.merged[old] = user["id"]
        if lead.get("external_id"):
            self.merged_external_ids[str(lead["external_id"])] = user["id"]
        for conv in list(self.conversations.values()):  # the lead's conversations go with it
            if lead["id"] in conv["_contacts"]:
                conv["_contacts"] = list(
                    dict.fromkeys(user["id"] if c == lead["id"] else c for c in conv["_contacts"])
                )
                self.conversations.put(conv["id"], conv, now_s * 1000)
        history = user.setdefault("_merge_history", [])
        history.append(
            {
                "type": "merge_history",
                "source_contact_id": lead["id"],
                "source_contact_role": "lead",
                "merged_at": now_s,
            }
        )
        self._index(user, add=True)
        self.contacts.put(user["id"], user, now_s * 1000)

    def resolve(self, contact_id: str) -> dict[str, Any] | None:
        return self.contacts.get(contact_id)

    def merged_into(self, contact_id: str) -> str | None:
        """The survivor of a contact merged away (None for one never merged)."""
        return self.merged.get(contact_id)

    # -- companies -------------------------------------------------------------------------

    def upsert_company(
        self,
        body: dict[str, Any],
        now_s: int,
        *,
        company_id: str | None = None,
        created_s: int | None = None,
    ) -> dict[str, Any]:
        key_value = body.get("company_id")
        existing = self.company_keys.get(str(key_value)) if key_value else None
        if existing is not None:
            rec = self.companies.get(existing)
            assert rec is not None
        else:
            cid = company_id or self.new_id("5")
            rec = {
                "id": cid,
                "name": "",
                "company_id": str(key_value) if key_value else cid,
                "remote_created_at": None,
                "user_count": 0,
                "session_count": 0,
                "monthly_spend": 0,
                "custom_attributes": {},
                "_created_s": now_s if created_s is None else created_s,
            }
            self.company_keys[rec["company_id"]] = cid
        plan = body.get("plan")
        for k, v in body.items():
            if k in ("company_id", "update_last_request_at", "plan"):
                continue
            rec[k] = v
        if plan:
            rec["plan"] = {"type": "plan", "id": str(abs(hash(plan)) % 10**6), "name": plan}
        if body.get("update_last_request_at"):
            rec["last_request_at"] = now_s
        self.companies.put(rec["id"], rec, now_s * 1000)
        return rec

    def update_company(self, rec: dict[str, Any], body: dict[str, Any], now_s: int) -> None:
        """``PUT /companies/{id}``: every field but ``company_id``, which cannot change."""
        if "company_id" in body and str(body["company_id"]) != rec["company_id"]:
            raise IntercomError(
                400, "parameter_invalid", "company_id cannot be updated", "company_id"
            )
        plan = body.get("plan")
        for k, v in body.items():
            if k not in ("company_id", "plan", "update_last_request_at"):
                rec[k] = v
        if plan:
            rec["plan"] = {"type": "plan", "id": str(abs(hash(plan)) % 10**6), "name": plan}
        self.companies.put(rec["id"], rec, now_s * 1000)

    def attach(self, contact: dict[str, Any], company: dict[str, Any], now_s: int) -> None:
        if company["id"] not in contact["_companies"]:
            contact["_companies"].append(company["id"])
            company["user_count"] += 1
            self.companies.put(company["id"], company, now_s * 1000)
            self.contacts.put(contact["id"], contact, now_s * 1000)

    def detach(self, contact: dict[str, Any], company: dict[str, Any], now_s: int) -> None:
        if company["id"] in contact["_companies"]:
            contact["_companies"].remove(company["id"])
            company["user_count"] = max(0, company["user_count"] - 1)
            self.companies.put(company["id"], company, now_s * 1000)
            self.contacts.put(contact["id"], contact, now_s * 1000)

    def listed_companies(self) -> list[str]:
        """Company ids visible to list/scroll: only those with at least one user attached."""
        out = []
        for key in self.companies.iter_keys():
            rec = self.companies.get(key)
            if rec is not None and rec["user_count"] > 0:
                out.append(key)
        return out

    # -- conversations -----------------------------------------------------------------------

    def load_conversation(self, row: dict[str, Any]) -> dict[str, Any]:
        """A seeded conversation as stored: the public fields, ``_contacts`` (contact ids, the
        first one the customer who wrote), ``_company`` and the two timestamps."""
        rec = {k: v for k, v in row.items() if k != "_updated_s"}
        self.conversations.put(rec["id"], rec, row["_updated_s"] * 1000)
        self.next_conversation = max(self.next_conversation, int(rec["id"]) + 1)
        return rec

    def change_state(
        self, rec: dict[str, Any], state: str, admin_id: str, now_s: int, snoozed_until: int = 0
    ) -> None:
        """Close, open or snooze, as a conversation part does: statistics follow."""
        stats = rec.setdefault("statistics", empty_statistics())
        if state == "closed":
            stats["first_close_at"] = stats.get("first_close_at") or now_s
            stats["last_close_at"] = now_s
            stats["last_closed_by_id"] = admin_id
        elif state == "open" and rec["state"] == "closed":
            stats["count_reopens"] = int(stats.get("count_reopens") or 0) + 1
        rec["state"] = state
        rec["open"] = state != "closed"
        rec["snoozed_until"] = snoozed_until if state == "snoozed" else None
        self.conversations.put(rec["id"], rec, now_s * 1000)

    def conversation_json(self, rec: dict[str, Any], *, parts: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_")}
        contacts = []
        for cid in rec["_contacts"]:
            contact = self.contacts.get(cid)
            external = contact.get("external_id") if contact is not None else None
            contacts.append({"type": "contact", "id": cid, "external_id": external})
        company = self.companies.get(rec["_company"]) if rec.get("_company") else None
        out.update(
            {
                "type": "conversation",
                "created_at": rec["_created_s"],
                "updated_at": self.conversations.mtime(rec["id"]) // 1000,
                "contacts": {"type": "contact.list", "contacts": contacts},
                "company": self.company_json(company) if company is not None else None,
                "teammates": {"type": "admin.list", "teammates": []},
                "tags": {"type": "tag.list", "tags": []},
                "custom_attributes": {},
                "linked_objects": {
                    "type": "list",
                    "data": [],
                    "total_count": 0,
                    "has_more": False,
                },
            }
        )
        if parts:
            out["conversation_parts"] = {
                "type": "conversation_part.list",
                "conversation_parts": [],
                "total_count": 0,
            }
        return out

    def conversation_view(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The searchable attributes under their dotted search names."""
        view: dict[str, Any] = {
            "id": rec["id"],
            "created_at": rec["_created_s"],
            "updated_at": self.conversations.mtime(rec["id"]) // 1000,
            "contact_ids": list(rec["_contacts"]),
        }
        for name in (
            "state",
            "open",
            "read",
            "priority",
            "admin_assignee_id",
            "team_assignee_id",
            "waiting_since",
            "snoozed_until",
        ):
            view[name] = rec.get(name)
        for group in ("source", "statistics"):
            for key, value in (rec.get(group) or {}).items():
                view[f"{group}.{key}"] = value
        author = (rec.get("source") or {}).get("author") or {}
        for key, value in author.items():
            view[f"source.author.{key}"] = value
        return view

    # -- JSON ------------------------------------------------------------------------------

    def contact_json(self, rec: dict[str, Any], *, merge_history: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_")}
        if merge_history and rec.get("role") == "user":
            out["merge_history"] = [dict(h) for h in rec.get("_merge_history", [])]
        email = rec.get("email") or ""
        cids = rec["_companies"]
        out.update(
            {
                "type": "contact",
                "workspace_id": APP_ID,
                "email_domain": email.split("@", 1)[1] if "@" in email else "",
                "has_hard_bounced": False,
                "marked_email_as_spam": False,
                "created_at": rec["_created_s"],
                "updated_at": self.contacts.mtime(rec["id"]) // 1000,
                "last_replied_at": None,
                "last_contacted_at": None,
                "last_email_opened_at": None,
                "last_email_clicked_at": None,
                "language_override": None,
                "browser": None,
                "browser_version": None,
                "browser_language": None,
                "os": None,
                "tags": {
                    "type": "list",
                    "data": [],
                    "url": f"/contacts/{rec['id']}/tags",
                    "total_count": 0,
                    "has_more": False,
                },
                "notes": {
                    "type": "list",
                    "data": [],
                    "url": f"/contacts/{rec['id']}/notes",
                    "total_count": 0,
                    "has_more": False,
                },
                "companies": {
                    "type": "list",
                    "data": [
                        {"id": c, "type": "company", "url": f"/companies/{c}"} for c in cids[:10]
                    ],
                    "url": f"/contacts/{rec['id']}/companies",
                    "total_count": len(cids),
                    "has_more": len(cids) > 10,
                },
                "social_profiles": {"type": "list", "data": []},
            }
        )
        return out

    def search_view(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The searchable attributes, timestamps included (kept outside the record)."""
        return {
            **rec,
            "created_at": rec["_created_s"],
            "updated_at": self.contacts.mtime(rec["id"]) // 1000,
        }

    def company_json(self, rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_") and v is not None}
        out.update(
            {
                "type": "company",
                "app_id": APP_ID,
                "created_at": rec["_created_s"],
                "updated_at": self.companies.mtime(rec["id"]) // 1000,
                "tags": {"type": "tag.list", "tags": []},
                "segments": {"type": "segment.list", "segments": []},
            }
        )
        return out

    def companies_of(self, contact: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for cid in contact["_companies"]:
            company = self.companies.get(cid)
            if company is not None:
                yield company


def empty_statistics() -> dict[str, Any]:
    """The statistics of a conversation nobody closed yet."""
    return {
        "type": "conversation_statistics",
        "first_contact_reply_at": None,
        "first_admin_reply_at": None,
        "first_close_at": None,
        "last_close_at": None,
        "last_closed_by_id": None,
        "count_reopens": 0,
        "count_assignments": 0,
        "count_conversation_parts": 1,
    }


def unix_now(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
