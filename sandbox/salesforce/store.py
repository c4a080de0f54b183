"""Salesforce sObjects (Account, Contact, Opportunity, OpportunityContactRole, Lead) in memory,
with Salesforce's rules.

Kept apart from the routes so the seed loader and tests share the same rules: 18-character
ids with the case-safe suffix, required fields, read-only audit fields, restricted picklists,
External ID lookups, soft deletes (``IsDeleted``, seen by ``queryAll``) and server-side query
cursors that expire, parent-to-child subqueries through the child relationships' names
(`CHILD_RELATIONSHIPS`). Callers hold `SandboxState.lock`.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.salesforce.soql import Condition, Literal, Logical, Query, SoqlError
from sandbox.store import RecordStore

__all__ = [
    "API_VERSION",
    "CHILD_RELATIONSHIPS",
    "CONTACT_ROLES",
    "MERGEABLE",
    "SOBJECTS",
    "ChildRelationship",
    "ChildSelect",
    "FieldDef",
    "QueryCursor",
    "SObjectDef",
    "SObjectTable",
    "SalesforceData",
    "SalesforceError",
    "id18",
    "record_id",
    "sf_datetime",
]

API_VERSION = "62.0"
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_CURSOR_TTL_MS = 15 * 60 * 1000
MAX_OPEN_CURSORS = 10
SYSTEM_USER_ID = "0055g00000AbCdEAAV"
STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
CONTACT_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
"""OpportunityContactRole.Role's values in a new org (admins edit them; the picklist is not
restricted, so the API takes other values too)."""


class SalesforceError(Exception):
    """One Salesforce error: rendered as ``[{"message", "errorCode", "fields"}]``."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


def sf_datetime(ms: int) -> str:
    """Salesforce's dateTime format: 2024-01-01T00:00:00.000+0000."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def id18(id15: str) -> str:
    """Append Salesforce's case-safe 3-character suffix to a 15-character id."""
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for i, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << i
        suffix += _SUFFIX[bits]
    return id15 + suffix


def _base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, rem = divmod(n, 62)
        chars.append(_ID_ALPHABET[rem])
    return "".join(reversed(chars)).rjust(width, "0")


@dataclass(frozen=True)
class FieldDef:
    """What Salesforce's describe says about one field, as far as the sandbox enforces it."""

    name: str
    type: str  # id string email phone datetime date boolean reference picklist double int
    createable: bool = True
    updateable: bool = True
    required: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None
    relationship: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = True  # a picklist refusing values outside `picklist`
    # The name the referenced sObject reads these rows by in a subquery (Account.Contacts).
    child_relationship: str | None = None


def _audit(*, owned: bool = True) -> list[FieldDef]:
    fields = [
        FieldDef("Id", "id", False, False),
        FieldDef("IsDeleted", "boolean", False, False),
        FieldDef("CreatedDate", "datetime", False, False),
        FieldDef("CreatedById", "reference", False, False, reference_to="User"),
        FieldDef("LastModifiedDate", "datetime", False, False),
        FieldDef("LastModifiedById", "reference", False, False, reference_to="User"),
        FieldDef("SystemModstamp", "datetime", False, False),
    ]
    if owned:  # detail rows such as OpportunityContactRole have no owner of their own
        fields.append(FieldDef("OwnerId", "reference", reference_to="User"))
    return fields


@dataclass(frozen=True)
class SObjectDef:
    name: str
    prefix: str
    fields: tuple[FieldDef, ...]
    name_field: str = "Name"
    # False: a delete removes the row (OpportunityContactRole: its IsDeleted is set only when
    # its Opportunity goes to the Recycle Bin, never by deleting the role itself).
    soft_delete: bool = True

    def field(self, name: str) -> FieldDef | None:
        return self._by_lower.get(name.lower())

    @property
    def _by_lower(self) -> dict[str, FieldDef]:
        cache = self.__dict__.get("_lower")
        if cache is None:
            cache = {f.name.lower(): f for f in self.fields}
            object.__setattr__(self, "_lower", cache)
        return cache

    def relationship(self, name: str) -> FieldDef | None:
        for f in self.fields:
            if f.relationship and f.relationship.lower() == name.lower():
                return f
        return None


