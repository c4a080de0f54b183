"""Declarative tool mappings: load ``mappings/<tool>.yaml`` and apply it in both directions.

One file per tool, one section per entity it holds (``person:``, ``company:``), so adding a
tool costs one file whatever the number of entities it syncs.

The mapping file is the contract a sales ops person edits: which tool field feeds which unified
field, in which direction, through which named transform. This module only interprets it, so
adding a field is a YAML change, never a code change.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mappings.custom import CustomField, CustomFields, custom_fields_in, declared_custom_fields
from mappings.errors import MappingConfigError, MappingError, shorten
from mappings.model import ENTITIES, entity_fields, is_many_reference, reference_target
from mappings.transforms import TRANSFORMS, TransformContext

__all__ = [
    "MAPPINGS_DIR",
    "UNIFIED_ID_KEY",
    "Condition",
    "Constant",
    "CreatePolicy",
    "CreateUnless",
    "FieldMap",
    "MappedRecord",
    "Mapping",
    "custom_fields",
    "from_unified",
    "has_path",
    "is_gone",
    "is_included",
    "load_mapping",
    "load_mappings",
    "mapped_fields",
    "mapped_tools",
    "mappings_dir",
    "merged_ids",
    "merged_into",
    "parse_mapping",
    "parse_mapping_file",
    "read_back",
    "requested_fields",
    "to_unified",
    "written_only",
    "written_together",
]

logger = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).resolve().parent
"""The mapping files shipped with revsync (``REVSYNC_MAPPINGS_DIR`` points elsewhere)."""


def mappings_dir() -> Path:
    """Where the account's mapping files live: ``REVSYNC_MAPPINGS_DIR``, else the shipped ones."""
    override = os.environ.get("REVSYNC_MAPPINGS_DIR", "").strip()
    return Path(override).expanduser().resolve() if override else MAPPINGS_DIR


def mapped_tools(tools: Iterable[str]) -> tuple[str, ...]:
    """Those of ``tools`` that have a mapping file (the others are connected but not synced)."""
    directory = mappings_dir()
    return tuple(t for t in tools if (directory / f"{t}.yaml").is_file())


Direction = Literal["both", "in", "out"]
UNIFIED_ID_KEY = "unified_id"
"""``natural_key`` value meaning "the unified id revsync wrote to ``external_id_field``"."""


PicklistEntry = str | bool | list[str | bool]
"""A tool value of a picklist (booleans for a checkbox), or several read as one."""


