"""One HubSpot object type's property definitions: built-in ones and the account's custom ones.

Why a module of its own: which properties exist, which are writable and which are unique
(usable as an upsert ``idProperty``) is account configuration, changed through
``/crm/v3/properties/{objectType}``, not a fixed fact of the object type. An account starts
with revsync's ``revsync_unified_id`` already created (so every test need not create it); a test
archives it to see what a connector does in an account where nobody created it.
Callers hold ``SandboxState.lock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.timefmt import iso_ms_z

if TYPE_CHECKING:
    from sandbox.hubspot.store import ObjectKind

__all__ = ["FIELD_TYPES", "PROPERTY_TYPES", "PropertyError", "PropertySchema"]

PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
FIELD_TYPES = (
    "text", "textarea", "number", "date", "select", "radio", "checkbox", "booleancheckbox",
    "file", "phonenumber", "html", "calculation_equation",
)  # fmt: skip
_UNIQUE_TYPES = ("string", "number")
_BUILTIN_UNIQUE = frozenset({"email"})
"""Unique properties HubSpot itself defines; any other unique one is the account's own."""
_LABELS = {"associatedcompanyid": "Primary Associated Company ID"}


class PropertyError(Exception):
    """A refused property call: (status, category, message), rendered by the routes."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context: dict[str, list[str]] = {}
        self.sub_category: str | None = None


class PropertySchema:
    """Definitions of one object type's properties, with what writes and upserts may use."""

    def __init__(self, kind: ObjectKind, now_ms: int = 0) -> None:
        self.kind = kind
        self.builtin = frozenset(
            (kind.writable - kind.unique) | (kind.unique & _BUILTIN_UNIQUE) | kind.readonly
        )
        self.custom: dict[str, dict[str, Any]] = {}
        for name in sorted(kind.unique - _BUILTIN_UNIQUE):
            self.custom[name] = _definition(
                name,
                {"label": "revsync unified id", "type": "string", "fieldType": "text"},
                group=self.group,
                unique=True,
                now_ms=now_ms,
            )

    @property
    def group(self) -> str:
        return f"{self.kind.label.lower()}information"

    @property
    def writable(self) -> frozenset[str]:
        own = frozenset(self.custom)
        return (self.kind.writable - self.kind.unique) | (self.kind.unique & _BUILTIN_UNIQUE) | own

    @property
    def unique(self) -> frozenset[str]:
        own = frozenset(n for n, d in self.custom.items() if d["hasUniqueValue"])
        return (self.kind.unique & _BUILTIN_UNIQUE) | own

    def get(self, name: str) -> dict[str, Any]:
        if name in self.custom:
            return dict(self.custom[name])
        if name in self.builtin:
            return self._builtin(name)
        raise PropertyError(
            404,
            "OBJECT_NOT_FOUND",
            f"Unable to find property {name} for object type {self.kind.name}",
        )

    def all(self) -> list[dict[str, Any]]:
        return [self._builtin(n) for n in sorted(self.builtin)] + [
            dict(self.custom[n]) for n in sorted(self.custom)
        ]

    def create(self, body: Any, now_ms: int) -> dict[str, Any]:
        """Define a custom property (``PropertyCreate``); 409 when the name is taken."""
        if not isinstance(body, dict):
            raise PropertyError(400, "VALIDATION_ERROR", "Invalid input JSON")
        missing = [
            f for f in ("name", "label", "type", "fieldType", "groupName") if not body.get(f)
        ]
        if missing:
            raise PropertyError(
                400, "VALIDATION_ERROR", f"Missing required fields: {', '.join(missing)}"
            )
        name = str(body["name"])
        if name in self.custom or name in self.builtin:
            raise PropertyError(
                409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."
            )
        if body["type"] not in PROPERTY_TYPES or body["fieldType"] not in FIELD_TYPES:
            raise PropertyError(
                400,
                "VALIDATION_ERROR",
                f"Invalid type/fieldType {body['type']}/{body['fieldType']}; types: "
                f"{', '.join(PROPERTY_TYPES)}",
            )
        unique = bool(body.get("hasUniqueValue", False))
        if unique and body["type"] not in _UNIQUE_TYPES:
            raise PropertyError(
                400,
                "VALIDATION_ERROR",
                f"hasUniqueValue is only supported for {' and '.join(_UNIQUE_TYPES)} properties",
            )
        self.custom[name] = _definition(
            name, body, group=str(body["groupName"]), unique=unique, now_ms=now_ms
        )
        return dict(self.custom[name])

    def archive(self, name: str) -> None:
        """Drop a custom property (HubSpot keeps built-in ones: 400)."""
        if name in self.builtin:
            raise PropertyError(
                400,
                "VALIDATION_ERROR",
                f"Property {name} is defined by HubSpot and cannot be archived",
            )
        if self.custom.pop(name, None) is None:
            self.get(name)  # raises the 404

    def _builtin(self, name: str) -> dict[str, Any]:
        kind = self.kind
        if name in kind.number_properties or name == "hs_object_id":
            ptype, field = "number", "number"
        elif name in kind.flags:
            ptype, field = "bool", "booleancheckbox"
        elif name in kind.date_properties or name in kind.readonly:
            ptype, field = "datetime", "date"
        elif name in kind.enumerations:
            ptype, field = "enumeration", "select"
        else:
            ptype, field = "string", "text"
        if name == "hs_merged_object_ids":
            ptype, field = "enumeration", "checkbox"
        out = _definition(
            name,
            {"label": _LABELS.get(name, name), "type": ptype, "fieldType": field},
            group=self.group,
            unique=name in _BUILTIN_UNIQUE,
            now_ms=0,
        )
        out["hubspotDefined"] = True
        out["modificationMetadata"]["archivable"] = False
        out["modificationMetadata"]["readOnlyValue"] = name in kind.readonly
        out["options"] = [
            {"label": v, "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(kind.enumerations.get(name, ()))
        ]
        return out


def _definition(
    name: str, body: dict[str, Any], *, group: str, unique: bool, now_ms: int
) -> dict[str, Any]:
    """The ``Property`` shape HubSpot answers with."""
    stamp = iso_ms_z(now_ms)
    return {
        "name": name,
        "label": str(body.get("label") or name),
        "type": body.get("type", "string"),
        "fieldType": body.get("fieldType", "text"),
        "description": str(body.get("description") or ""),
        "groupName": group,
        "options": list(body.get("options") or []),
        "displayOrder": int(body.get("displayOrder", -1)),
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": bool(body.get("hidden", False)),
        "formField": bool(body.get("formField", False)),
        "hubspotDefined": False,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": False,
            "readOnlyValue": False,
        },
    }