def _contact() -> SObjectDef:
    return SObjectDef(
        "Contact",
        "003",
        (
            *_audit(),
            FieldDef("MasterRecordId", "reference", False, False, reference_to="Contact"),
            FieldDef(
                "AccountId",
                "reference",
                reference_to="Account",
                relationship="Account",
                child_relationship="Contacts",
            ),
            FieldDef("Salutation", "string"),
            FieldDef("FirstName", "string"),
            FieldDef("LastName", "string", required=True),
            FieldDef("Name", "string", createable=False, updateable=False),
            FieldDef("Email", "email"),
            FieldDef("Phone", "phone"),
            FieldDef("MobilePhone", "phone"),
            FieldDef("Title", "string"),
            FieldDef("Department", "string"),
            FieldDef("MailingStreet", "string"),
            FieldDef("MailingCity", "string"),
            FieldDef("MailingState", "string"),
            FieldDef("MailingPostalCode", "string"),
            FieldDef("MailingCountry", "string"),
            FieldDef("LeadSource", "string"),
            FieldDef("Description", "string"),
            FieldDef("HasOptedOutOfEmail", "boolean"),
            FieldDef("Revsync_Unified_Id__c", "string", external_id=True, unique=True),
        ),
    )


def _account() -> SObjectDef:
    return SObjectDef(
        "Account",
        "001",
        (
            *_audit(),
            FieldDef("MasterRecordId", "reference", False, False, reference_to="Account"),
            FieldDef("Name", "string", required=True),
            FieldDef("Type", "string"),
            FieldDef("Industry", "string"),
            FieldDef("Website", "string"),
            FieldDef("Phone", "phone"),
            FieldDef("BillingStreet", "string"),
            FieldDef("BillingCity", "string"),
            FieldDef("BillingState", "string"),
            FieldDef("BillingPostalCode", "string"),
            FieldDef("BillingCountry", "string"),
            FieldDef("NumberOfEmployees", "int"),
            FieldDef("AnnualRevenue", "double"),
            FieldDef("Description", "string"),
            FieldDef("Revsync_Unified_Id__c", "string", external_id=True),
        ),
    )


def _opportunity() -> SObjectDef:
    return SObjectDef(
        "Opportunity",
        "006",
        (
            *_audit(),
            FieldDef(
                "AccountId",
                "reference",
                reference_to="Account",
                relationship="Account",
                child_relationship="Opportunities",
            ),
            FieldDef("ContactId", "reference", reference_to="Contact", relationship="Contact"),
            FieldDef("Name", "string", required=True),
            FieldDef("StageName", "picklist", required=True, picklist=STAGES),
            FieldDef("CloseDate", "date", required=True),
            FieldDef("Amount", "double"),
            FieldDef("Probability", "double"),
            FieldDef("IsClosed", "boolean", False, False),
            FieldDef("IsWon", "boolean", False, False),
            FieldDef("LeadSource", "string"),
            FieldDef("Description", "string"),
            FieldDef("Revsync_Unified_Id__c", "string", external_id=True, unique=True),
        ),
    )


def _opportunity_contact_role() -> SObjectDef:
    """The people on a deal: one row per Contact and role (a Contact may appear twice, with
    two roles); no Name, no owner, no custom fields."""
    return SObjectDef(
        "OpportunityContactRole",
        "00K",
        (
            *_audit(owned=False),
            # Set on create only: a role never moves to another Opportunity.
            FieldDef(
                "OpportunityId",
                "reference",
                updateable=False,
                required=True,
                reference_to="Opportunity",
                relationship="Opportunity",
                child_relationship="OpportunityContactRoles",
            ),
            FieldDef(
                "ContactId",
                "reference",
                required=True,
                reference_to="Contact",
                relationship="Contact",
                child_relationship="OpportunityContactRoles",
            ),
            FieldDef("Role", "picklist", picklist=CONTACT_ROLES, restricted=False),
            FieldDef("IsPrimary", "boolean"),
        ),
        name_field="Id",
        soft_delete=False,
    )


def _lead() -> SObjectDef:
    return SObjectDef(
        "Lead",
        "00Q",
        (
            *_audit(),
            FieldDef("MasterRecordId", "reference", False, False, reference_to="Lead"),
            FieldDef("FirstName", "string"),
            FieldDef("LastName", "string", required=True),
            FieldDef("Name", "string", createable=False, updateable=False),
            FieldDef("Company", "string", required=True),
            FieldDef("Email", "email"),
            FieldDef("Phone", "phone"),
            FieldDef("MobilePhone", "phone"),
            FieldDef("Title", "string"),
            FieldDef("City", "string"),
            FieldDef("Country", "string"),
            FieldDef("HasOptedOutOfEmail", "boolean"),
            FieldDef(
                "Status",
                "picklist",
                picklist=(
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ),
            ),
            FieldDef("LeadSource", "string"),
            FieldDef("IsConverted", "boolean", False, False),
            FieldDef("ConvertedContactId", "reference", False, False, reference_to="Contact"),
            FieldDef("ConvertedAccountId", "reference", False, False, reference_to="Account"),
            FieldDef("Revsync_Unified_Id__c", "string", external_id=True, unique=True),
        ),
    )


MERGEABLE = frozenset({"Account", "Contact", "Lead"})
"""The sObjects Salesforce can merge (Opportunities cannot)."""
SOBJECTS: dict[str, SObjectDef] = {
    d.name: d
    for d in (_account(), _contact(), _opportunity(), _opportunity_contact_role(), _lead())
}


