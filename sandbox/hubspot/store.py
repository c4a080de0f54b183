"""HubSpot CRM objects (contacts, companies, deals) in memory, with HubSpot's write rules.

Kept apart from the HTTP routes so the control plane and the seed loader use the same rules
(lowercased emails, unique email, read-only properties, enumeration options, merges).
Associations live beside the objects; archiving or merging an object drops or moves its
links. A contact's ``associatedcompanyid`` (HubSpot's "Primary Associated Company ID") is
calculated from its links, never stored: it is read-only (a write is refused with
READ_ONLY_VALUE like ``createdate``; this sandbox does not model HubSpot's legacy
set-the-company-by-property path), and when it changes (a first company, another primary, the
primary removed, merged or archived) HubSpot recalculates it, which modifies the contact: its
``lastmodifieddate`` moves to the time of the change. Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.associations import PRIMARY_OWNERS, HubSpotAssociations
from sandbox.hubspot.properties import PropertySchema
from sandbox.store import RecordStore
from sandbox.timefmt import iso_ms_z, parse_instant_ms

__all__ = [
    "COMPANY_KIND",
    "CONTACT_KIND",
    "DEAL_KIND",
    "DEAL_PIPELINES",
    "DEAL_STAGES",
    "LIFECYCLE_STAGES",
    "OBJECT_TYPE_IDS",
    "PORTAL_ID",
    "HubSpotData",
    "HubSpotError",
    "HubSpotObjects",
    "HubSpotRecord",
    "ObjectKind",
]

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
"""The stages of HubSpot's default sales pipeline (internal values)."""
DEAL_PIPELINES = ("default",)
OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
"""HubSpot's objectTypeIds, accepted wherever an object type name is."""
PORTAL_ID = 24_681_357
"""The sandbox account's HubSpot portal (hub) id, as error messages name it."""
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")


class HubSpotError(Exception):
    """A HubSpot error response: rendered with category, correlationId, message, context."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = context or {}
        self.sub_category = sub_category


@dataclass(frozen=True)
class ObjectKind:
    """What differs between object types: property names, unique keys, defaults."""

    name: str
    label: str
    mtime_property: str
    writable: frozenset[str]
    unique: frozenset[str]
    default_properties: tuple[str, ...]
    enumerations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_properties: frozenset[str] = frozenset()
    number_properties: frozenset[str] = frozenset()
    computed: frozenset[str] = frozenset()
    """Read-only properties HubSpot calculates from other data (never stored on a record)."""
    flags: frozenset[str] = frozenset()
    """Read-only booleans stored on a record and set by HubSpot's own features (the
    subscription preferences' ``hs_email_optout``): the CRM API reads them, never writes."""

    @property
    def readonly(self) -> frozenset[str]:
        return frozenset(
            {"hs_object_id", "createdate", self.mtime_property, "hs_merged_object_ids"}
            | self.computed
            | self.flags
        )


