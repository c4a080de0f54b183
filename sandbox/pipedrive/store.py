"""Pipedrive persons, organizations and deals in memory, with Pipedrive's rules and budget.

Kept apart from the routes so the seed loader and tests share the rules: integer ids, soft
deletes, merges (the merged-away id is gone), ``emails``/``phones`` arrays, custom fields keyed
by 40-character hashes, second-precision ``update_time``; and the token-based rate limit
(each endpoint costs tokens against a daily budget, plus a burst window of requests per 2 s).
Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.credentials import (
    SANDBOX_PIPEDRIVE_DEAL_UNIFIED_ID_FIELD,
    SANDBOX_PIPEDRIVE_ORG_UNIFIED_ID_FIELD,
    SANDBOX_PIPEDRIVE_PERSON_UNIFIED_ID_FIELD,
)
from sandbox.ratelimit import WindowLimiter
from sandbox.store import RecordStore

__all__ = [
    "DEAL_REVSYNC_FIELD",
    "ORG_REVSYNC_FIELD",
    "PERSON_REVSYNC_FIELD",
    "PipedriveData",
    "PipedriveEntity",
    "PipedriveError",
    "TokenLimiter",
    "pd_time",
]


PERSON_REVSYNC_FIELD = SANDBOX_PIPEDRIVE_PERSON_UNIFIED_ID_FIELD
ORG_REVSYNC_FIELD = SANDBOX_PIPEDRIVE_ORG_UNIFIED_ID_FIELD
DEAL_REVSYNC_FIELD = SANDBOX_PIPEDRIVE_DEAL_UNIFIED_ID_FIELD
OWNER_ID = 13_371_001
MARKETING_STATUSES = ("no_consent", "unsubscribed", "subscribed", "archived")
"""A person's ``marketing_status`` (the Campaigns product, enabled in the sandbox account)."""