@dataclass(frozen=True)
class ChildRelationship:
    """A parent's way to its child rows: ``name`` is what a subquery's FROM says."""

    name: str
    child: str  # the child sObject
    field: str  # the child's reference to the parent


def _child_relationships() -> dict[str, dict[str, ChildRelationship]]:
    table: dict[str, dict[str, ChildRelationship]] = {}
    for child in SOBJECTS.values():
        for fd in child.fields:
            if fd.child_relationship and fd.reference_to:
                rel = ChildRelationship(fd.child_relationship, child.name, fd.name)
                table.setdefault(fd.reference_to, {})[fd.child_relationship.lower()] = rel
    return table


CHILD_RELATIONSHIPS = _child_relationships()
"""Parent sObject -> lower-cased relationship name -> the child rows it reads."""


def record_id(sobject: str, serial: int) -> str:
    """The deterministic 18-character id of the `serial`-th row of an sObject type."""
    return id18(SOBJECTS[sobject].prefix + "5g0" + _base62(serial, 9))


@dataclass(frozen=True)
class ChildSelect:
    """A resolved subquery: its rows are read when the parent row is rendered."""

    relationship: ChildRelationship
    fields: tuple[str, ...]
    predicate: Callable[[dict[str, Any]], bool] | None
    order: tuple[tuple[str, bool, bool | None], ...]
    limit: int | None


@dataclass
class QueryCursor:
    """A server-side query result (Salesforce's query locator): ids fixed at query time."""

    locator: str
    sobject: str
    fields: list[str | ChildSelect]
    keys: list[str]
    batch: int
    include_deleted: bool
    last_used_ms: int


def _coerce(fd: FieldDef, value: Any) -> Any:
    """Validate one written value against the field's type; raise like Salesforce."""
    if value is None or (value == "" and fd.type not in ("boolean",)):
        if fd.required:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{fd.name}]",
                [fd.name],
            )  # fmt: skip
        return None
    if fd.type == "boolean":
        if not isinstance(value, bool):
            raise SalesforceError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of boolean from VALUE_STRING value {value}",
            )
        return value
    if fd.type in ("double", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value))
            except ValueError:
                raise SalesforceError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of double from VALUE_STRING value {value}",
                ) from None
        return int(value) if fd.type == "int" else value
    text = value if isinstance(value, str) else str(value)
    if fd.type == "email":
        text = text.strip()
        if not _EMAIL_RE.match(text):
            raise SalesforceError(
                400,
                "INVALID_EMAIL_ADDRESS",
                f"Email: invalid email address: {text}",
                [fd.name],
            )
        return text
    if fd.type == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
            raise SalesforceError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of date from VALUE_STRING value {text} or "
                "request may be missing a required field",
            )
        return text[:10]
    if fd.type == "picklist" and fd.restricted and fd.picklist and text not in fd.picklist:
        raise SalesforceError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{fd.name}: bad value for restricted picklist field: {text}",
            [fd.name],
        )
    return text


