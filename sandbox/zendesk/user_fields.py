"""The account's custom user fields (``/api/v2/user_fields``) and how user values follow them.

Why a module of its own: which keys a user's ``user_fields`` holds is account configuration,
created by an admin. A user reads back every defined key (``null`` when unset); a write
changes only the keys it names, ignores keys the account does not define, and refuses a
value of the wrong type with the 422 ``RecordInvalid`` Zendesk sends.
Callers hold ``SandboxState.lock``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sandbox.zendesk.errors import ZendeskError, record_invalid

__all__ = ["USER_FIELD_TYPES", "UserFields"]

USER_FIELD_TYPES = (
    "text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "dropdown",
    "lookup", "multiselect",
)  # fmt: skip
_KEY = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_]+$")


def _coerce(kind: str, key: str, value: Any) -> Any:
    """A value as Zendesk stores it for a field of ``kind`` (None clears it)."""
    if value is None or value == "":
        return None
    if kind == "checkbox":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false", "1", "0"):
            return str(value).lower() in ("true", "1")
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
    elif kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            return float(str(value))
        except ValueError:
            pass
    elif kind == "date":
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            pass
    else:
        return value if isinstance(value, list) else str(value)
    raise record_invalid(key, f"{key}: is invalid")


class UserFields:
    """Definitions in position order, keyed by ``key``."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self._next_id = 360_000_000_001

    def add(self, body: Any, stamp: str) -> dict[str, Any]:
        """``POST /user_fields`` with ``{"user_field": {type, key, title}}``."""
        if not isinstance(body, dict):
            raise record_invalid("user_field", "User field: is invalid")
        kind = body.get("type") or "text"
        key = str(body.get("key") or "")
        title = str(body.get("title") or "").strip()
        if kind not in USER_FIELD_TYPES:
            raise record_invalid("type", f"Type: {kind} is not a valid field type")
        if not _KEY.match(key):
            raise record_invalid(
                "key", "Key: can only contain letters, numbers and underscores", "InvalidFormat"
            )
        if key in self.fields:
            raise record_invalid("key", "Key: has already been taken", "DuplicateValue")
        if not title:
            raise record_invalid("title", "Title: cannot be blank", "BlankValue")
        field = {
            "id": self._next_id,
            "key": key,
            "type": kind,
            "title": title,
            "raw_title": title,
            "description": str(body.get("description") or ""),
            "raw_description": str(body.get("description") or ""),
            "position": len(self.fields),
            "active": True,
            "system": False,
            "regexp_for_validation": body.get("regexp_for_validation"),
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._next_id += 1
        self.fields[key] = field
        return dict(field)

    def find(self, ref: int) -> dict[str, Any]:
        for field in self.fields.values():
            if field["id"] == ref:
                return dict(field)
        raise ZendeskError(404, {"error": "RecordNotFound", "description": "Not found"})

    def apply(self, given: Any, current: dict[str, Any]) -> dict[str, Any]:
        """``current`` after a write naming ``given``: named defined keys change, others stay."""
        if not isinstance(given, dict):
            raise record_invalid("user_fields", "User fields: is invalid")
        out = dict(current)
        for key, value in given.items():
            field = self.fields.get(str(key))
            if field is not None:
                out[field["key"]] = _coerce(field["type"], field["key"], value)
        return out

    def render(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every defined key, as a user reads back."""
        return {key: values.get(key) for key in self.fields}