class PipedriveError(Exception):
    """A Pipedrive error: ``{success: false, error, error_info, data: null, ...}``."""

    def __init__(self, status: int, error: str, info: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.info = info or "Please check developers.pipedrive.com for more information."

    def body(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": self.error,
            "errorCode": self.status,
            "error_info": self.info,
            "data": None,
            "additional_data": None,
        }


def pd_time(ms: int) -> str:
    """Pipedrive v2 timestamps: RFC 3339, UTC, second precision (2024-01-01T00:00:00Z)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pd_v1_time(ms: int) -> str:
    """Pipedrive v1 timestamps: ``2024-01-01 00:00:00`` (UTC)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class EntityKind:
    name: str  # persons | organizations | deals
    singular: str
    label: str
    writable: frozenset[str]
    custom_fields: frozenset[str]
    required: str  # name | title


PERSON = EntityKind(
    "persons",
    "person",
    "Person",
    frozenset(
        {
            "name",
            "first_name",
            "last_name",
            "owner_id",
            "org_id",
            "emails",
            "phones",
            "visible_to",
            "label_ids",
            "job_title",
            "marketing_status",
            "custom_fields",
            "add_time",
        }
    ),
    frozenset({PERSON_REVSYNC_FIELD}),
    "name",
)
ORGANIZATION = EntityKind(
    "organizations",
    "organization",
    "Organization",
    frozenset(
        {
            "name",
            "owner_id",
            "address",
            "website",
            "visible_to",
            "label_ids",
            "custom_fields",
            "add_time",
        }
    ),
    frozenset({ORG_REVSYNC_FIELD}),
    "name",
)
DEAL = EntityKind(
    "deals",
    "deal",
    "Deal",
    frozenset(
        {
            "title",
            "owner_id",
            "person_id",
            "org_id",
            "pipeline_id",
            "stage_id",
            "value",
            "currency",
            "status",
            "probability",
            "lost_reason",
            "visible_to",
            "label_ids",
            "expected_close_date",
            "custom_fields",
            "add_time",
        }
    ),
    frozenset({DEAL_REVSYNC_FIELD}),
    "title",
)


def _contact_list(value: Any, what: str) -> list[dict[str, Any]]:
    """Normalize an ``emails``/``phones`` payload: list of {value, primary, label}."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PipedriveError(400, f"{what} must be an array")
    out: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise PipedriveError(400, f"{what} items must have a string value")
        out.append(
            {
                "value": item["value"],
                "primary": bool(item.get("primary", False)),
                "label": str(item.get("label") or "work"),
            }
        )
    if out and not any(i["primary"] for i in out):
        out[0]["primary"] = True
    return out


class PipedriveEntity:
    """One entity type: active rows in a modification-indexed store, merges, soft deletes."""

    def __init__(self, kind: EntityKind, first_id: int) -> None:
        self.kind = kind
        self.store: RecordStore[int] = RecordStore()
        self.deleted: dict[int, dict[str, Any]] = {}
        self.merged_into: dict[int, int] = {}
        self.marketing_changed: set[int] = set()
        """Persons whose marketing status changed once already (the one change allowed)."""
        self._first_id = first_id
        self.next_id = first_id

    def clear(self) -> None:
        self.__init__(self.kind, self._first_id)  # type: ignore[misc]

    def get(self, record_id: int) -> dict[str, Any] | None:
        return self.store.get(record_id)

    def not_found(self) -> PipedriveError:
        return PipedriveError(404, f"{self.kind.label} not found")

    def _clean(self, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name not in self.kind.writable:
                continue  # Pipedrive ignores unknown top-level fields
            if name in ("emails", "phones"):
                out[name] = _contact_list(value, name)
            elif name == "marketing_status":
                if value not in MARKETING_STATUSES:
                    raise PipedriveError(
                        400, f"marketing_status must be one of {', '.join(MARKETING_STATUSES)}"
                    )
                out[name] = value
            elif name == "custom_fields":
                if not isinstance(value, dict):
                    raise PipedriveError(400, "custom_fields must be an object")
                unknown = [k for k in value if k not in self.kind.custom_fields]
                if unknown:
                    raise PipedriveError(
                        400, f"Custom field with key '{unknown[0]}' does not exist"
                    )
                out[name] = dict(value)
            else:
                out[name] = value
        required = self.kind.required
        if creating and not str(out.get(required) or "").strip():
            if required == "name" and (out.get("first_name") or out.get("last_name")):
                out["name"] = " ".join(
                    str(p) for p in (out.get("first_name"), out.get("last_name")) if p
                )
            else:
                raise PipedriveError(400, f"{required.capitalize()} is required")
        if not creating and required in out and not str(out[required] or "").strip():
            raise PipedriveError(400, f"{required.capitalize()} must not be empty")
        return out

    def _blank(self, record_id: int, now_ms: int) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "id": record_id,
            "owner_id": OWNER_ID,
            "add_time_ms": now_ms,
            "update_time_ms": now_ms,
            "is_deleted": False,
            "visible_to": 3,
            "label_ids": [],
            "custom_fields": dict.fromkeys(sorted(self.kind.custom_fields)),
        }
        if self.kind is PERSON:
            rec.update(name="", first_name=None, last_name=None, org_id=None, emails=[],
                       phones=[], picture_id=None, job_title=None,
                       marketing_status="no_consent")  # fmt: skip
        elif self.kind is ORGANIZATION:
            rec.update(name="", address=None, website=None)
        else:
            rec.update(title="", person_id=None, org_id=None, pipeline_id=1, stage_id=1,
                       value=0, currency="USD", status="open", probability=None,
                       lost_reason=None, expected_close_date=None)  # fmt: skip
        return rec

    def _split_name(self, rec: dict[str, Any], body: dict[str, Any]) -> None:
        if self.kind is not PERSON:
            return
        if "name" in body and "first_name" not in body and "last_name" not in body:
            first, _, last = str(rec["name"]).strip().partition(" ")
            rec["first_name"], rec["last_name"] = first or None, last or None
        elif ("first_name" in body or "last_name" in body) and "name" not in body:
            rec["name"] = " ".join(p for p in (rec.get("first_name"), rec.get("last_name")) if p)

    def create(
        self,
        body: dict[str, Any],
        now_ms: int,
        *,
        record_id: int | None = None,
        created_ms: int | None = None,
        seeding: bool = False,
    ) -> dict[str, Any]:
        cleaned = dict(body) if seeding else self._clean(body, creating=True)
        cleaned.pop("add_time", None)
        if record_id is None:
            record_id = self.next_id
        self.next_id = max(self.next_id, record_id + 1)
        rec = self._blank(record_id, now_ms)
        custom = cleaned.pop("custom_fields", None) or {}
        rec.update(cleaned)
        rec["custom_fields"].update(custom)
        self._split_name(rec, cleaned)
        rec["add_time_ms"] = created_ms if created_ms is not None else now_ms
        rec["update_time_ms"] = max(now_ms, rec["add_time_ms"])
        self.store.put(record_id, rec, rec["update_time_ms"])
        return rec

    def update(self, rec: dict[str, Any], body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        cleaned = self._clean(body, creating=False)
        status = cleaned.get("marketing_status")
        if status is not None and status != rec.get("marketing_status"):
            # Pipedrive allows one change of a person's marketing status; later ones are
            # ignored (the status stays as it is).
            if rec["id"] in self.marketing_changed:
                cleaned.pop("marketing_status")
            else:
                self.marketing_changed.add(rec["id"])
        custom = cleaned.pop("custom_fields", None) or {}
        cleaned.pop("add_time", None)
        rec.update(cleaned)
        rec["custom_fields"].update(custom)
        self._split_name(rec, cleaned)
        return self.touch(rec, now_ms)

    def touch(self, rec: dict[str, Any], now_ms: int) -> dict[str, Any]:
        rec["update_time_ms"] = max(now_ms, rec["update_time_ms"])
        self.store.put(rec["id"], rec, rec["update_time_ms"])
        return rec

    def delete(self, rec: dict[str, Any], now_ms: int) -> None:
        """Marked as deleted (purged after 30 days): gone from lists and reads."""
        self.store.remove(rec["id"])
        rec["is_deleted"] = True
        rec["update_time_ms"] = max(now_ms, rec["update_time_ms"])
        self.deleted[rec["id"]] = rec

    def merge(self, away: dict[str, Any], keep: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Merge `away` into `keep`: keep's values win, blanks are filled, lists are joined."""
        for name, value in away.items():
            if name in ("id", "add_time_ms", "update_time_ms", "is_deleted"):
                continue
            if name in ("emails", "phones"):
                seen = {str(i["value"]).lower() for i in keep[name]}
                extra = [
                    {**i, "primary": False} for i in value if str(i["value"]).lower() not in seen
                ]
                keep[name] = [*keep[name], *extra]
            elif name == "custom_fields":
                for key, val in value.items():
                    if keep[name].get(key) in (None, ""):
                        keep[name][key] = val
            elif keep.get(name) in (None, "", []) and value not in (None, "", []):
                keep[name] = value
        keep["add_time_ms"] = min(keep["add_time_ms"], away["add_time_ms"])
        self.store.remove(away["id"])
        self.merged_into[away["id"]] = keep["id"]
        return self.touch(keep, now_ms)

    def to_json(self, rec: dict[str, Any], *, marketing: bool = True) -> dict[str, Any]:
        """``marketing``: with ``marketing_status`` (lists and gets return it only when
        ``include_fields`` asks for it; writes always do)."""
        # The spec marks no field nullable: unset fields are left out rather than null.
        out = {k: v for k, v in rec.items() if not k.endswith("_ms") and v is not None}
        if not marketing:
            out.pop("marketing_status", None)
        out["add_time"] = pd_time(rec["add_time_ms"])
        out["update_time"] = pd_time(rec["update_time_ms"])
        out["custom_fields"] = dict(rec["custom_fields"])
        for name in ("emails", "phones", "label_ids"):
            if name in out:
                out[name] = [dict(i) if isinstance(i, dict) else i for i in out[name]]
        return out


class PipedriveData:
    """The sandbox company account: persons, organizations and deals."""

    def __init__(self) -> None:
        self.entities: dict[str, PipedriveEntity] = {
            "persons": PipedriveEntity(PERSON, 1),
            "organizations": PipedriveEntity(ORGANIZATION, 1),
            "deals": PipedriveEntity(DEAL, 1),
        }

    @property
    def persons(self) -> PipedriveEntity:
        return self.entities["persons"]

    @property
    def organizations(self) -> PipedriveEntity:
        return self.entities["organizations"]

    @property
    def deals(self) -> PipedriveEntity:
        return self.entities["deals"]

    def clear(self) -> None:
        for entity in self.entities.values():
            entity.clear()

    def merge(
        self, entity: PipedriveEntity, away: dict[str, Any], keep: dict[str, Any], now_ms: int
    ) -> dict[str, Any]:
        """v1 merge: `keep` wins (see :meth:`PipedriveEntity.merge`) and takes over what
        pointed at `away` (a person's deals, an organization's persons and deals)."""
        field = {"persons": "person_id", "organizations": "org_id"}.get(entity.kind.name)
        if field is not None:
            for other in self.entities.values():
                for key in list(other.store.iter_keys()):
                    rec = other.store.get(key)
                    if rec is not None and rec.get(field) == away["id"]:
                        rec[field] = keep["id"]
                        other.touch(rec, now_ms)
        return entity.merge(away, keep, now_ms)


class TokenLimiter(WindowLimiter):
    """Pipedrive's budget: `max` requests per `interval_ms` burst window, `daily` tokens a day.

    Every request counts once in the burst window and `cost` tokens (the endpoint's
    ``x-token-cost``) against the daily budget. Rejected requests are not charged.
    """

    window_policy = "BURST"

    def reset_in_s(self, key: str) -> int:
        """Seconds until the oldest request leaves the burst window (x-ratelimit-reset)."""
        with self._lock:
            window = self._hits.get(key)
            if not window:
                return 0
            left = window[0] + self.interval_ms / 1000.0 - self._clock()
            return max(0, int(left + 0.999))
