"""One Mailchimp audience (list) and its members in memory, with Mailchimp's write rules.

Members are keyed by subscriber hash (MD5 of the lowercased email); the store's modification
index is `last_changed`, so `since_last_changed` reads are O(log n + page).
Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sandbox.credentials import SANDBOX_MAILCHIMP_LIST_ID
from sandbox.mailchimp.errors import MailchimpError
from sandbox.mailchimp.merge_fields import MERGE_FIELDS, MergeFields
from sandbox.store import RecordStore
from sandbox.timefmt import iso_offset

__all__ = [
    "ADMIN_UNSUBSCRIBE",
    "FAKE_DOMAINS",
    "MEMBER_STATUSES",
    "MERGE_FIELDS",
    "MailchimpData",
    "MailchimpError",
    "email_problem",
    "subscriber_hash",
]

MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
ADMIN_UNSUBSCRIBE = "N/A (Unsubscribed by an admin)"
"""The ``unsubscribe_reason`` Mailchimp records when an account (its API key) unsubscribes
someone, rather than the person through the form."""
FAKE_DOMAINS = frozenset(
    {"example.com", "example.org", "example.net", "test.com", "test.org", "invalid.com"}
)
_FAKE_TLDS = (".test", ".example", ".invalid", ".localhost", ".local")
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)


def subscriber_hash(email: str) -> str:
    """MD5 hex of the lowercased email, Mailchimp's member id."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def email_problem(email: str) -> str | None:
    """Mailchimp's rejection message for a syntactically broken or fake-looking email."""
    value = email.strip()
    domain = value.rsplit("@", 1)[-1].lower()
    if (
        not _EMAIL_RE.match(value)
        or domain in FAKE_DOMAINS
        or domain.endswith(_FAKE_TLDS)
        or ".." in value
    ):
        return f"{value} looks fake or invalid, please enter a real email address."
    return None


def _short_hex(seed: str, n: int) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:n]