class SObjectTable:
    """One sObject type's rows (deleted ones included, flagged) and External ID indexes."""

    def __init__(self, definition: SObjectDef, org_seed: int) -> None:
        self.definition = definition
        self.store: RecordStore[str] = RecordStore()
        self._ext: dict[str, dict[str, set[str]]] = {
            f.name: {} for f in definition.fields if f.external_id
        }
        self._org_seed = org_seed
        self.next_serial = 1

    def clear(self) -> None:
        self.__init__(self.definition, self._org_seed)  # type: ignore[misc]

    def new_id(self, serial: int | None = None) -> str:
        """Deterministic 18-character id: prefix + pod ``5g`` + reserved ``0`` + base62 serial."""
        if serial is None:
            serial = self.next_serial
        self.next_serial = max(self.next_serial, serial + 1)
        return record_id(self.definition.name, serial + self._org_seed)

    # -- lookups ---------------------------------------------------------------------------

    def normalize_id(self, ref: str) -> str | None:
        """18-character id for a 15/18-character reference of this type, None if malformed."""
        if len(ref) == 15 and ref.isalnum():
            ref = id18(ref)
        if len(ref) != 18 or not ref.isalnum() or not ref.startswith(self.definition.prefix):
            return None
        return ref[:15] + ref[15:].upper()

    def get(self, ref: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        key = self.normalize_id(ref)
        rec = self.store.get(key) if key else None
        if rec is None or (rec["IsDeleted"] and not include_deleted):
            return None
        return rec

    def by_external(self, field_name: str, value: str) -> list[dict[str, Any]]:
        ids = self._ext.get(field_name, {}).get(value.lower(), set())
        found = [self.store.get(i) for i in sorted(ids)]
        return [r for r in found if r is not None and not r["IsDeleted"]]

    # -- writes ----------------------------------------------------------------------------

    def _clean(self, values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for raw_name, value in values.items():
            if raw_name == "attributes":
                continue
            fd = self.definition.field(raw_name)
            if fd is None:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{raw_name}' on sobject of type {self.definition.name}",
                )
            allowed = fd.createable if creating else fd.updateable
            if not allowed:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fd.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    [fd.name],
                )
            out[fd.name] = _coerce(fd, value)
        return out

    def _check_unique(self, cleaned: dict[str, Any], own_id: str | None) -> None:
        for name in self._ext:
            fd = self.definition.field(name)
            value = cleaned.get(name)
            if fd is None or not fd.unique or not value:
                continue
            others = [i for i in self._ext[name].get(str(value).lower(), set()) if i != own_id]
            live = [i for i in others if not (self.store.get(i) or {}).get("IsDeleted", True)]
            if live:
                raise SalesforceError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {live[0]}",
                    [name],
                )

    def _reindex(self, rec: dict[str, Any], old: dict[str, Any]) -> None:
        for name, index in self._ext.items():
            before, after = old.get(name), rec.get(name)
            if before == after:
                continue
            if before:
                index.get(str(before).lower(), set()).discard(rec["Id"])
            if after:
                index.setdefault(str(after).lower(), set()).add(rec["Id"])

    def _derive(self, rec: dict[str, Any]) -> None:
        names = self.definition
        if names.field("Name") is not None and names.field("FirstName") is not None:
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if names.name == "Opportunity":
            stage = rec.get("StageName") or ""
            rec["IsClosed"] = stage.startswith("Closed")
            rec["IsWon"] = stage == "Closed Won"

    def blank(self, record_id: str, created_ms: int) -> dict[str, Any]:
        rec: dict[str, Any] = {f.name: None for f in self.definition.fields}
        rec.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=created_ms,
            CreatedById=SYSTEM_USER_ID,
            LastModifiedDate=created_ms,
            LastModifiedById=SYSTEM_USER_ID,
            SystemModstamp=created_ms,
        )
        if self.definition.field("OwnerId") is not None:
            rec["OwnerId"] = SYSTEM_USER_ID
        for fd in self.definition.fields:
            if fd.type == "boolean" and rec[fd.name] is None:
                rec[fd.name] = False
        if self.definition.name == "Lead":
            rec["Status"] = "Open - Not Contacted"
        return rec

    def create(
        self,
        values: dict[str, Any],
        now_ms: int,
        *,
        seeding: bool = False,
        record_id: str | None = None,
        created_ms: int | None = None,
    ) -> dict[str, Any]:
        """Insert a row (Salesforce rules unless `seeding`, which loads values as given)."""
        if seeding:
            cleaned = {k: v for k, v in values.items() if k != "attributes"}
        else:
            cleaned = self._clean(values, creating=True)
            missing = [
                f.name for f in self.definition.fields if f.required and not cleaned.get(f.name)
            ]
            if missing:
                raise SalesforceError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            self._check_unique(cleaned, None)
        rec = self.blank(record_id or self.new_id(), created_ms or now_ms)
        rec.update(cleaned)
        rec["LastModifiedDate"] = rec["SystemModstamp"] = max(now_ms, rec["CreatedDate"])
        self._derive(rec)
        self.store.put(rec["Id"], rec, rec["SystemModstamp"])
        self._reindex(rec, {})
        return rec

    def update(self, rec: dict[str, Any], values: dict[str, Any], now_ms: int) -> dict[str, Any]:
        cleaned = self._clean(values, creating=False)
        self._check_unique(cleaned, rec["Id"])
        for fd in self.definition.fields:
            if fd.required and fd.name in cleaned and cleaned[fd.name] is None:
                raise SalesforceError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{fd.name}]",
                    [fd.name],
                )
        old = dict(rec)
        rec.update(cleaned)
        self._derive(rec)
        return self.touch(rec, now_ms, old)

    def touch(
        self, rec: dict[str, Any], now_ms: int, old: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Bump LastModifiedDate and SystemModstamp (never backwards) and reindex."""
        stamp = max(now_ms, rec["SystemModstamp"])
        rec["LastModifiedDate"] = rec["SystemModstamp"] = stamp
        self.store.put(rec["Id"], rec, stamp)
        if old is not None:
            self._reindex(rec, old)
        return rec

    def discard(self, rec: dict[str, Any]) -> None:
        """Undo a create (allOrNone rollback)."""
        self.store.remove(rec["Id"])
        self._reindex({"Id": rec["Id"]}, rec)

    def restore(self, old: dict[str, Any]) -> None:
        """Undo an update or delete (allOrNone rollback): put the old row back as it was."""
        current = self.store.get(old["Id"]) or {"Id": old["Id"]}
        self.store.put(old["Id"], old, old["SystemModstamp"])
        self._reindex(old, current)

    def delete(self, rec: dict[str, Any], now_ms: int) -> None:
        """Soft delete: the row stays for ``queryAll`` with IsDeleted and a new SystemModstamp
        (a hard delete for the types that never go to the Recycle Bin on their own)."""
        if not self.definition.soft_delete:
            self.discard(rec)
            return
        rec["IsDeleted"] = True
        stamp = max(now_ms, rec["SystemModstamp"])
        rec["SystemModstamp"] = stamp
        self.store.put(rec["Id"], rec, stamp)


@dataclass
class SalesforceData:
    """The sandbox org: sObject tables, open query cursors and org settings."""

    tables: dict[str, SObjectTable] = field(default_factory=dict)
    cursors: OrderedDict[str, QueryCursor] = field(default_factory=OrderedDict)
    bulk_jobs: dict[str, Any] = field(default_factory=dict)  # Bulk API 2.0 (``bulk.BulkJob``)
    block_duplicates: bool = False  # an active duplicate rule on Contact.Email with "Block"

    def __post_init__(self) -> None:
        if not self.tables:
            self.tables = {name: SObjectTable(d, 0) for name, d in SOBJECTS.items()}

    def clear(self) -> None:
        for table in self.tables.values():
            table.clear()
        self.cursors.clear()
        self.bulk_jobs.clear()
        self.block_duplicates = False

    def table_of(self, record_id: str) -> SObjectTable | None:
        """The table an id belongs to, by its 3-character key prefix."""
        for table in self.tables.values():
            if record_id.startswith(table.definition.prefix):
                return table
        return None

    def merge(
        self, table: SObjectTable, master: dict[str, Any], loser: dict[str, Any], now_ms: int
    ) -> None:
        """A merge as the UI does it (there is no REST merge): the master keeps its values and
        takes the loser's where it has none, children are reparented to it, the loser is
        deleted with ``MasterRecordId`` pointing at the master (visible with ``queryAll``)."""
        if table.definition.name not in MERGEABLE:
            raise SalesforceError(
                400, "INVALID_TYPE", f"{table.definition.name} records cannot be merged"
            )
        old = dict(master)
        for fd in table.definition.fields:
            if not fd.updateable or fd.external_id or fd.name == "OwnerId":
                continue
            if master.get(fd.name) in (None, "") and loser.get(fd.name) not in (None, ""):
                master[fd.name] = loser[fd.name]
        table._derive(master)
        for child in self.tables.values():
            for ref in child.definition.fields:
                if ref.reference_to != table.definition.name or not ref.updateable:
                    continue
                for rec in list(child.store.values()):
                    if rec.get(ref.name) == loser["Id"] and not rec["IsDeleted"]:
                        rec[ref.name] = master["Id"]
                        child.touch(rec, now_ms)
        loser["MasterRecordId"] = master["Id"]
        table.delete(loser, now_ms)
        table.touch(master, now_ms, old)

    def convert_lead(
        self, lead: dict[str, Any], now_ms: int, *, contact_id: str | None = None
    ) -> dict[str, Any]:
        """A Lead converted as a user does it in Salesforce: into an existing Contact, or a new
        Contact (and Account, named after the Lead's Company) with the Lead's values. The Lead
        stays, read-only, with IsConverted, ConvertedContactId/AccountId and a converted
        status. Answers the Contact."""
        if lead["IsConverted"]:
            raise SalesforceError(400, "INVALID_STATUS", "This lead was already converted.")
        contacts, accounts = self.table("Contact"), self.table("Account")
        if contact_id is not None:
            contact = contacts.get(contact_id)
            if contact is None:
                raise SalesforceError(404, "NOT_FOUND", f"no Contact {contact_id}")
        else:
            account = accounts.create({"Name": lead.get("Company") or lead["LastName"]}, now_ms)
            values = {
                "AccountId": account["Id"],
                "FirstName": lead.get("FirstName"),
                "LastName": lead["LastName"],
                "Email": lead.get("Email"),
                "Phone": lead.get("Phone"),
                "Title": lead.get("Title"),
                "MailingCity": lead.get("City"),
                "MailingCountry": lead.get("Country"),
            }
            contact = contacts.create({k: v for k, v in values.items() if v}, now_ms)
        old = dict(lead)
        lead.update(
            IsConverted=True,
            ConvertedContactId=contact["Id"],
            ConvertedAccountId=contact.get("AccountId"),
            Status="Closed - Converted",
        )
        self.table("Lead").touch(lead, now_ms, old)
        return contact

    def table(self, name: str) -> SObjectTable:
        for key, table in self.tables.items():
            if key.lower() == name.lower():
                return table
        raise SalesforceError(
            404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'"
        )

    def check_duplicates(
        self, table: SObjectTable, values: dict[str, Any], own: str | None
    ) -> None:
        """The optional blocking duplicate rule: same Email on another live Contact."""
        if not self.block_duplicates or table.definition.name != "Contact":
            return
        email = str(values.get("Email") or "").strip().lower()
        if not email:
            return
        for rec in table.store.values():
            if (
                not rec["IsDeleted"]
                and rec["Id"] != own
                and str(rec.get("Email") or "").lower() == email
            ):
                raise SalesforceError(
                    400,
                    "DUPLICATES_DETECTED",
                    "Use one of these records?",
                )

    # -- queries ---------------------------------------------------------------------------

    def run_query(
        self, query: Query, *, include_deleted: bool, batch: int, now_ms: int
    ) -> tuple[int, QueryCursor]:
        """Evaluate a parsed query; return (totalSize, cursor at offset 0)."""
        try:
            table = self.table(query.sobject)
        except SalesforceError:
            raise SalesforceError(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            ) from None
        definition = table.definition
        fields = [
            self._child_select(definition, f)
            if isinstance(f, Query)
            else self._select_field(definition, f)
            for f in query.fields
        ]
        predicate = _compile(definition, query.where) if query.where else None
        order = [
            (self._plain_field(definition, o.field), o.descending, o.nulls_last)
            for o in query.order
        ]
        keys = self._candidates(table, query, order)
        if predicate is not None or not include_deleted:
            out = []
            for key in keys:
                rec = table.store.get(key)
                if rec is None or (rec["IsDeleted"] and not include_deleted):
                    continue
                if predicate is None or predicate(rec):
                    out.append(key)
            keys = out
        if order and not _index_ordered(order):
            keys = _sorted(table, keys, order)
        if query.offset:
            keys = keys[query.offset :]
        if query.limit is not None:
            keys = keys[: query.limit]
        cursor = QueryCursor(
            locator="01g" + secrets.token_hex(8)[:15].upper(),
            sobject=definition.name,
            fields=fields,
            keys=keys,
            batch=batch,
            include_deleted=include_deleted,
            last_used_ms=now_ms,
        )
        if not query.count_only and len(keys) > batch:
            self._open(cursor, now_ms)
        return len(keys), cursor

    def _open(self, cursor: QueryCursor, now_ms: int) -> None:
        self.expire(now_ms)
        self.cursors[cursor.locator] = cursor
        while len(self.cursors) > MAX_OPEN_CURSORS:
            self.cursors.popitem(last=False)

    def expire(self, now_ms: int, *, everything: bool = False) -> None:
        """Drop cursors idle for 15 minutes (or all of them, for tests)."""
        for locator in list(self.cursors):
            if everything or now_ms - self.cursors[locator].last_used_ms > _CURSOR_TTL_MS:
                del self.cursors[locator]

    def cursor(self, locator: str, now_ms: int) -> QueryCursor:
        self.expire(now_ms)
        found = self.cursors.get(locator)
        if found is None:
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        found.last_used_ms = now_ms
        self.cursors.move_to_end(locator)
        return found

    def _child_select(self, parent: SObjectDef, sub: Query) -> ChildSelect:
        """Resolve ``(SELECT … FROM ChildRelationship …)`` against the parent's relationships."""
        rel = CHILD_RELATIONSHIPS.get(parent.name, {}).get(sub.sobject.lower())
        if rel is None:
            raise SalesforceError(
                400,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. "
                "If you are attempting to use a custom relationship, be sure to append the "
                "'__r' after the custom relationship name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        child = SOBJECTS[rel.child]
        names = [self._select_field(child, f) for f in sub.fields if isinstance(f, str)]
        order = tuple(
            (self._plain_field(child, o.field), o.descending, o.nulls_last) for o in sub.order
        )
        predicate = _compile(child, sub.where) if sub.where else None
        return ChildSelect(rel, tuple(names), predicate, order, sub.limit)

    def _select_field(self, definition: SObjectDef, name: str) -> str:
        if "." in name:
            rel, _, sub = name.partition(".")
            ref = definition.relationship(rel)
            if ref is None or ref.reference_to not in SOBJECTS or "." in sub:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{rel}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' "
                    "after the custom relationship name.",
                )
            target = SOBJECTS[ref.reference_to]
            sub_def = target.field(sub)
            if sub_def is None:
                raise _no_column(sub, target.name)
            return f"{ref.relationship}.{sub_def.name}"
        return self._plain_field(definition, name)

    def _plain_field(self, definition: SObjectDef, name: str) -> str:
        fd = definition.field(name)
        if fd is None:
            raise _no_column(name, definition.name)
        return fd.name

    def _candidates(
        self, table: SObjectTable, query: Query, order: list[tuple[str, bool, bool | None]]
    ) -> list[str]:
        """Keys in index order, narrowed by a top-level SystemModstamp range when there is one."""
        low, high = _stamp_bounds(query.where)
        if low is None and high is None and not (order and _index_ordered(order)):
            return list(table.store.iter_keys())
        lo, hi = table.store.mtime_range(low, high)
        descending = bool(order) and _index_ordered(order) and order[0][1]
        return table.store.keys_by_mtime(lo, hi, descending=descending)

    def render(
        self, cursor: QueryCursor, start: int, version: str
    ) -> tuple[list[dict[str, Any]], int]:
        """Records of one batch from `start`; returns (records, next start)."""
        table = self.tables[cursor.sobject]
        children = {
            f.relationship.name: self._children(f, cursor.include_deleted)
            for f in cursor.fields
            if isinstance(f, ChildSelect)
        }
        out: list[dict[str, Any]] = []
        position = start
        while position < len(cursor.keys) and len(out) < cursor.batch:
            rec = table.store.get(cursor.keys[position])
            position += 1
            if rec is None:
                continue
            out.append(self.project(table, rec, cursor.fields, version, children))
        return out, position

    def _children(self, sub: ChildSelect, include_deleted: bool) -> dict[str, list[dict[str, Any]]]:
        """The subquery's rows by parent id: one pass over the child table per page."""
        child = self.tables[sub.relationship.child]
        keys = [
            key
            for key, rec in ((k, child.store.get(k)) for k in child.store.iter_keys())
            if rec is not None
            and (include_deleted or not rec["IsDeleted"])
            and (sub.predicate is None or sub.predicate(rec))
        ]
        if sub.order:
            keys = _sorted(child, keys, list(sub.order))
        by_parent: dict[str, list[dict[str, Any]]] = {}
        for key in keys:
            rec = child.store.get(key) or {}
            by_parent.setdefault(str(rec.get(sub.relationship.field)), []).append(rec)
        return by_parent

    def _nested(
        self, sub: ChildSelect, rows: list[dict[str, Any]], version: str
    ) -> dict[str, Any] | None:
        """A child relationship as Salesforce renders it: a query result, null when empty."""
        if sub.limit is not None:
            rows = rows[: sub.limit]
        if not rows:
            return None
        child = self.tables[sub.relationship.child]
        records = [self.project(child, row, list(sub.fields), version) for row in rows]
        return {"totalSize": len(records), "done": True, "records": records}

    def project(
        self,
        table: SObjectTable,
        rec: dict[str, Any],
        fields: Sequence[str | ChildSelect],
        version: str,
        children: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
    ) -> dict[str, Any]:
        definition = table.definition
        out: dict[str, Any] = {"attributes": attributes(definition.name, rec["Id"], version)}
        for name in fields:
            if isinstance(name, ChildSelect):
                found = (children or {}).get(name.relationship.name)
                if found is None:
                    found = self._children(name, include_deleted=False)
                out[name.relationship.name] = self._nested(name, found.get(rec["Id"], []), version)
            elif "." in name:
                rel, _, sub = name.partition(".")
                ref = definition.relationship(rel)
                assert ref is not None
                assert ref.reference_to is not None
                target_id = rec.get(ref.name)
                target_table = self.tables[ref.reference_to]
                target = target_table.get(target_id) if target_id else None
                if target is None:
                    out[rel] = None
                    continue
                nested = out.get(rel) or {
                    "attributes": attributes(ref.reference_to, target["Id"], version)
                }
                nested[sub] = render_value(target_table.definition.field(sub), target.get(sub))
                out[rel] = nested
            else:
                out[name] = render_value(definition.field(name), rec.get(name))
        return out

    def full(self, table: SObjectTable, rec: dict[str, Any], version: str) -> dict[str, Any]:
        """Every field of a row, as ``GET /sobjects/{type}/{id}`` returns it."""
        return self.project(table, rec, [f.name for f in table.definition.fields], version)


def attributes(sobject: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


def render_value(fd: FieldDef | None, value: Any) -> Any:
    if value is not None and fd is not None and fd.type == "datetime":
        return sf_datetime(int(value))
    return value


def _no_column(name: str, sobject: str) -> SalesforceError:
    return SalesforceError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def _index_ordered(order: list[tuple[str, bool, bool | None]]) -> bool:
    return len(order) == 1 and order[0][0] == "SystemModstamp"


def _stamp_bounds(where: Condition | Logical | None) -> tuple[int | None, int | None]:
    """Inclusive ms bounds implied by top-level ``SystemModstamp`` comparisons (a superset)."""
    parts: tuple[Condition | Logical, ...] = ()
    if isinstance(where, Condition):
        parts = (where,)
    elif isinstance(where, Logical) and where.op == "AND":
        parts = where.parts
    low: int | None = None
    high: int | None = None
    for part in parts:
        if (
            isinstance(part, Condition)
            and part.field.lower() == "systemmodstamp"
            and isinstance(part.value, Literal)
            and part.value.kind == "datetime"
        ):
            value = int(part.value.value)
            if part.op in (">", ">="):
                low = value if low is None else max(low, value)
            elif part.op in ("<", "<="):
                high = value if high is None else min(high, value)
    return low, high


def _sorted(
    table: SObjectTable, keys: list[str], order: list[tuple[str, bool, bool | None]]
) -> list[str]:
    rows = [table.store.get(k) or {} for k in keys]
    indexed = list(zip(keys, rows, strict=True))
    for name, descending, nulls_last in reversed(order):
        last = nulls_last if nulls_last is not None else descending

        def key_of(item: tuple[str, dict[str, Any]], name: str = name) -> Any:
            value = item[1].get(name)
            return value.lower() if isinstance(value, str) else value

        present = [i for i in indexed if i[1].get(name) is not None]
        absent = [i for i in indexed if i[1].get(name) is None]
        present.sort(key=key_of, reverse=descending)
        indexed = present + absent if last else absent + present
    return [k for k, _ in indexed]


def _like(pattern: str) -> re.Pattern[str]:
    out = ""
    for char in pattern:
        out += ".*" if char == "%" else "." if char == "_" else re.escape(char)
    return re.compile(out, re.IGNORECASE | re.DOTALL)


def _compile(definition: SObjectDef, node: Condition | Logical) -> Callable[[dict[str, Any]], bool]:
    if isinstance(node, Logical):
        subs = [_compile(definition, p) for p in node.parts]
        if node.op == "AND":
            return lambda r: all(s(r) for s in subs)
        if node.op == "OR":
            return lambda r: any(s(r) for s in subs)
        only = subs[0]
        return lambda r: not only(r)
    fd = definition.field(node.field)
    if fd is None:
        raise _no_column(node.field, definition.name)
    name = fd.name
    literals = node.value if isinstance(node.value, tuple) else (node.value,)
    values = [_literal_for(fd, lit) for lit in literals]
    op = node.op
    if op == "LIKE":
        regex = _like(str(values[0]))
        return lambda r: r.get(name) is not None and regex.fullmatch(str(r[name])) is not None
    if op in ("IN", "NOT IN"):
        wanted = {_fold(v) for v in values}
        if op == "IN":
            return lambda r: _fold(r.get(name)) in wanted
        return lambda r: _fold(r.get(name)) not in wanted
    target = _fold(values[0])
    if op == "=":
        return lambda r: _fold(r.get(name)) == target
    if op == "!=":
        return lambda r: _fold(r.get(name)) != target
    if target is None:
        raise SoqlError(f"invalid operator on null: {op}", "INVALID_QUERY_FILTER_OPERATOR")
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[op]

    def ordered(r: dict[str, Any]) -> bool:
        value = _fold(r.get(name))
        return value is not None and check(value, target)

    return ordered


def _fold(value: Any) -> Any:
    """SOQL compares text case-insensitively."""
    return value.lower() if isinstance(value, str) else value


def _literal_for(fd: FieldDef, lit: Literal) -> Any:
    if lit.kind == "null":
        return None
    if fd.type == "datetime":
        if lit.kind == "datetime":
            return lit.value
        if lit.kind == "date":
            raise SoqlError(
                f"value of filter criterion for field '{fd.name}' must be of type dateTime and "
                "should not be enclosed in quotes",
                "INVALID_QUERY_FILTER_OPERATOR",
            )
    if fd.type in ("datetime", "date") and lit.kind == "string":
        raise SoqlError(
            f"value of filter criterion for field '{fd.name}' must be of type "
            f"{'dateTime' if fd.type == 'datetime' else 'date'} and should not be enclosed in "
            "quotes",
            "INVALID_QUERY_FILTER_OPERATOR",
        )
    if fd.type == "boolean" and lit.kind != "boolean":
        raise SoqlError(
            f"value of filter criterion for field '{fd.name}' must be of type boolean and "
            "should not be enclosed in quotes",
            "INVALID_QUERY_FILTER_OPERATOR",
        )
    if fd.type in ("double", "int") and lit.kind != "number":
        raise SoqlError(
            f"value of filter criterion for field '{fd.name}' must be of type double and "
            "should not be enclosed in quotes",
            "INVALID_QUERY_FILTER_OPERATOR",
        )
    if fd.type not in ("double", "int", "boolean", "date", "datetime") and lit.kind != "string":
        raise SoqlError(
            f"value of filter criterion for field '{fd.name}' must be of type string and "
            "should be enclosed in quotes",
            "INVALID_QUERY_FILTER_OPERATOR",
        )
    if fd.type == "id" or fd.type == "reference":
        text = str(lit.value)
        return id18(text) if len(text) == 15 else text
    return lit.value