CONTACT_KIND = ObjectKind(
    name="contacts",
    label="CONTACT",
    mtime_property="lastmodifieddate",
    writable=frozenset(
        {
            "email",
            "firstname",
            "lastname",
            "phone",
            "mobilephone",
            "company",
            "jobtitle",
            "lifecyclestage",
            "city",
            "state",
            "zip",
            "country",
            "address",
            "website",
            "hs_lead_status",
            "hs_additional_emails",
            "revsync_unified_id",
        }
    ),
    unique=frozenset({"email", "revsync_unified_id"}),
    default_properties=(
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    enumerations={"lifecyclestage": LIFECYCLE_STAGES},
    number_properties=frozenset({"associatedcompanyid"}),
    computed=frozenset({"associatedcompanyid"}),
    flags=frozenset({"hs_email_optout"}),
)
COMPANY_KIND = ObjectKind(
    name="companies",
    label="COMPANY",
    mtime_property="hs_lastmodifieddate",
    writable=frozenset(
        {"name", "domain", "phone", "city", "country", "industry", "website", "revsync_unified_id"}
    ),
    unique=frozenset({"revsync_unified_id"}),
    default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    enumerations={"lifecyclestage": LIFECYCLE_STAGES},
)
DEAL_KIND = ObjectKind(
    name="deals",
    label="DEAL",
    mtime_property="hs_lastmodifieddate",
    writable=frozenset(
        {
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "hubspot_owner_id",
            "description",
            "dealtype",
            "deal_currency_code",
            "revsync_unified_id",
        }
    ),
    unique=frozenset({"revsync_unified_id"}),
    default_properties=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    enumerations={"dealstage": DEAL_STAGES, "pipeline": DEAL_PIPELINES},
    date_properties=frozenset({"closedate"}),
    number_properties=frozenset({"amount", "hubspot_owner_id"}),
)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _as_property_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class HubSpotRecord:
    """One object as stored: properties without the derived ones (id, dates)."""

    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None


class HubSpotObjects:
    """One object type's records, property definitions, unique indexes and merge history."""

    def __init__(self, kind: ObjectKind, first_id: int) -> None:
        self.kind = kind
        self.store: RecordStore[int] = RecordStore()
        self.archived: dict[int, HubSpotRecord] = {}
        self.merged_into: dict[int, int] = {}
        self.properties = PropertySchema(kind)
        self._unique: dict[str, dict[str, int]] = {p: {} for p in self.properties.unique}
        self._first_id = first_id
        self.next_id = first_id
        self.on_gone: Callable[[int, int | None, int], None] | None = None
        """Called with (id, survivor id | None, now) when a record is archived or merged away."""
        self.computed: dict[str, Callable[[HubSpotRecord], str | None]] = {}
        """How each of `kind.computed` is calculated (set by `HubSpotData`)."""

    def clear(self) -> None:
        on_gone, computed = self.on_gone, self.computed
        self.__init__(self.kind, self._first_id)  # type: ignore[misc]
        self.on_gone, self.computed = on_gone, computed

    # -- lookups ---------------------------------------------------------------------------

    def record(self, object_id: int) -> HubSpotRecord | None:
        raw = self.store.get(object_id)
        return raw["r"] if raw is not None else None

    def resolve(self, value: str, id_property: str | None = None) -> HubSpotRecord | None:
        """Find an active record by id or by a unique property value (email is case-blind)."""
        if id_property in (None, "", "hs_object_id"):
            if not value.isdigit():
                return None
            return self.record(int(value))
        if id_property not in self._unique:
            raise self.not_unique(str(id_property))
        key = value.strip().lower() if id_property == "email" else value
        object_id = self._unique[id_property].get(key)
        return self.record(object_id) if object_id is not None else None

    @property
    def unique_properties(self) -> frozenset[str]:
        """Properties an upsert or a lookup may key on (``idProperty``)."""
        return frozenset(self._unique)

    def not_unique(self, id_property: str) -> HubSpotError:
        """HubSpot's answer to an ``idProperty`` that is not a unique property (or none)."""
        type_id = next(k for k, v in OBJECT_TYPE_IDS.items() if v == self.kind.name)
        return HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Unable to perform update/upsert by non-unique {type_id} property {id_property} "
            f"in portal ID {PORTAL_ID}",
            context={"idProperty": [id_property]},
        )

    def define_property(self, body: Any, now_ms: int) -> dict[str, Any]:
        """Create a custom property; a unique one becomes usable as an upsert key."""
        created = self.properties.create(body, now_ms)
        if created["hasUniqueValue"]:
            self._unique[created["name"]] = {}
        return created

    def archive_property(self, name: str) -> None:
        """Drop a custom property and every record's value of it."""
        self.properties.archive(name)
        self._unique.pop(name, None)
        for raw in self.store.values():
            raw["r"].properties.pop(name, None)

    def property_value(self, rec: HubSpotRecord, name: str) -> str | None:
        if name == "hs_object_id":
            return str(rec.id)
        if name == "createdate":
            return iso_ms_z(rec.created_ms)
        if name == self.kind.mtime_property:
            return iso_ms_z(rec.updated_ms)
        if name in self.kind.computed:
            calculate = self.computed.get(name)
            return calculate(rec) if calculate is not None else None
        return rec.properties.get(name)

    def to_json(self, rec: HubSpotRecord, properties: list[str] | None) -> dict[str, Any]:
        names: list[str] = list(properties) if properties else list(self.kind.default_properties)
        if properties:
            for always in ("hs_object_id", "createdate", self.kind.mtime_property):
                if always not in names:
                    names.append(always)
        out: dict[str, Any] = {
            "id": str(rec.id),
            "properties": {n: self.property_value(rec, n) for n in names},
            "createdAt": iso_ms_z(rec.created_ms),
            "updatedAt": iso_ms_z(rec.updated_ms),
            "archived": rec.archived_ms is not None,
        }
        if rec.archived_ms is not None:
            out["archivedAt"] = iso_ms_z(rec.archived_ms)
        return out

    # -- writes ----------------------------------------------------------------------------

    def _clean(self, properties: dict[str, Any], *, seeding: bool) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: properties")
        cleaned: dict[str, str | None] = {}
        problems: list[str] = []
        for name, raw in properties.items():
            value = _as_property_value(raw)
            if seeding:
                cleaned[name] = value
                continue
            if name in self.kind.readonly:
                problems.append(
                    f'{{"isValid":false,"message":"{name} is a read only property; its value '
                    f'cannot be set.","error":"READ_ONLY_VALUE","name":"{name}"}}'
                )
                continue
            if name not in self.properties.writable:
                problems.append(
                    f'{{"isValid":false,"message":"Property \\"{name}\\" does not exist",'
                    f'"error":"PROPERTY_DOESNT_EXIST","name":"{name}"}}'
                )
                continue
            if value and name == "email":
                value = value.strip().lower()
                if not _EMAIL_RE.match(value):
                    problems.append(
                        f'{{"isValid":false,"message":"Email address {value} is invalid",'
                        f'"error":"INVALID_EMAIL","name":"email"}}'
                    )
                    continue
            if value and name in self.kind.date_properties:
                try:
                    value = iso_ms_z(parse_instant_ms(value))
                except ValueError:
                    problems.append(
                        f'{{"isValid":false,"message":"{value} is not a valid datetime",'
                        f'"error":"INVALID_DATE","name":"{name}"}}'
                    )
                    continue
            if value and name in self.kind.number_properties and not _is_number(value):
                problems.append(
                    f'{{"isValid":false,"message":"{value} was not a valid number.",'
                    f'"error":"INVALID_FLOAT","name":"{name}"}}'
                )
                continue
            options = self.kind.enumerations.get(name)
            if value and options and value not in options:
                problems.append(
                    f'{{"isValid":false,"message":"{value} was not one of the allowed options: '
                    f'{", ".join(options)}","error":"INVALID_OPTION","name":"{name}"}}'
                )
                continue
            cleaned[name] = value if value != "" else None
        if problems:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: [" + ",".join(problems) + "]",
                context={"properties": sorted(properties)},
            )
        return cleaned

    def _check_unique(self, cleaned: dict[str, str | None], own_id: int | None) -> None:
        for prop in self._unique:
            value = cleaned.get(prop)
            if not value:
                continue
            key = value.strip().lower() if prop == "email" else value
            existing = self._unique[prop].get(key)
            if existing is not None and existing != own_id:
                label = "Contact" if self.kind.name == "contacts" else "Object"
                raise HubSpotError(
                    409,
                    "CONFLICT",
                    f"{label} already exists. Existing ID: {existing}",
                    context={"existingId": [str(existing)]},
                )

    def _index(self, rec: HubSpotRecord, old: dict[str, str]) -> None:
        for prop, index in self._unique.items():
            before, after = old.get(prop), rec.properties.get(prop)
            if before == after:
                continue
            if before:
                index.pop(before.strip().lower() if prop == "email" else before, None)
            if after:
                index[after.strip().lower() if prop == "email" else after] = rec.id

    def create(
        self,
        properties: dict[str, Any],
        now_ms: int,
        *,
        object_id: int | None = None,
        created_ms: int | None = None,
        seeding: bool = False,
    ) -> HubSpotRecord:
        """Create a record (HubSpot rules unless `seeding`, which loads data as-is)."""
        cleaned = self._clean(properties, seeding=seeding)
        if not seeding:
            self._check_unique(cleaned, None)
        if object_id is None:
            object_id = self.next_id
        self.next_id = max(self.next_id, object_id + 1)
        props = {k: v for k, v in cleaned.items() if v is not None}
        for name in ("hs_object_id", "createdate", self.kind.mtime_property, *self.kind.computed):
            props.pop(name, None)
        rec = HubSpotRecord(object_id, props, created_ms or now_ms, now_ms)
        self.store.put(object_id, {"r": rec}, now_ms)
        self._index(rec, {})
        return rec

    def update(
        self, rec: HubSpotRecord, properties: dict[str, Any], now_ms: int, *, human: bool = False
    ) -> HubSpotRecord:
        """Apply a property change and bump the modification time (HubSpot bumps it always)."""
        cleaned = self._clean(properties, seeding=human)
        self._check_unique(cleaned, rec.id)
        old = dict(rec.properties)
        for name, value in cleaned.items():
            if name in ("hs_object_id", "createdate", self.kind.mtime_property):
                continue
            if name in self.kind.computed:
                continue
            if value is None:
                rec.properties.pop(name, None)
            else:
                rec.properties[name] = value
        rec.updated_ms = max(now_ms, rec.updated_ms)
        self.store.put(rec.id, {"r": rec}, rec.updated_ms)
        self._index(rec, old)
        return rec

    def touch(self, rec: HubSpotRecord, now_ms: int) -> None:
        """Bump the modification time (a calculated property of the record changed)."""
        if rec.archived_ms is not None or self.record(rec.id) is not rec:
            return
        rec.updated_ms = max(now_ms, rec.updated_ms)
        self.store.put(rec.id, {"r": rec}, rec.updated_ms)

    def archive(self, rec: HubSpotRecord, now_ms: int) -> None:
        self.store.remove(rec.id)
        self._index(HubSpotRecord(rec.id, {}, 0, 0), rec.properties)
        rec.archived_ms = now_ms
        self.archived[rec.id] = rec
        if self.on_gone is not None:
            self.on_gone(rec.id, None, now_ms)

    def merge(self, primary: HubSpotRecord, secondary: HubSpotRecord, now_ms: int) -> HubSpotRecord:
        """Merge `secondary` into `primary`: primary's values win, blanks are filled."""
        old = dict(primary.properties)
        self.store.remove(secondary.id)
        self._index(HubSpotRecord(secondary.id, {}, 0, 0), secondary.properties)
        for name, value in secondary.properties.items():
            if name in self._unique:
                continue
            primary.properties.setdefault(name, value)
        sec_email = secondary.properties.get("email")
        if sec_email:
            extra = [e for e in primary.properties.get("hs_additional_emails", "").split(";") if e]
            primary.properties["hs_additional_emails"] = ";".join([*extra, sec_email])
        merged = [m for m in primary.properties.get("hs_merged_object_ids", "").split(";") if m]
        merged.append(str(secondary.id))
        merged.extend(
            m for m in secondary.properties.get("hs_merged_object_ids", "").split(";") if m
        )
        primary.properties["hs_merged_object_ids"] = ";".join(merged)
        self.merged_into[secondary.id] = primary.id
        primary.updated_ms = max(now_ms, primary.updated_ms)
        self.store.put(primary.id, {"r": primary}, primary.updated_ms)
        self._index(primary, old)
        if self.on_gone is not None:
            self.on_gone(secondary.id, primary.id, now_ms)
        return primary


