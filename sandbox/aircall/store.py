"""Aircall calls, contacts, users and numbers in memory.

Aircall filters lists by creation time (`from`/`to`, UNIX seconds) and has no updated-since
filter, so each store's modification index is keyed on `created_at` here: that is the only
order the API can page in. Phone lookups compare digits only (Aircall stores E.164).
`max_records` is the per-query cap (10,000 at Aircall), lowered by tests that need a window
past it without 10,000 calls. Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.store import RecordStore

__all__ = ["API_ROOT", "AircallData", "AircallError", "digits"]

API_ROOT = "https://api.aircall.io/v1"
_CONTACT_FIELDS = frozenset(
    {"first_name", "last_name", "company_name", "information", "phone_numbers", "emails"}
)


class AircallError(Exception):
    """`{"error": ..., "troubleshoot": ...}` with its status."""

    def __init__(self, status: int, error: str, troubleshoot: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.troubleshoot = troubleshoot


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


class AircallData:
    """Four stores keyed by integer id; `phones`/`emails` index contacts for search."""

    def __init__(self) -> None:
        self.calls: RecordStore[int] = RecordStore()
        self.contacts: RecordStore[int] = RecordStore()
        self.users: dict[int, dict[str, Any]] = {}
        self.numbers: dict[int, dict[str, Any]] = {}
        self.phones: dict[str, set[int]] = {}
        self.emails: dict[str, set[int]] = {}
        self.max_records = 10_000
        self._next = {"contact": 10_000_001, "call": 100_000_001, "detail": 1}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def _id(self, kind: str, wanted: int | None = None) -> int:
        if wanted is not None:
            self._next[kind] = max(self._next[kind], wanted + 1)
            return wanted
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- contacts --------------------------------------------------------------------------

    def _details(self, items: Any, kind: str) -> list[dict[str, Any]]:
        if items is None:
            return []
        if not isinstance(items, list):
            raise AircallError(400, "Invalid parameters", f"{kind} must be an array")
        out = []
        for item in items:
            if not isinstance(item, dict) or not str(item.get("value") or "").strip():
                raise AircallError(400, "Invalid parameters", f"{kind} items need a value")
            value = str(item["value"]).strip()
            if kind == "phone_numbers" and not re.fullmatch(r"\+?[\d\s().-]{6,20}", value):
                raise AircallError(
                    400, "Invalid phone number", f"{value} is not a valid phone number"
                )
            out.append(
                {"id": self._id("detail"), "label": item.get("label") or "Work", "value": value}
            )
        return out

    def _index(self, rec: dict[str, Any], add: bool) -> None:
        pairs = [(self.phones, digits(p["value"])) for p in rec["phone_numbers"]]
        pairs += [(self.emails, e["value"].strip().lower()) for e in rec["emails"]]
        for table, key in pairs:
            if not key:
                continue
            if add:
                table.setdefault(key, set()).add(rec["id"])
            else:
                table.get(key, set()).discard(rec["id"])

    def create_contact(
        self,
        body: dict[str, Any],
        now_s: int,
        *,
        contact_id: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        if not seeding:
            unknown = [k for k in body if k not in _CONTACT_FIELDS]
            if unknown:
                raise AircallError(400, "Invalid parameters", f"Unknown parameter {unknown[0]}")
            if not body.get("phone_numbers"):
                raise AircallError(
                    400, "Invalid parameters", "phone_numbers is required to create a contact"
                )
        if seeding:
            phones, emails = list(body["phone_numbers"]), list(body.get("emails") or [])
        else:
            phones = self._details(body.get("phone_numbers"), "phone_numbers")
            emails = self._details(body.get("emails"), "emails")
        key = self._id("contact", contact_id)
        created = int(body.get("created_at", now_s))
        rec: dict[str, Any] = {
            "id": key,
            "direct_link": f"{API_ROOT}/contacts/{key}",
            "first_name": body.get("first_name"),
            "last_name": body.get("last_name"),
            "company_name": body.get("company_name"),
            "description": None,
            "information": body.get("information"),
            "is_shared": True,
            "created_at": created,
            "updated_at": int(body.get("updated_at", created)),
            "phone_numbers": phones,
            "emails": emails,
        }
        self.contacts.put(key, rec, created * 1000)
        self._index(rec, add=True)
        return rec

    def update_contact(self, rec: dict[str, Any], body: dict[str, Any], now_s: int) -> None:
        """Names, company and information only: numbers and emails have their own endpoints."""
        for k in ("first_name", "last_name", "company_name", "information"):
            if k in body:
                rec[k] = body[k]
        rec["updated_at"] = now_s

    def add_detail(self, rec: dict[str, Any], kind: str, item: dict[str, Any], now_s: int) -> None:
        self._index(rec, add=False)
        rec[kind].extend(self._details([item], kind))
        self._index(rec, add=True)
        rec["updated_at"] = now_s

    def delete_contact(self, rec: dict[str, Any]) -> None:
        self._index(rec, add=False)
        self.contacts.remove(rec["id"])
        for key in self.calls.iter_keys():
            call = self.calls.get(key)
            if call is not None and call.get("_contact_id") == rec["id"]:
                call["_contact_id"] = None

    def merge_contacts(self, survivor: dict[str, Any], other: dict[str, Any], now_s: int) -> None:
        """Aircall has no merge API: what a user does in the app with a duplicate. The survivor
        takes the other's numbers and emails it lacks and fills its blank names, company and
        information; the other's calls point at the survivor, then the other is deleted."""
        for rec in self.calls.values():
            if rec.get("_contact_id") == other["id"]:
                rec["_contact_id"] = survivor["id"]
        self.delete_contact(other)
        self._index(survivor, add=False)
        for kind in ("phone_numbers", "emails"):
            have = {digits(i["value"]) if kind == "phone_numbers" else i["value"].lower()
                    for i in survivor[kind]}  # fmt: skip
            for item in other[kind]:
                key = digits(item["value"]) if kind == "phone_numbers" else item["value"].lower()
                if key not in have:
                    survivor[kind].append(dict(item))
                    have.add(key)
        self._index(survivor, add=True)
        for name in ("first_name", "last_name", "company_name", "information"):
            if not survivor.get(name) and other.get(name):
                survivor[name] = other[name]
        survivor["updated_at"] = max(now_s, int(survivor["updated_at"]))

    def search_contacts(self, phone: str | None, email: str | None) -> list[int]:
        found: set[int] | None = None
        if phone:
            found = set(self.phones.get(digits(phone), set()))
        if email:
            by_email = self.emails.get(email.strip().lower(), set())
            found = set(by_email) if found is None else found & by_email
        return sorted(found or ())

    # -- calls -----------------------------------------------------------------------------

    def add_call(self, call: dict[str, Any]) -> None:
        self.calls.put(call["id"], call, call["started_at"] * 1000)
        self._next["call"] = max(self._next["call"], call["id"] + 1)

    def place_call(
        self,
        raw_digits: str,
        started_at: int,
        *,
        direction: str = "inbound",
        duration: int = 60,
        user_id: int | None = None,
        number_id: int | None = None,
        contact_id: int | None = None,
    ) -> dict[str, Any]:
        """A call that happened (the Public API cannot create calls): answered when it has an
        agent, else missed."""
        call_id = self._id("call")
        answered = user_id is not None
        call = {
            "id": call_id,
            "direct_link": f"{API_ROOT}/calls/{call_id}",
            "direction": direction,
            "status": "done",
            "missed_call_reason": None if answered else "no_available_agent",
            "started_at": started_at,
            "answered_at": started_at + 5 if answered else None,
            "ended_at": started_at + duration,
            "duration": duration,
            "raw_digits": raw_digits,
            "voicemail": None,
            "recording": None,
            "asset": None,
            "archived": False,
            "assigned_to": None,
            "tags": [],
            "comments": [],
            "teams": [],
            "transferred_by": None,
            "transferred_to": None,
            "cost": "0.0",
            "_contact_id": contact_id,
            "_user_id": user_id,
            "_number_id": number_id,
        }
        self.add_call(call)
        return call

    def call_json(self, call: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in call.items() if not k.startswith("_")}
        contact_id = call.get("_contact_id")
        contact = self.contacts.get(contact_id) if contact_id is not None else None
        out["contact"] = dict(contact) if contact is not None else None
        user = self.users.get(call.get("_user_id") or -1)
        out["user"] = dict(user) if user is not None else None
        number = self.numbers.get(call.get("_number_id") or -1)
        out["number"] = dict(number) if number is not None else None
        return out
