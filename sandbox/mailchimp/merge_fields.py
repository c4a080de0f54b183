"""One audience's merge field definitions, and the rules member values follow.

Why a module of its own: the tags a member's ``merge_fields`` may carry are account
configuration (``POST /lists/{id}/merge-fields`` adds one), not a fixed fact. Writes ignore
tags the audience does not define, as Mailchimp does; a number field refuses text.
Callers hold ``SandboxState.lock``.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.mailchimp.errors import MailchimpError

__all__ = ["MERGE_FIELDS", "MERGE_FIELD_TYPES", "MergeFields"]

# (tag, name, type): FNAME/LNAME/PHONE are Mailchimp's defaults, the rest custom text fields.
MERGE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("PHONE", "Phone Number", "phone"),
    ("COMPANY", "Company", "text"),
    ("JOBTITLE", "Job Title", "text"),
    ("LIFECYCLE", "Lifecycle Stage", "text"),
    ("CITY", "City", "text"),
    ("COUNTRY", "Country", "text"),
)
MERGE_FIELD_TYPES = (
    "text", "number", "address", "phone", "date", "url", "imageurl", "radio", "dropdown",
    "birthday", "zip",
)  # fmt: skip
_TAG = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")
_INVALID = (
    "The resource submitted could not be validated. For field-specific details, "
    "see the 'errors' array."
)


def _invalid(field: str, message: str) -> MailchimpError:
    return MailchimpError(400, "Invalid Resource", _INVALID, [{"field": field, "message": message}])


def _number(tag: str, value: Any) -> int | float | str:
    """A number field's stored value: the number, or "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise _invalid(tag, "Please enter a number")
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise _invalid(tag, "Please enter a number") from None
    return int(number) if number.is_integer() else number


class MergeFields:
    """The definitions, in display order, and how a write's values are stored."""

    def __init__(self, list_id: str) -> None:
        self.list_id = list_id
        self.fields: list[dict[str, Any]] = []
        for tag, name, kind in MERGE_FIELDS:
            self._define({"tag": tag, "name": name, "type": kind})

    def _define(self, body: dict[str, Any]) -> dict[str, Any]:
        merge_id = len(self.fields) + 1
        kind = body["type"]
        default_options = {"phone_format": "none"} if kind == "phone" else {"size": 25}
        field = {
            "merge_id": merge_id,
            "tag": body.get("tag") or f"MMERGE{merge_id}",
            "name": body["name"],
            "type": kind,
            "required": bool(body.get("required", False)),
            "default_value": str(body.get("default_value") or ""),
            "public": bool(body.get("public", True)),
            "display_order": int(body.get("display_order") or merge_id + 1),
            "options": dict(body.get("options") or default_options),
            "help_text": str(body.get("help_text") or ""),
            "list_id": self.list_id,
            "_links": [],
        }
        self.fields.append(field)
        return field

    def types(self) -> dict[str, str]:
        return {f["tag"]: f["type"] for f in self.fields}

    def add(self, body: Any) -> dict[str, Any]:
        """``POST /lists/{id}/merge-fields``: name and type required, tags unique."""
        if not isinstance(body, dict):
            raise _invalid("", "Schema describes object, NULL found instead")
        for required in ("name", "type"):
            if not body.get(required):
                raise _invalid(required, "This value should not be blank.")
        if body["type"] not in MERGE_FIELD_TYPES:
            raise _invalid(
                "type",
                "Schema describes enum, input does not match any of the allowed values: "
                + ", ".join(MERGE_FIELD_TYPES),
            )
        tag = str(body.get("tag") or "").strip().upper()
        if tag and not _TAG.match(tag):
            raise _invalid("tag", "Merge tags are at most 10 letters, digits or underscores.")
        if tag in self.types():
            raise MailchimpError(
                400,
                "Invalid Resource",
                f'A Merge Field with the tag "{tag}" already exists for this list.',
            )
        return dict(self._define({**body, "tag": tag}))

    def apply(self, given: Any, current: dict[str, Any] | None) -> dict[str, Any]:
        """A member's merge fields after a write of ``given`` over ``current``."""
        if given is not None and not isinstance(given, dict):
            raise _invalid("merge_fields", "Schema describes object, NULL found instead")
        types = self.types()
        out: dict[str, Any] = dict(current) if current is not None else dict.fromkeys(types, "")
        for key, value in (given or {}).items():
            tag = str(key).upper()
            kind = types.get(tag)
            if kind is None:
                continue  # unknown tags are ignored, as Mailchimp does
            out[tag] = (
                _number(tag, value) if kind == "number" else ("" if value is None else str(value))
            )
        return out
