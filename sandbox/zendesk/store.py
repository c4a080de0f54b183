"""Zendesk Support's users, organizations and tickets, with Zendesk's write rules.

Why a module of its own: Zendesk keys users by any of their email identities (unique in the
account) or ``external_id``, keeps merged-away users readable with ``active: false``, moves
their identities and requested tickets to the survivor, and rejects bad writes with
``RecordInvalid`` details per field. Connectors trip over exactly these rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sandbox.store import RecordStore
from sandbox.zendesk.errors import ZendeskError, not_found, record_invalid
from sandbox.zendesk.jobs import JobBoard
from sandbox.zendesk.user_fields import UserFields

__all__ = [
    "ORG_ID_BASE",
    "USER_ID_BASE",
    "ZendeskData",
    "ZendeskError",
    "not_found",
    "record_invalid",
    "user_record",
    "zd_time",
]

USER_ID_BASE = 10_000_000_000
ORG_ID_BASE = 20_000_000_000
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ROLES = frozenset({"end-user", "agent", "admin"})
METRIC_ID_BASE = 30_000_000_000
_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
_USER_FIELDS = (
    "name",
    "phone",
    "time_zone",
    "locale",
    "details",
    "notes",
    "alias",
    "verified",
    "tags",
    "shared_phone_number",
)
_ORG_FIELDS = (
    "details",
    "notes",
    "domain_names",
    "tags",
    "group_id",
    "shared_tickets",
    "shared_comments",
    "organization_fields",
)
_TICKET_FIELDS = ("subject", "priority", "type", "tags", "assignee_id", "group_id", "due_at")


def zd_time(ms: int) -> str:
    """Zendesk timestamps: ISO 8601 UTC with second precision (2024-05-01T12:00:00Z)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_record(
    uid: int,
    *,
    name: str,
    email: str | None,
    created_ms: int,
    modified_ms: int,
    verified: bool,
) -> dict[str, Any]:
    """A Zendesk user with every field the API returns, at its defaults."""
    return {
        "id": uid,
        "name": name,
        "email": email,
        "created_at": zd_time(created_ms),
        "updated_at": zd_time(modified_ms),
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": None,
        "shared_phone_number": None,
        "photo": None,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": None,
        "role": "end-user",
        "verified": verified,
        "external_id": None,
        "tags": [],
        "alias": "",
        "active": True,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": None,
        "signature": "",
        "details": "",
        "notes": "",
        "role_type": None,
        "custom_role_id": None,
        "moderator": False,
        "ticket_restriction": "requested",
        "only_private_comments": False,
        "restricted_agent": True,
        "suspended": False,
        "default_group_id": None,
        "report_csv": False,
        "user_fields": {},
    }