class MailchimpData:
    """The sandbox account's single audience."""

    def __init__(self) -> None:
        self.list_id = SANDBOX_MAILCHIMP_LIST_ID
        self.merge_fields = MergeFields(self.list_id)
        self.members: RecordStore[str] = RecordStore()
        self._by_contact: dict[str, str] = {}
        self._next_web_id = 100_000
        self.created_ms = 1_577_836_800_000  # 2020-01-01

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # -- lookups ---------------------------------------------------------------------------

    def lookup(self, ref: str) -> dict[str, Any] | None:
        """Find a member by subscriber hash, email address or contact_id (as the API does)."""
        ref = ref.strip()
        if "@" in ref:
            ref = subscriber_hash(ref)
        member = self.members.get(ref.lower())
        if member is None and ref in self._by_contact:
            member = self.members.get(self._by_contact[ref])
        return member

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(MEMBER_STATUSES, 0)
        for member in self.members.values():
            out[member["status"]] = out.get(member["status"], 0) + 1
        return out

    # -- writes ----------------------------------------------------------------------------

    def _merge_fields(self, given: Any, current: dict[str, Any] | None) -> dict[str, Any]:
        return self.merge_fields.apply(given, current)

    def add_merge_field(self, body: Any) -> dict[str, Any]:
        """Define a merge field; every member then shows it, empty, without changing."""
        field = self.merge_fields.add(body)
        for member in self.members.values():
            member["merge_fields"].setdefault(field["tag"], "")
        return field

    def _status(self, value: Any, field: str) -> str:
        if value not in MEMBER_STATUSES:
            raise MailchimpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, "
                "see the 'errors' array.",
                [
                    {
                        "field": field,
                        "message": "Schema describes enum, input does not match any of the "
                        "allowed values: " + ", ".join(MEMBER_STATUSES),
                    }
                ],
            )
        return str(value)

    def _tags(self, given: Any) -> list[dict[str, Any]]:
        tags: list[dict[str, Any]] = []
        for item in given or []:
            name = item.get("name") if isinstance(item, dict) else item
            if name:
                tags.append({"id": int(_short_hex(str(name), 6), 16), "name": str(name)})
        return tags

    def add(
        self,
        body: dict[str, Any],
        now_ms: int,
        *,
        status_field: str = "status",
        seeding: bool = False,
    ) -> dict[str, Any]:
        """Create a member; 400 'Member Exists' if the email is already on the list."""
        email = str(body.get("email_address") or "").strip()
        if not email:
            raise MailchimpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, "
                "see the 'errors' array.",
                [{"field": "email_address", "message": "This value should not be blank."}],
            )
        if not seeding:
            problem = email_problem(email)
            if problem:
                raise MailchimpError(400, "Invalid Resource", problem)
        key = subscriber_hash(email)
        if key in self.members:
            raise MailchimpError(
                400,
                "Member Exists",
                f"{email} is already a list member. Use PUT to insert or update list members.",
            )
        status = self._status(body.get(status_field), status_field)
        signup_ms = int(body.get("_timestamp_signup_ms") or now_ms)
        changed_ms = int(body.get("_last_changed_ms") or now_ms) // 1000 * 1000
        merge = self._merge_fields(body.get("merge_fields"), None)
        tags = self._tags(body.get("tags"))
        self._next_web_id += 1
        member: dict[str, Any] = {
            "id": key,
            "email_address": email,
            "unique_email_id": _short_hex("u" + key, 10),
            "contact_id": _short_hex("c" + key, 32),
            "full_name": " ".join(v for v in (merge["FNAME"], merge["LNAME"]) if v),
            "web_id": self._next_web_id,
            "email_type": body.get("email_type") or "html",
            "status": status,
            "consents_to_one_to_one_messaging": True,
            "merge_fields": merge,
            "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": "",
            "timestamp_signup": iso_offset(signup_ms),
            "ip_opt": "",
            "timestamp_opt": iso_offset(signup_ms) if status == "subscribed" else "",
            "member_rating": 2,
            "last_changed": iso_offset(changed_ms),
            "language": body.get("language") or "",
            "vip": bool(body.get("vip", False)),
            "email_client": "",
            "location": {
                "latitude": 0,
                "longitude": 0,
                "gmtoff": 0,
                "dstoff": 0,
                "country_code": "",
                "timezone": "",
                "region": "",
            },
            "source": "API - Generic" if not seeding else "Import",
            "tags_count": len(tags),
            "tags": tags,
            "list_id": self.list_id,
        }
        if status == "unsubscribed":
            member["unsubscribe_reason"] = str(body.get("unsubscribe_reason") or ADMIN_UNSUBSCRIBE)
        self.members.put(key, member, changed_ms)
        self._by_contact[member["contact_id"]] = key
        return member

    def update(self, member: dict[str, Any], body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Apply a PATCH-like change; any write bumps `last_changed`."""
        old_key = member["id"]
        new_email = str(body.get("email_address") or "").strip()
        if new_email and subscriber_hash(new_email) != old_key:
            problem = email_problem(new_email)
            if problem:
                raise MailchimpError(400, "Invalid Resource", problem)
            if subscriber_hash(new_email) in self.members:
                raise MailchimpError(400, "Member Exists", f"{new_email} is already a list member.")
        if "status" in body and body["status"] is not None:
            status = self._status(body["status"], "status")
            if status == "subscribed" and member["status"] != "subscribed":
                member["timestamp_opt"] = iso_offset(now_ms)
            if status == "unsubscribed" and member["status"] != "unsubscribed":
                member["unsubscribe_reason"] = ADMIN_UNSUBSCRIBE  # an API call is an admin's act
            elif status != "unsubscribed":
                member.pop("unsubscribe_reason", None)
            member["status"] = status
        if "merge_fields" in body:
            member["merge_fields"] = self._merge_fields(
                body["merge_fields"], member["merge_fields"]
            )
            merge = member["merge_fields"]
            member["full_name"] = " ".join(v for v in (merge["FNAME"], merge["LNAME"]) if v)
        for simple in ("email_type", "language", "vip"):
            if simple in body:
                member[simple] = body[simple]
        if "tags" in body:
            member["tags"] = self._tags(body["tags"])
            member["tags_count"] = len(member["tags"])
        if new_email:
            member["email_address"] = new_email
        new_key = subscriber_hash(member["email_address"])
        changed = max(now_ms // 1000 * 1000, self.members.mtime(old_key))
        member["last_changed"] = iso_offset(changed)
        if new_key != old_key:
            self.members.remove(old_key)
            member["id"] = new_key
            self._by_contact[member["contact_id"]] = new_key
        self.members.put(new_key, member, changed)
        return member