class FieldMap(BaseModel):
    """One line of a mapping file: unified field <-> tool field (dotted path in the record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unified: str
    tool: str
    direction: Direction = "both"
    transform: str = "text"
    identity: bool = False
    picklist: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    required: bool = False
    """The tool refuses to create a record without this field (a CRM's mandatory last name):
    a golden record lacking it is not created there (the plan skips it, with the reason) until
    it is known."""
    ref_by: str | None = None
    """For a reference: the field of the entity pointed at whose value the tool holds here,
    instead of its own record id (a call's other party by ``phone``). Read only; resolved among
    every golden record of that entity, to the one holding the value (none when several do)."""

    @property
    def reads(self) -> bool:
        return self.direction in ("both", "in")

    @property
    def writes(self) -> bool:
        return self.direction in ("both", "out")


class Constant(BaseModel):
    """A fixed value sent with every write (``when: always``) or only when creating."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    value: Any
    when: Literal["create", "always"] = "create"


class CreatePolicy(BaseModel):
    """When a create takes this record type rather than the section's main one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    known_only_to: tuple[str, ...] = Field(min_length=1)
    """Tool categories (``emailing``...): a golden record linked only in tools of these
    categories is created as this type (a person known only to marketing is a CRM's lead)."""


class Condition(BaseModel):
    """True for a record whose ``field`` (dotted path as read) equals ``equals``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    equals: Any


class CreateUnless(BaseModel):
    """Golden records whose unified ``field`` holds one of ``one_of`` are not created."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    one_of: tuple[str, ...] = Field(min_length=1)


def _custom_of(data: dict[str, Any], info: ValidationInfo) -> dict[str, CustomField]:
    """Custom fields a section may map: the directory's (validation context) and its own."""
    context = info.context if isinstance(info.context, dict) else {}
    out: dict[str, CustomField] = dict(context.get("custom_fields") or {})
    for item in data.get("custom_fields") or ():
        declared = item if isinstance(item, CustomField) else CustomField.model_validate(item)
        out.setdefault(declared.name, declared)
    return out


class Mapping(BaseModel):
    """A parsed, validated mapping file for one tool and one entity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    entity: str
    stream: str
    id_field: str = "id"
    updated_field: str | list[str]
    natural_key: str
    write_root: str | None = None
    default_region: str = "US"
    fields: tuple[FieldMap, ...]
    constants: tuple[Constant, ...] = ()
    picklists: dict[str, dict[str, PicklistEntry]] = Field(default_factory=dict)
    """Per table, unified value -> tool value, or a list of tool values that all read as it
    (the first is written): a deal's status from the many stages of one CRM."""
    merged_ids_field: str | None = None
    """Where the tool lists the ids it merged into a record (a CRM's merged-object-ids property):
    technical, never a unified field, read so links of merged-away records can follow."""
    external_id_field: str | None = None
    """Where revsync writes the golden record's unified id into a record it creates (a unique
    ``revsync_unified_id`` custom property, or the tool's own ``external_id``); read back, it links
    the record to that golden record before any matching. With ``natural_key: unified_id`` it is
    also the key creates upsert on, for entities with no natural key of their own."""
    creates: bool = True
    """Whether revsync creates records in this tool for golden records it lacks; False keeps
    the tool to the records its own users made (a helpdesk is not an address book)."""
    create_unless: CreateUnless | None = None
    """A golden record this holds for is not created in this tool (an emailing tool does not
    add someone unsubscribed or bounced elsewhere): the plan skips it, saying why."""
    only_when: Condition | None = None
    """Records that fail it are not this entity's and are passed over when read (a helpdesk's
    users stream also returns agents and admins: staff, not customers)."""
    gone_when: Condition | None = None
    """When a record the tool still returns no longer exists for the tool's users (a helpdesk
    may keep merged-away and deleted users readable with ``active: false``)."""
    gone_stream: str | None = None
    """A stream listing the records the tool deleted or archived (a CRM's archived objects),
    which its main stream no longer returns: read in full by full and backfill runs, and a
    linked record found there is followed like a ``gone_when`` one."""
    custom_fields: tuple[CustomField, ...] = ()
    """Unified fields this file adds to the entity (``mappings.custom``); every tool's file
    may then map them."""
    merged_into_field: str | list[str] | None = None
    """Where a record names the record it became (a converted lead's contact, a merged-away
    record's master; a list is tried in order): read, the link follows it there, like a merge
    the tool made."""
    record_type: str | None = None
    """This section's name under its main section's ``record_types`` (None for the main one);
    also the entity name its writes are addressed to in the tool's writer."""
    id_prefix: str | None = None
    """Records of this type are those whose id starts so (a CRM's key prefix per object)."""
    create_when: CreatePolicy | None = None
    """When a create takes this type (``record_types`` only); otherwise the main one."""
    record_types: tuple[Mapping, ...] = ()
    """Other record types of the same entity in the same tool (a CRM's leads beside its
    contacts): own stream and fields, one golden record across them; see ``for_record``."""

    def all_types(self) -> tuple[Mapping, ...]:
        """This section and its record types: every stream the entity is read from."""
        return (self, *self.record_types)

    def streams(self) -> list[str]:
        """The stream of this section and of each of its record types."""
        return [kind.stream for kind in self.all_types()]

    def for_record(self, record_id: str) -> Mapping:
        """The record type a record of this tool is, by its id."""
        for kind in self.record_types:
            if kind.id_prefix is not None and record_id.startswith(kind.id_prefix):
                return kind
        return self

    def of_type(self, record_type: str | None) -> Mapping:
        """The section of ``record_type`` (None: the main one)."""
        for kind in self.all_types():
            if kind.record_type == record_type:
                return kind
        raise KeyError(f"{self.tool} {self.entity} has no record type {record_type!r}")

    @property
    def write_entity(self) -> str:
        """What the writer is told it writes: the record type, else the entity."""
        return self.record_type or self.entity

    @model_validator(mode="before")
    @classmethod
    def _typed_transforms(cls, data: Any, info: ValidationInfo) -> Any:
        """A custom field's line without a transform takes its type's transform."""
        if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
            return data
        custom = _custom_of(data, info)
        fields = [
            {**f, "transform": custom[f["unified"]].transform}
            if isinstance(f, dict) and "transform" not in f and f.get("unified") in custom
            else f
            for f in data["fields"]
        ]
        return {**data, "fields": fields}

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Mapping:
        try:
            builtin = entity_fields(self.entity)
        except KeyError as exc:
            raise ValueError(str(exc)) from None
        known = (*builtin, *_custom_of({"custom_fields": self.custom_fields}, info))
        seen_in: set[str] = set()
        for f in self.fields:
            if f.unified not in known:
                raise ValueError(f"field {f.unified!r} is not a {self.entity} field: {known}")
            if f.transform not in TRANSFORMS:
                raise ValueError(
                    f"field {f.unified!r}: unknown transform {f.transform!r}; "
                    f"known: {sorted(TRANSFORMS)}"
                )
            if reference_target(self.entity, f.unified) is not None:
                self._check_ref(f)
            elif f.ref_by is not None:
                raise ValueError(f"field {f.unified!r}: ref_by is only for references")
            if f.transform == "picklist" and f.picklist not in self.picklists:
                raise ValueError(f"field {f.unified!r}: picklist {f.picklist!r} is not declared")
            if f.reads:
                if f.unified in seen_in:
                    raise ValueError(f"field {f.unified!r} is read from two tool fields")
                seen_in.add(f.unified)
            if f.writes and self.write_root and not f.tool.startswith(self.write_root + "."):
                raise ValueError(
                    f"field {f.unified!r}: written field {f.tool!r} is outside "
                    f"write_root {self.write_root!r}"
                )
        if self.create_unless is not None and self.create_unless.field not in known:
            raise ValueError(
                f"create_unless: {self.create_unless.field!r} is not a {self.entity} field"
            )
        self._check_composites()
        self._check_record_types()
        if self.natural_key == UNIFIED_ID_KEY:
            if self.external_id_field is None:
                raise ValueError("natural_key unified_id needs an external_id_field to write it to")
        elif self.natural_key not in seen_in:
            raise ValueError(f"natural_key {self.natural_key!r} is not a mapped inbound field")
        if (
            self.external_id_field
            and self.write_root
            and not self.external_id_field.startswith(self.write_root + ".")
        ):
            raise ValueError(
                f"external_id_field {self.external_id_field!r} is outside "
                f"write_root {self.write_root!r}"
            )
        for c in self.constants:
            if self.write_root and not c.tool.startswith(self.write_root + "."):
                raise ValueError(f"constant {c.tool!r} is outside write_root {self.write_root!r}")
        return self

    def _check_ref(self, f: FieldMap) -> None:
        """A reference field carries the tool's own record id(s) of the entity it points at,
        or (``ref_by``) a value of it, read only and in that field's canonical form."""
        target = reference_target(self.entity, f.unified)
        if f.ref_by is not None:
            if target is None or f.ref_by not in entity_fields(target):
                raise ValueError(
                    f"field {f.unified!r}: ref_by {f.ref_by!r} is not a {target} field"
                )
            if is_many_reference(self.entity, f.unified) or f.writes or f.identity:
                raise ValueError(
                    f"field {f.unified!r}: a reference by {f.ref_by} points at one {target} and "
                    "is read only (direction: in, not identity)"
                )
            return
        if is_many_reference(self.entity, f.unified):
            if f.transform != "id_list" or f.identity:
                raise ValueError(
                    f"field {f.unified!r} refers to a set of {target} records: it holds the "
                    "tool's record ids (transform id_list, not identity)"
                )
        elif f.transform not in ("text", "number") or f.identity:
            raise ValueError(
                f"field {f.unified!r} refers to a {target}: "
                "it holds the tool's record id (transform text or number, not identity)"
            )

    def _check_record_types(self) -> None:
        """A record type is told apart by its id prefix and reads its own stream; only record
        types have create policies, and they do not nest."""
        if self.record_type is None and (self.id_prefix or self.create_when):
            raise ValueError("id_prefix and create_when belong to sections under record_types")
        streams = {self.stream}
        for kind in self.record_types:
            if kind.record_types:
                raise ValueError(f"record type {kind.record_type!r} has record_types of its own")
            if not kind.id_prefix:
                raise ValueError(f"record type {kind.record_type!r} needs an id_prefix")
            if kind.stream in streams:
                raise ValueError(
                    f"record type {kind.record_type!r} must read another stream of {self.entity}"
                )
            streams.add(kind.stream)

    def _check_composites(self) -> None:
        """Fields sharing a composite tool field (first and last name into one ``name``) each
        name a distinct part, use the same transform and agree on whether they write."""
        by_tool: dict[str, list[FieldMap]] = {}
        for f in self.fields:
            transform = TRANSFORMS[f.transform]
            if transform.compose is None:
                continue
            part = f.options.get("part")
            if part not in transform.parts:
                raise ValueError(
                    f"field {f.unified!r}: transform {f.transform!r} needs options.part, "
                    f"one of {list(transform.parts)}"
                )
            by_tool.setdefault(f.tool, []).append(f)
        for tool_field, group in by_tool.items():
            parts = [f.options["part"] for f in group]
            if len(set(parts)) != len(parts):
                raise ValueError(f"tool field {tool_field!r}: a part is mapped twice ({parts})")
            if len({f.writes for f in group}) > 1:
                raise ValueError(
                    f"tool field {tool_field!r}: its parts must all be written or all not"
                )
            others = [f.unified for f in self.fields if f.tool == tool_field and f not in group]
            if others:
                raise ValueError(
                    f"tool field {tool_field!r} is composed from parts; {others} cannot map it too"
                )

    def context(self, f: FieldMap) -> TransformContext:
        """The transform context of one field (options merged with mapping-level defaults)."""
        options: dict[str, Any] = {"default_region": self.default_region, **f.options}
        if f.picklist is not None:
            options["table"] = self.picklists[f.picklist]
        return TransformContext(field=f.unified, options=options)


class MappedRecord(BaseModel):
    """One tool record in unified form, with what is needed to trace it back to the tool."""

    model_config = ConfigDict(frozen=True)

    tool: str
    record_id: str
    updated_at: datetime
    values: dict[str, str | None]
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    entity: str = "person"
    warnings: tuple[str, ...] = ()
    merged_ids: tuple[str, ...] = ()
    """Ids of records the tool merged into this one (they no longer exist in the tool)."""
    external_id: str | None = None
    """The unified id revsync wrote into this record (``external_id_field``), if any."""
    gone: bool = False
    """The tool still returns the record but it was merged away or deleted (``gone_when``)."""

    @field_validator("updated_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("updated_at must be timezone-aware")
        return value.astimezone(UTC)

    @property
    def key(self) -> str:
        """``"<tool>:<record_id>"``: unique across tools, used in evidence and new ids."""
        return f"{self.tool}:{self.record_id}"


# --- loading -----------------------------------------------------------------------------


def parse_mapping(
    tool: str, document: object, custom_fields: dict[str, CustomField] | None = None
) -> Mapping:
    """Validate one entity's section (with its ``entity`` key); errors name the problem.

    ``custom_fields`` are the entity's custom fields declared elsewhere (other tools' files).
    """
    if not isinstance(document, dict):
        raise MappingConfigError(f"mapping for {tool!r} must be a YAML mapping")
    try:
        return Mapping.model_validate(
            {"tool": tool, **document}, context={"custom_fields": custom_fields or {}}
        )
    except ValidationError as exc:
        raise MappingConfigError(f"invalid mapping for {tool!r}: {exc}") from None


def parse_mapping_file(
    tool: str, document: object, custom: CustomFields | None = None
) -> dict[str, Mapping]:
    """Entity -> mapping, from a whole file: top-level keys are entity names.

    ``custom`` holds the custom fields declared across the directory's files; without it a
    file may map only the custom fields it declares itself.
    """
    if not isinstance(document, dict) or not document:
        raise MappingConfigError(f"mapping file for {tool!r} must map entity names to sections")
    out: dict[str, Mapping] = {}
    for entity, section in document.items():
        if entity not in ENTITIES:
            raise MappingConfigError(
                f"mapping file for {tool!r}: unknown entity {entity!r}; known: {sorted(ENTITIES)}"
            )
        if not isinstance(section, dict):
            raise MappingConfigError(f"mapping for {tool!r}: {entity!r} must be a YAML mapping")
        if "entity" in section:
            raise MappingConfigError(
                f"mapping for {tool!r}: the section key names the entity; drop 'entity:'"
            )
        declared_custom_fields(str(entity), section, f"{tool}.yaml")
        known = (custom or {}).get(str(entity), {})
        kinds = _record_types(tool, str(entity), section.get("record_types"), known)
        main = {k: v for k, v in section.items() if k != "record_types"}
        if kinds:
            main["record_types"] = kinds
        out[str(entity)] = parse_mapping(tool, {"entity": entity, **main}, known)
    return out


def _record_types(
    tool: str, entity: str, document: object, known: dict[str, CustomField]
) -> tuple[Mapping, ...]:
    """The sections under an entity's ``record_types``: name -> section, each parsed alone."""
    if document is None:
        return ()
    if not isinstance(document, dict):
        raise MappingConfigError(f"mapping for {tool!r}: {entity}.record_types must be a mapping")
    kinds: list[Mapping] = []
    for name, section in document.items():
        if not isinstance(section, dict):
            raise MappingConfigError(
                f"mapping for {tool!r}: record type {name!r} must be a YAML mapping"
            )
        kinds.append(
            parse_mapping(tool, {"entity": entity, **section, "record_type": str(name)}, known)
        )
    return tuple(kinds)


@cache
def _custom_fields(directory: Path) -> CustomFields:
    return custom_fields_in(directory)


def custom_fields(entity: str) -> dict[str, CustomField]:
    """The custom fields of ``entity`` declared in the account's mapping files."""
    return dict(_custom_fields(mappings_dir()).get(entity, {}))


@cache
def _load_mappings(directory: Path, tool: str) -> dict[str, Mapping]:
    path = directory / f"{tool}.yaml"
    if not path.is_file():
        raise MappingConfigError(f"no mapping file for tool {tool!r} (expected {path})")
    text = path.read_text(encoding="utf-8")
    with path.open(encoding="utf-8") as fh:  # from the file: YAML errors name it
        document = yaml.safe_load(fh)
    try:
        return parse_mapping_file(tool, document, _custom_fields(directory))
    except MappingConfigError as exc:
        raise _located(exc, path.name, text) from exc


_NAMED = re.compile(r"^field '(?P<field>[^']+)'(?:: unknown transform '(?P<transform>[^']+)')?")


def _located(exc: MappingConfigError, filename: str, text: str) -> MappingConfigError:
    """The validator's sentences, prefixed with ``<file> line N`` of the field they name.

    Pydantic reports where in the parsed document, not where in the file: the line is found
    again from the unified field (and transform) the sentence quotes."""
    inner = exc.__context__
    if not isinstance(inner, ValidationError):
        return exc
    reasons = [str(e["msg"]).removeprefix("Value error, ") for e in inner.errors()]
    line = next((n for r in reasons if (n := _line_of(r, text)) is not None), None)
    where = f"{filename} line {line}" if line is not None else filename
    return MappingConfigError(f"{where}: {'; '.join(reasons)}")


def _line_of(reason: str, text: str) -> int | None:
    named = _NAMED.match(reason)
    if named is None:
        return None
    wanted = [rf"unified:\s*['\"]?{re.escape(named['field'])}\b"]
    if named["transform"]:
        wanted.append(rf"transform:\s*['\"]?{re.escape(named['transform'])}\b")
    lines = text.splitlines()
    for patterns in (wanted, wanted[:1]):  # a field written over several lines: its unified
        for number, line in enumerate(lines, start=1):
            if all(re.search(pattern, line) for pattern in patterns):
                return number
    return None


def load_mappings(tool: str) -> dict[str, Mapping]:
    """Every entity section of ``<mappings dir>/<tool>.yaml``, in file order (parsed once)."""
    return _load_mappings(mappings_dir(), tool)


def load_mapping(tool: str, entity: str = "person") -> Mapping:
    """One entity's mapping for ``tool``; ``MappingConfigError`` when the tool has none."""
    sections = load_mappings(tool)
    if entity not in sections:
        raise MappingConfigError(
            f"mapping file for {tool!r} has no {entity!r} section (it has {sorted(sections)})"
        )
    return sections[entity]


def mapped_fields(m: Mapping, direction: Literal["in", "out"]) -> tuple[str, ...]:
    """Unified fields this mapping reads (``"in"``) or writes (``"out"``), in file order."""
    if direction == "in":
        return tuple(f.unified for f in m.fields if f.reads)
    return tuple(f.unified for f in m.fields if f.writes)


def written_only(m: Mapping) -> frozenset[str]:
    """Unified fields written to the tool but never read from it (``direction: out``), over
    every record type: a record as read lacks them, so what revsync last wrote stands for
    what the tool holds."""
    return frozenset(f.unified for kind in m.all_types() for f in kind.fields if not f.reads)


def requested_fields(m: Mapping) -> tuple[str, ...]:
    """Tool fields a read must ask for, for tools that return only the fields named.

    Paths are relative to ``write_root`` when under it (a CRM's ``properties.x`` is asked for
    as ``x``): the mapped inbound fields plus the technical ones the flow reads.
    """
    paths = [f.tool for f in m.fields if f.reads]
    paths += [p for p in (m.external_id_field, m.merged_ids_field) if p]
    prefix = f"{m.write_root}." if m.write_root else None
    out = [p[len(prefix) :] if prefix and p.startswith(prefix) else p for p in paths]
    return tuple(dict.fromkeys(out))


# --- dotted paths ------------------------------------------------------------------------

_MISSING = object()


def _get(raw: dict[str, Any], path: str) -> object:
    node: object = raw
    for part in path.split("."):
        if not isinstance(node, dict):
            return _MISSING
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def has_path(raw: dict[str, Any], path: str) -> bool:
    """The record carries ``path`` (a null value counts: the key is there)."""
    return _get(raw, path) is not _MISSING


def _put(out: dict[str, Any], path: str, value: object) -> None:
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


# --- inbound -----------------------------------------------------------------------------


def _parse_timestamp(value: object) -> datetime:
    """ISO 8601 with an offset (or epoch milliseconds) -> aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"unparseable timestamp {shorten(value)}")
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"unparseable timestamp {shorten(value)}") from None
    if parsed.tzinfo is None:
        raise MappingError(f"timestamp without a timezone {shorten(value)}")
    return parsed.astimezone(UTC)


def _record_id(m: Mapping, raw: dict[str, Any]) -> str:
    value = _get(raw, m.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError(f"missing or invalid record id in {m.id_field!r}", tool=m.tool)
    text = str(value).strip()
    if not text:
        raise MappingError(f"missing record id in {m.id_field!r}", tool=m.tool)
    return text


def _updated_at(m: Mapping, raw: dict[str, Any], record_id: str) -> datetime:
    paths = [m.updated_field] if isinstance(m.updated_field, str) else m.updated_field
    for path in paths:
        value = _get(raw, path)
        if value is _MISSING or value is None or value == "":
            continue
        try:
            return _parse_timestamp(value)
        except MappingError as exc:
            raise exc.with_context(tool=m.tool, record_id=record_id, field=path) from None
    raise MappingError(
        f"missing update timestamp ({' or '.join(paths)})", tool=m.tool, record_id=record_id
    )


def _holds(condition: Condition, raw: dict[str, Any]) -> bool:
    return bool(_get(raw, condition.field) == condition.equals)


def is_gone(m: Mapping, raw: dict[str, Any]) -> bool:
    """True for a record the tool still returns but that was merged away or deleted."""
    if m.gone_when is None or not isinstance(raw, dict):
        return False
    return _holds(m.gone_when, raw)


def is_included(m: Mapping, raw: dict[str, Any]) -> bool:
    """False for a record the stream returns that is not this entity's (``only_when``)."""
    if m.only_when is None or not isinstance(raw, dict):
        return True
    return _holds(m.only_when, raw)


def merged_into(m: Mapping, raw: dict[str, Any]) -> str | None:
    """The id of the record this one became (``merged_into_field``), None when it did not."""
    if m.merged_into_field is None or not isinstance(raw, dict):
        return None
    paths = [m.merged_into_field] if isinstance(m.merged_into_field, str) else m.merged_into_field
    for path in paths:
        value = _get(raw, path)
        if value is _MISSING or value is None or isinstance(value, dict | list | bool):
            continue
        text = str(value).strip()
        if text:
            return text
    return None


def merged_ids(m: Mapping, raw: dict[str, Any]) -> tuple[str, ...]:
    """Ids the tool merged into this record (``merged_ids_field``: ``;``-separated or a list)."""
    if m.merged_ids_field is None or not isinstance(raw, dict):
        return ()
    value = _get(raw, m.merged_ids_field)
    if value is _MISSING or value is None:
        return ()
    parts = value if isinstance(value, list) else str(value).split(";")
    own = _get(raw, m.id_field)
    out = [str(p).strip() for p in parts if str(p).strip()]
    return tuple(dict.fromkeys(i for i in out if i != str(own)))


def _external_id(m: Mapping, raw: dict[str, Any]) -> str | None:
    if m.external_id_field is None:
        return None
    value = _get(raw, m.external_id_field)
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    return str(value).strip() or None


def external_id_payload(m: Mapping, unified_id: str) -> dict[str, Any]:
    """The part of a create payload that carries the unified id (empty without the field)."""
    if m.external_id_field is None:
        return {}
    path = m.external_id_field
    if m.write_root:
        path = path[len(m.write_root) + 1 :]
    out: dict[str, Any] = {}
    _put(out, path, unified_id)
    return out


def _read_fields(
    m: Mapping, raw: dict[str, Any], record_id: str | None
) -> tuple[dict[str, str | None], list[str]]:
    values: dict[str, str | None] = {}
    warnings: list[str] = []
    for f in m.fields:
        if not f.reads:
            continue
        value = _get(raw, f.tool)
        ctx = m.context(f)
        if (value is _MISSING or value is None) and "absent" in f.options:
            # What the tool's unset field means (HubSpot's opt-out flag, unset until set).
            values[f.unified] = str(f.options["absent"])
            continue
        try:
            values[f.unified] = (
                None if value is _MISSING else TRANSFORMS[f.transform].inbound(value, ctx)
            )
        except MappingError as exc:
            raise exc.with_context(tool=m.tool, record_id=record_id, field=f.tool) from None
        warnings.extend(ctx.warnings)
    return values, warnings


def to_unified(m: Mapping, raw: dict[str, Any]) -> MappedRecord:
    """Map one record as read from the tool; ``MappingError`` says why a record is unusable."""
    if not isinstance(raw, dict):
        raise MappingError(f"expected a record object, got {type(raw).__name__}", tool=m.tool)
    record_id = _record_id(m, raw)
    updated_at = _updated_at(m, raw, record_id)
    values, warnings = _read_fields(m, raw, record_id)
    if values.get(m.natural_key) is None:
        logger.debug("%s record %s has no %s", m.tool, record_id, m.natural_key)
    return MappedRecord(
        tool=m.tool,
        record_id=record_id,
        updated_at=updated_at,
        values=values,
        raw=raw,
        entity=m.entity,
        warnings=tuple(warnings),
        merged_ids=merged_ids(m, raw),
        external_id=_external_id(m, raw),
        gone=is_gone(m, raw),
    )


# --- outbound ----------------------------------------------------------------------------


def from_unified(m: Mapping, values: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The tool-shaped write payload for unified ``values``.

    Identity fields and ``when: create`` constants go only into creates. Empty values are left
    out, so a write never blanks a value a human entered in the tool. With ``write_root`` the
    payload is the object under it (a CRM's ``properties``), which the writer wraps.
    """
    out: dict[str, Any] = {}
    composed: dict[str, dict[str, object]] = {}
    for f in m.fields:
        if not f.writes or (f.identity and not create):
            continue
        value = values.get(f.unified)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise MappingError(
                f"unified value must be text, got {type(value).__name__}",
                tool=m.tool,
                field=f.unified,
            )
        try:
            tool_value = TRANSFORMS[f.transform].outbound(value, m.context(f))
        except MappingError as exc:
            raise exc.with_context(tool=m.tool, field=f.unified) from None
        if TRANSFORMS[f.transform].compose is not None:
            composed.setdefault(f.tool, {})[str(f.options["part"])] = tool_value
        else:
            _put(out, f.tool, tool_value)
    for tool_field, pieces in composed.items():
        _put(out, tool_field, _composer(m, tool_field)(pieces))
    for c in m.constants:
        if c.when == "always" or create:
            _put(out, c.tool, c.value)
    if m.write_root:
        root = _get(out, m.write_root)
        return dict(root) if isinstance(root, dict) else {}
    return out


def _composer(m: Mapping, tool_field: str) -> Callable[[dict[str, object]], object]:
    for f in m.fields:
        compose = TRANSFORMS[f.transform].compose
        if f.tool == tool_field and compose is not None:
            return compose
    raise KeyError(tool_field)


def written_together(m: Mapping, fields: Iterable[str]) -> tuple[str, ...]:
    """The other unified fields an update of ``fields`` must also send.

    A tool field composed from parts (one ``name`` from first and last name) is
    rewritten whole: an update that changes only the last name must still send the first
    name, or the tool would keep the last name alone. Give these fields their golden values.
    """
    wanted = set(fields)
    composite = {
        f.tool
        for f in m.fields
        if f.writes and f.unified in wanted and TRANSFORMS[f.transform].compose is not None
    }
    return tuple(
        f.unified for f in m.fields if f.writes and f.tool in composite and f.unified not in wanted
    )


def read_back(m: Mapping, values: dict[str, Any]) -> dict[str, str | None]:
    """``values`` as the tool will report them once written: each written field sent out and
    read back in. Mostly the same values; they differ where the tool cannot hold the unified
    form exactly (first "Mary", last "Ann Smith" reads back from one ``name`` as "Mary Ann" /
    "Smith"). Hash these, not ``values``, to recognize the echo of a write. A reference holds
    a golden id, which the tool holds as its own record id of it: it reads back unchanged."""
    refs = {f.unified for f in m.fields if reference_target(m.entity, f.unified) is not None}
    payload = from_unified(m, {k: v for k, v in values.items() if k not in refs}, create=True)
    raw = {m.write_root: payload} if m.write_root else payload
    read, _ = _read_fields(m, raw, None)
    written = set(mapped_fields(m, "out")) - refs
    return {
        **values,
        **{name: value for name, value in read.items() if name in written},
    }