class ZendeskData:
    """One Zendesk account: users (+ email identities), organizations, tickets, jobs."""

    def __init__(self) -> None:
        self.users: RecordStore[int] = RecordStore()
        self.organizations: RecordStore[int] = RecordStore()
        self.tickets: RecordStore[int] = RecordStore()
        self.emails: dict[str, int] = {}
        self.identities: dict[int, list[str]] = {}
        self.user_external: dict[str, int] = {}
        self.org_names: dict[str, int] = {}
        self.org_external: dict[str, int] = {}
        self.requested: dict[int, set[int]] = {}
        # ticket id -> its metric set's times (solved_at, reopens…), kept beside the ticket as
        # Zendesk keeps ticket metrics apart (GET /tickets/{id}/metrics, include=metric_sets)
        self.metrics: dict[int, dict[str, Any]] = {}
        self.inactive: set[int] = set()
        self.jobs = JobBoard()
        self.user_fields = UserFields()
        self.next_user = USER_ID_BASE + 1
        self.next_org = ORG_ID_BASE + 1
        self.next_ticket = 1
        # incremental exports leave out the most recent minute (settable for tests)
        self.recent_exclusion_s = 60

    def clear(self) -> None:
        exclusion = self.recent_exclusion_s
        self.__init__()  # type: ignore[misc]
        self.recent_exclusion_s = exclusion

    # -- users ---------------------------------------------------------------------------

    def find_user(self, ref: Any) -> dict[str, Any] | None:
        try:
            return self.users.get(int(ref))
        except (TypeError, ValueError):
            return None

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        key = self.emails.get(email.strip().lower())
        return self.users.get(key) if key is not None else None

    def user_by_external(self, external_id: str) -> dict[str, Any] | None:
        key = self.user_external.get(str(external_id).lower())
        return self.users.get(key) if key is not None else None

    def _check_email(self, email: Any, own: int | None) -> str:
        text = str(email).strip().lower()
        if not _EMAIL_RE.match(text):
            raise record_invalid("email", f"Email: {email} is not properly formatted")
        taken = self.emails.get(text)
        if taken is not None and taken != own:
            raise record_invalid(
                "email",
                f"Email: {text} is already being used by another user",
                "DuplicateValue",
            )
        return text

    def _check_user(self, body: dict[str, Any], own: int | None) -> None:
        if own is None and not str(body.get("name") or "").strip():
            raise record_invalid(
                "name", "Name: is too short (minimum is 1 character)", "BlankValue"
            )
        if body.get("email") not in (None, ""):
            self._check_email(body["email"], own)
        ext = body.get("external_id")
        if ext not in (None, ""):
            taken = self.user_external.get(str(ext).lower())
            if taken is not None and taken != own:
                raise record_invalid(
                    "external_id", "External: has already been taken", "DuplicateValue"
                )
        role = body.get("role")
        if role is not None and role not in _ROLES:
            raise record_invalid("role", f"Role: {role} is not a valid role")
        org = body.get("organization_id")
        if org is not None and self.organizations.get(int(org)) is None:
            raise record_invalid("organization_id", "Organization: is invalid")

    def create_user(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        body = self._org_by_name(body, now_ms)
        self._check_user(body, None)
        uid = self.next_user
        self.next_user += 1
        rec = user_record(
            uid, name="", email=None, created_ms=now_ms, modified_ms=now_ms, verified=False
        )
        self.identities[uid] = []
        self._apply_user(rec, body, now_ms)
        for identity in body.get("identities") or []:
            if isinstance(identity, dict) and identity.get("type") == "email":
                self._add_email(rec, self._check_email(identity.get("value"), uid))
        return rec

    def update_user(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        body = self._org_by_name(body, now_ms)
        self._check_user(body, rec["id"])
        self._apply_user(rec, body, now_ms)

    def _org_by_name(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """``organization: {name}`` on a user write: find or create that organization."""
        org = body.get("organization")
        if not isinstance(org, dict) or not org.get("name"):
            return body
        found = self.org_names.get(str(org["name"]).lower())
        if found is None:
            found = self.create_org({"name": org["name"]}, now_ms)["id"]
        return {**body, "organization_id": found}

    def _add_email(self, rec: dict[str, Any], email: str) -> None:
        uid = rec["id"]
        ids = self.identities.setdefault(uid, [])
        if email not in ids:
            ids.append(email)
        self.emails[email] = uid
        if rec.get("email") is None:
            rec["email"] = email

    def _apply_user(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        for name in _USER_FIELDS:
            if name in body:
                rec[name] = body[name]
        if body.get("user_fields") is not None:
            rec["user_fields"] = self.user_fields.apply(body["user_fields"], rec["user_fields"])
        if "role" in body and body["role"] is not None:
            rec["role"] = body["role"]
        if "organization_id" in body:
            rec["organization_id"] = body["organization_id"]
        if "external_id" in body:
            if rec.get("external_id"):
                self.user_external.pop(str(rec["external_id"]).lower(), None)
            rec["external_id"] = body["external_id"] or None
            if rec["external_id"]:
                self.user_external[str(rec["external_id"]).lower()] = rec["id"]
        if body.get("email") not in (None, ""):
            email = str(body["email"]).strip().lower()
            if rec.get("email") and rec["email"] != email:
                # a new primary email: the old one stays as a secondary identity
                rec["email"] = email
            self._add_email(rec, email)
        self.touch_user(rec, now_ms)

    def touch_user(self, rec: dict[str, Any], now_ms: int) -> None:
        rec["updated_at"] = zd_time(now_ms)
        self.users.put(rec["id"], rec, now_ms)

    def create_or_update_user(
        self, body: dict[str, Any], now_ms: int
    ) -> tuple[dict[str, Any], bool]:
        """Match on email (any identity) or external_id; (user, created)."""
        found = None
        if body.get("email"):
            found = self.user_by_email(str(body["email"]))
        if found is None and body.get("external_id"):
            found = self.user_by_external(str(body["external_id"]))
        if found is None:
            return self.create_user(body, now_ms), True
        self.update_user(found, body, now_ms)
        return found, False

    def deactivate(self, rec: dict[str, Any], now_ms: int) -> None:
        """Soft delete: the user stays readable with ``active: false``, its emails are freed."""
        for email in self.identities.pop(rec["id"], []):
            self.emails.pop(email, None)
        if rec.get("external_id"):
            self.user_external.pop(str(rec["external_id"]).lower(), None)
        rec["active"] = False
        self.inactive.add(rec["id"])
        self.touch_user(rec, now_ms)

    def merge_users(self, source: dict[str, Any], target: dict[str, Any], now_ms: int) -> None:
        """Merge end user `source` into `target`: identities and tickets move, source goes."""
        for rec in (source, target):
            if rec["role"] != "end-user":
                raise ZendeskError(
                    403,
                    {
                        "error": "Forbidden",
                        "description": "You do not have access to this page. Please contact "
                        "the account owner of this help desk for further help.",
                    },
                )
            if not rec["active"]:
                raise not_found()
        if source["id"] == target["id"]:
            raise record_invalid("user", "User: cannot be merged into itself")
        moved = self.identities.pop(source["id"], [])
        for email in moved:
            self.emails.pop(email, None)
        for ticket_id in sorted(self.requested.pop(source["id"], set())):
            ticket = self.tickets.get(ticket_id)
            if ticket is not None:
                ticket["requester_id"] = target["id"]
                self.requested.setdefault(target["id"], set()).add(ticket_id)
                self.touch_ticket(ticket, now_ms)
        for email in moved:
            self._add_email(target, email)
        for name in ("phone", "organization_id", "external_id"):
            if target.get(name) in (None, "") and source.get(name) not in (None, ""):
                if name == "external_id":
                    self.user_external.pop(str(source[name]).lower(), None)
                    self.user_external[str(source[name]).lower()] = target["id"]
                target[name] = source[name]
        source["email"] = None
        source["external_id"] = None
        source["active"] = False
        self.inactive.add(source["id"])
        self.touch_user(source, now_ms)
        self.touch_user(target, now_ms)

    # -- organizations -------------------------------------------------------------------

    def find_org(self, ref: Any) -> dict[str, Any] | None:
        try:
            return self.organizations.get(int(ref))
        except (TypeError, ValueError):
            return None

    def _check_org(self, body: dict[str, Any], own: int | None) -> None:
        name = body.get("name")
        if own is None and not str(name or "").strip():
            raise record_invalid("name", "Name: cannot be blank", "BlankValue")
        if name:
            taken = self.org_names.get(str(name).lower())
            if taken is not None and taken != own:
                raise record_invalid("name", "Name: has already been taken", "DuplicateValue")
        ext = body.get("external_id")
        if ext:
            taken = self.org_external.get(str(ext).lower())
            if taken is not None and taken != own:
                raise record_invalid(
                    "external_id", "External: has already been taken", "DuplicateValue"
                )

    def create_org(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        self._check_org(body, None)
        oid = self.next_org
        self.next_org += 1
        rec: dict[str, Any] = {
            "id": oid,
            "name": "",
            "shared_tickets": False,
            "shared_comments": False,
            "external_id": None,
            "created_at": zd_time(now_ms),
            "updated_at": zd_time(now_ms),
            "domain_names": [],
            "details": None,
            "notes": None,
            "group_id": None,
            "tags": [],
            "organization_fields": {},
        }
        self._apply_org(rec, body, now_ms)
        return rec

    def update_org(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        self._check_org(body, rec["id"])
        self._apply_org(rec, body, now_ms)

    def create_or_update_org(
        self, body: dict[str, Any], now_ms: int
    ) -> tuple[dict[str, Any], bool]:
        """Match on id or external_id only (never on name, as Zendesk documents)."""
        found = self.find_org(body["id"]) if body.get("id") else None
        if found is None and body.get("external_id"):
            key = self.org_external.get(str(body["external_id"]).lower())
            found = self.organizations.get(key) if key is not None else None
        if found is None:
            return self.create_org(body, now_ms), True
        self.update_org(found, body, now_ms)
        return found, False

    def _apply_org(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        if body.get("name"):
            self.org_names.pop(str(rec["name"]).lower(), None)
            rec["name"] = body["name"]
            self.org_names[str(rec["name"]).lower()] = rec["id"]
        if "external_id" in body:
            if rec.get("external_id"):
                self.org_external.pop(str(rec["external_id"]).lower(), None)
            rec["external_id"] = body["external_id"] or None
            if rec["external_id"]:
                self.org_external[str(rec["external_id"]).lower()] = rec["id"]
        for name in _ORG_FIELDS:
            if name in body:
                rec[name] = body[name]
        rec["updated_at"] = zd_time(now_ms)
        self.organizations.put(rec["id"], rec, now_ms)

    def delete_org(self, rec: dict[str, Any]) -> None:
        self.organizations.remove(rec["id"])
        self.org_names.pop(str(rec["name"]).lower(), None)
        if rec.get("external_id"):
            self.org_external.pop(str(rec["external_id"]).lower(), None)

    # -- tickets -------------------------------------------------------------------------

    def create_ticket(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        comment = body.get("comment")
        text = None
        if isinstance(comment, dict):
            text = comment.get("body") or comment.get("html_body")
        # the docs call `description` read-only, yet Zendesk takes it as the first comment
        text = text or body.get("description")
        if not text:
            raise record_invalid("description", "Description: cannot be blank", "BlankValue")
        requester = self._requester(body, now_ms)
        status = body.get("status") or ("open" if body.get("assignee_id") else "new")
        if status not in _STATUSES:
            raise record_invalid("status", f"Status: {status} is not valid")
        tid = self.next_ticket
        self.next_ticket += 1
        rec: dict[str, Any] = {
            "id": tid,
            "external_id": body.get("external_id"),
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": zd_time(now_ms),
            "updated_at": zd_time(now_ms),
            "generated_timestamp": now_ms // 1000,
            "type": body.get("type"),
            "subject": body.get("subject") or "",
            "raw_subject": body.get("subject") or "",
            "description": text,
            "priority": body.get("priority"),
            "status": status,
            "recipient": None,
            "requester_id": requester["id"],
            "submitter_id": requester["id"],
            "assignee_id": body.get("assignee_id"),
            "organization_id": body.get("organization_id") or requester.get("organization_id"),
            "group_id": body.get("group_id"),
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": list(body.get("tags") or []),
            "custom_fields": [],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "brand_id": 1,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }
        self.metrics[tid] = {"solved_at": zd_time(now_ms) if status == "solved" else None}
        self.put_ticket(rec, now_ms)
        return rec

    def _requester(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """``requester_id``, or ``requester: {email, name}`` (found or created as end user)."""
        if body.get("requester_id") is not None:
            found = self.find_user(body["requester_id"])
            if found is None or not found["active"]:
                raise record_invalid("requester", "Requester: is invalid")
            return found
        req = body.get("requester")
        if isinstance(req, dict) and req.get("email"):
            found = self.user_by_email(str(req["email"]))
            if found is not None:
                return found
            name = req.get("name") or str(req["email"]).split("@")[0]
            return self.create_user({"name": name, "email": req["email"]}, now_ms)
        raise record_invalid("requester", "Requester: cannot be blank", "BlankValue")

    def update_ticket(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> None:
        if rec["status"] == "closed":
            raise record_invalid("status", "Status: closed prevents ticket update")
        if "status" in body and body["status"] not in _STATUSES:
            raise record_invalid("status", f"Status: {body['status']} is not valid")
        if body.get("requester_id") is not None or body.get("requester"):
            requester = self._requester(body, now_ms)
            self.requested.get(rec["requester_id"], set()).discard(rec["id"])
            rec["requester_id"] = requester["id"]
        before = rec["status"]
        for name in (*_TICKET_FIELDS, "status", "organization_id", "external_id"):
            if name in body:
                rec[name] = body[name]
        metric = self.metrics.setdefault(rec["id"], {"solved_at": None})
        if rec["status"] == "solved" and before != "solved":
            metric["solved_at"] = zd_time(now_ms)
        elif before in ("solved", "closed") and rec["status"] not in ("solved", "closed"):
            metric["reopens"] = int(metric.get("reopens") or 0) + 1
        if "subject" in body:
            rec["raw_subject"] = body["subject"]
        self.put_ticket(rec, now_ms)

    def put_ticket(self, rec: dict[str, Any], now_ms: int) -> None:
        self.requested.setdefault(rec["requester_id"], set()).add(rec["id"])
        self.touch_ticket(rec, now_ms)

    def touch_ticket(self, rec: dict[str, Any], now_ms: int) -> None:
        rec["updated_at"] = zd_time(now_ms)
        rec["generated_timestamp"] = now_ms // 1000
        self.tickets.put(rec["id"], rec, now_ms)

    def delete_ticket(self, rec: dict[str, Any], now_ms: int) -> None:
        """Soft delete, as Zendesk does: the ticket 404s and leaves the lists, but the
        incremental export still returns it, with status "deleted"."""
        self.requested.get(rec["requester_id"], set()).discard(rec["id"])
        rec["status"] = "deleted"
        self.touch_ticket(rec, now_ms)

    def metric_set(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The ticket's metric set (the fields revsync and a reporting tool look at)."""
        metric = self.metrics.get(rec["id"], {})
        return {
            "id": rec["id"] + METRIC_ID_BASE,
            "ticket_id": rec["id"],
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "solved_at": metric.get("solved_at"),
            "status_updated_at": rec["updated_at"],
            "assigned_at": rec["created_at"] if rec.get("assignee_id") else None,
            "initially_assigned_at": rec["created_at"] if rec.get("assignee_id") else None,
            "reopens": int(metric.get("reopens") or 0),
            "replies": 0,
        }

    # -- seeding -------------------------------------------------------------------------

    def load_user(self, rec: dict[str, Any], emails: list[str], mtime_ms: int) -> None:
        """Seeding: a ready-made user with its email identities (primary first)."""
        uid = int(rec["id"])
        self.users.put(uid, rec, mtime_ms)
        self.identities[uid] = list(emails)
        for email in emails:
            self.emails[email] = uid
        if rec.get("external_id"):
            self.user_external[str(rec["external_id"]).lower()] = uid
        if not rec.get("active", True):
            self.inactive.add(uid)
        self.next_user = max(self.next_user, uid + 1)

    def load_org(self, rec: dict[str, Any], mtime_ms: int) -> None:
        oid = int(rec["id"])
        self.organizations.put(oid, rec, mtime_ms)
        self.org_names[str(rec["name"]).lower()] = oid
        if rec.get("external_id"):
            self.org_external[str(rec["external_id"]).lower()] = oid
        self.next_org = max(self.next_org, oid + 1)

    def load_ticket(self, rec: dict[str, Any], mtime_ms: int) -> None:
        """Seeding: a solved or closed ticket was solved when it last changed."""
        tid = int(rec["id"])
        solved = rec["status"] in ("solved", "closed")
        self.metrics[tid] = {"solved_at": rec["updated_at"] if solved else None}
        self.tickets.put(tid, rec, mtime_ms)
        self.requested.setdefault(rec["requester_id"], set()).add(tid)
        self.next_ticket = max(self.next_ticket, tid + 1)