class HubSpotData:
    """All HubSpot objects of the sandbox account and the associations between them."""

    def __init__(self) -> None:
        self.objects: dict[str, HubSpotObjects] = {
            "contacts": HubSpotObjects(CONTACT_KIND, first_id=1001),
            "companies": HubSpotObjects(COMPANY_KIND, first_id=5001),
            "deals": HubSpotObjects(DEAL_KIND, first_id=9001),
        }
        self.associations = HubSpotAssociations()
        self.opted_out: set[str] = set()
        """Email addresses opted out of all email (communication preferences), lowercased."""
        for name, objects in self.objects.items():
            objects.on_gone = self._links_follow(name)
        self.contacts.computed["associatedcompanyid"] = self._primary_company

    def _primary_company(self, rec: HubSpotRecord) -> str | None:
        primary = self.associations.primary("contacts", rec.id)
        return str(primary) if primary is not None else None

    def _links_follow(self, object_type: str) -> Callable[[int, int | None, int], None]:
        def gone(object_id: int, survivor: int | None, now_ms: int) -> None:
            owners = self.associations.owners_of(object_type, object_id)
            if survivor is not None:
                owners += self.associations.owners_of(object_type, survivor)
            with self._primaries_watched(owners, now_ms):
                if survivor is None:
                    self.associations.forget(object_type, object_id)
                else:
                    self.associations.move(object_type, object_id, survivor)

        return gone

    @contextmanager
    def _primaries_watched(self, owners: list[tuple[str, int]], now_ms: int) -> Iterator[None]:
        """Bump every contact among `owners` whose primary company the block changes (its
        ``associatedcompanyid`` is recalculated, which modifies the contact)."""
        before = {o: self.associations.primary(*o) for o in owners if o[0] == "contacts"}
        yield
        for (_type, contact_id), was in before.items():
            if self.associations.primary("contacts", contact_id) != was:
                rec = self.contacts.record(contact_id)
                if rec is not None:
                    self.contacts.touch(rec, now_ms)

    def associate(
        self,
        from_type: str,
        from_id: int,
        to_type: str,
        to_id: int,
        now_ms: int,
        *,
        primary: bool = False,
    ) -> bool:
        """Link two objects through the API (False when they already were linked); a contact
        whose primary company this changes is modified at `now_ms`."""
        owners = [*self._owner(from_type, from_id, to_type, to_id)]
        with self._primaries_watched(owners, now_ms):
            return self.associations.associate(from_type, from_id, to_type, to_id, primary=primary)

    def dissociate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, now_ms: int
    ) -> None:
        """Remove a link through the API; removing a contact's primary modifies the contact."""
        owners = [*self._owner(from_type, from_id, to_type, to_id)]
        with self._primaries_watched(owners, now_ms):
            self.associations.dissociate(from_type, from_id, to_type, to_id)

    @staticmethod
    def _owner(from_type: str, from_id: int, to_type: str, to_id: int) -> list[tuple[str, int]]:
        if to_type == "companies" and from_type in PRIMARY_OWNERS:
            return [(from_type, from_id)]
        if from_type == "companies" and to_type in PRIMARY_OWNERS:
            return [(to_type, to_id)]
        return []

    def object_type(self, name: str) -> HubSpotObjects | None:
        """Objects by type name (`deals`) or objectTypeId (`0-3`)."""
        return self.objects.get(OBJECT_TYPE_IDS.get(name, name))

    @property
    def contacts(self) -> HubSpotObjects:
        return self.objects["contacts"]

    @property
    def companies(self) -> HubSpotObjects:
        return self.objects["companies"]

    @property
    def deals(self) -> HubSpotObjects:
        return self.objects["deals"]

    def clear(self) -> None:
        for objects in self.objects.values():
            objects.clear()
        self.associations.clear()
