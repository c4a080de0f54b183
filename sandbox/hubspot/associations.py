"""HubSpot associations between CRM objects (deals ↔ contacts/companies, contacts ↔ companies).

Links are stored once per direction so both ``GET /crm/v4/objects/deals/{id}/associations/
contacts`` and the reverse are O(links). Each direction has HubSpot's own HUBSPOT_DEFINED
association type id; the first company of a deal or contact is its *primary* company and
carries the extra "Primary" type, as in HubSpot, in both directions: the company → contact
link carries "Primary" (type 2) when that company is the contact's first one. Associating
with a Primary type moves the company to the front (the previous primary stays associated,
unlabelled); removing the primary makes the next company primary. Callers hold
`SandboxState.lock`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ASSOCIATION_TYPES",
    "PRIMARY_OWNERS",
    "PRIMARY_TYPES",
    "HubSpotAssociations",
    "association_pair",
]

ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
}
"""Unlabelled HUBSPOT_DEFINED type id of each (from, to) direction."""

PRIMARY_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}
"""The "Primary" type id of directions that have one (the first company is primary)."""
PRIMARY_OWNERS = ("contacts", "deals")
"""Object types that have a primary company (the first of their companies)."""

_BY_TYPE_ID = {
    type_id: pair for table in (ASSOCIATION_TYPES, PRIMARY_TYPES) for pair, type_id in table.items()
}
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}


def association_pair(type_id: int) -> tuple[str, str] | None:
    """(from type, to type) of a HUBSPOT_DEFINED association type id, None when unknown."""
    return _BY_TYPE_ID.get(type_id)


class HubSpotAssociations:
    """Undirected links kept in both directions, in insertion order."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, int], dict[str, list[int]]] = {}

    def clear(self) -> None:
        self._links.clear()

    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, *, primary: bool = False
    ) -> bool:
        """Link two objects (idempotent); False when they already were. With `primary` (a
        direction that has a Primary type), the company becomes the owner's primary."""
        forward = self._links.setdefault((from_type, from_id), {}).setdefault(to_type, [])
        created = to_id not in forward
        if created:
            forward.append(to_id)
            self._links.setdefault((to_type, to_id), {}).setdefault(from_type, []).append(from_id)
        if primary:
            owner = _owner(from_type, from_id, to_type, to_id)
            if owner is not None:
                companies = self._links[(owner[0], owner[1])]["companies"]
                companies.remove(owner[2])
                companies.insert(0, owner[2])
        return created

    def primary(self, owner_type: str, owner_id: int) -> int | None:
        """The primary company of a contact or deal (its first company), None without one."""
        if owner_type not in PRIMARY_OWNERS:
            return None
        companies = self._links.get((owner_type, owner_id), {}).get("companies")
        return companies[0] if companies else None

    def owners_of(self, object_type: str, object_id: int) -> list[tuple[str, int]]:
        """The (type, id) whose primary company a change to this object's links may change:
        the object itself (a contact or deal), or every contact and deal of a company."""
        if object_type in PRIMARY_OWNERS:
            return [(object_type, object_id)]
        if object_type != "companies":
            return []
        links = self._links.get((object_type, object_id), {})
        return [(t, i) for t in PRIMARY_OWNERS for i in links.get(t, ())]

    def targets(self, from_type: str, from_id: int, to_type: str) -> list[int]:
        return list(self._links.get((from_type, from_id), {}).get(to_type, ()))

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        for a, a_id, b, b_id in (
            (from_type, from_id, to_type, to_id),
            (to_type, to_id, from_type, from_id),
        ):
            links = self._links.get((a, a_id), {}).get(b)
            if links is not None and b_id in links:
                links.remove(b_id)

    def forget(self, object_type: str, object_id: int) -> None:
        """Drop every link of an object (it was archived)."""
        for to_type, others in self._links.pop((object_type, object_id), {}).items():
            for other in others:
                back = self._links.get((to_type, other), {}).get(object_type)
                if back is not None and object_id in back:
                    back.remove(object_id)

    def move(self, object_type: str, from_id: int, to_id: int) -> None:
        """Hand an object's links to another one (it was merged into it)."""
        for to_type, others in list(self._links.get((object_type, from_id), {}).items()):
            for other in list(others):
                self.associate(object_type, to_id, to_type, other)
        self.forget(object_type, from_id)

    def types(self, from_type: str, from_id: int, to_type: str, to_id: int) -> list[dict[str, Any]]:
        """The v4 ``associationTypes`` of one link (Primary first when it is the first)."""
        out: list[dict[str, Any]] = []
        if self._is_primary(from_type, from_id, to_type, to_id):
            primary = PRIMARY_TYPES[(from_type, to_type)]
            out.append({"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"})
        unlabelled = ASSOCIATION_TYPES.get((from_type, to_type))
        if unlabelled is not None:
            out.append({"category": "HUBSPOT_DEFINED", "typeId": unlabelled, "label": None})
        return out

    def v3_entries(self, from_type: str, from_id: int, to_type: str) -> list[dict[str, str]]:
        """The v3 ``associations.<toType>.results`` entries: ``{id, type}``, the primary link
        as ``deal_to_company`` and every link as ``deal_to_company_unlabeled``."""
        name = f"{_SINGULAR.get(from_type, from_type)}_to_{_SINGULAR.get(to_type, to_type)}"
        has_primary = (from_type, to_type) in PRIMARY_TYPES
        out: list[dict[str, str]] = []
        for to_id in self.targets(from_type, from_id, to_type):
            if not has_primary:
                out.append({"id": str(to_id), "type": name})
                continue
            if self._is_primary(from_type, from_id, to_type, to_id):
                out.append({"id": str(to_id), "type": name})
            out.append({"id": str(to_id), "type": f"{name}_unlabeled"})
        return out

    def _is_primary(self, from_type: str, from_id: int, to_type: str, to_id: int) -> bool:
        owner = _owner(from_type, from_id, to_type, to_id)
        return owner is not None and self.primary(owner[0], owner[1]) == owner[2]


def _owner(from_type: str, from_id: int, to_type: str, to_id: int) -> tuple[str, int, int] | None:
    """(owner type, owner id, company id) of a link in a direction that has a Primary type."""
    if (from_type, to_type) not in PRIMARY_TYPES:
        return None
    if to_type == "companies":
        return from_type, from_id, to_id
    return to_type, to_id, from_id
