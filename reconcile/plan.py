"""The plan: every write a sync run will make, computed before anything is written.

Pure: it compares each golden record with what revsync last knew of each tool's linked record,
so a dry run and a real run over the same state produce the same plan, and apply executes
exactly these items.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from mappings.consent import CONSENT_FIELDS, OPTED_OUT, loosens
from mappings.idlists import join_ids, split_ids
from mappings.spec import (
    UNIFIED_ID_KEY,
    external_id_payload,
    from_unified,
    mapped_fields,
    read_back,
    written_together,
)
from mappings.spec import Mapping as ToolMapping
from reconcile.refs import PENDING, RefIndex, reachable, to_tool

__all__ = [
    "FieldChange",
    "LinkView",
    "Plan",
    "PlannedWrite",
    "Skipped",
    "build_plan",
    "type_for_create",
    "without_recreates",
]


class FieldChange(BaseModel):
    old: str | None
    new: str | None


class PlannedWrite(BaseModel):
    """One record to create or update in one tool."""

    tool: str
    entity: str
    unified_id: str
    op: Literal["create", "update"]
    record_id: str | None
    natural_key: str
    changes: dict[str, FieldChange]
    payload: dict[str, Any]
    record_type: str | None = None
    """The tool's record type written (a CRM's lead), None for the entity's main one."""


class Skipped(BaseModel):
    tool: str
    unified_id: str
    reason: str
    field: str | None = None
    """The one field revsync did not write, for a consent decision (``mappings.consent``) or a
    field that vanished from the tool (``reconcile.drift``); the sync journals these ``held``."""
    record_id: str | None = None
    old: str | None = None
    new: str | None = None


class Plan(BaseModel):
    writes: list[PlannedWrite] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)

    def for_tool(self, tool: str) -> list[PlannedWrite]:
        return [w for w in self.writes if w.tool == tool]

    def count(self, tool: str, op: str) -> int:
        return sum(1 for w in self.writes if w.tool == tool and w.op == op)


class LinkView(BaseModel):
    """What revsync last knew of one tool record linked to a golden record."""

    tool: str
    record_id: str
    values: dict[str, str | None]


def _empty(value: str | None) -> bool:
    return value is None or value == ""


def _payload(
    mapping: ToolMapping, values: Mapping[str, str | None], refs: RefIndex, *, create: bool
) -> dict[str, Any]:
    """The tool-shaped payload of golden ``values``: references as the tool's record ids (one a
    dry run would create first has none yet: its change is planned, its id left out)."""
    local = {k: _without_pending(v) for k, v in to_tool(mapping, values, refs).items()}
    return from_unified(mapping, local, create=create)


def _without_pending(value: str | None) -> str | None:
    """A value with no id of a record this run would create first (a dry run has none)."""
    if value is None or PENDING not in value:
        return value
    return join_ids(one for one in split_ids(value) if one != PENDING)


def _consent_holds(
    mapping: ToolMapping,
    unified_id: str,
    golden: Mapping[str, str | None],
    link: LinkView,
    fields: Iterable[str],
) -> list[Skipped]:
    """The consent changes among ``fields`` revsync must not write: they would grant more
    than the tool's record holds (a re-subscribe)."""
    return [
        Skipped(
            tool=mapping.tool,
            unified_id=unified_id,
            reason=(
                f"{field} stays {link.values.get(field) or 'unset'} in {mapping.tool}: revsync "
                f"never writes {golden.get(field)} over it; the person changes it there"
            ),
            field=field,
            record_id=link.record_id,
            old=link.values.get(field),
            new=golden.get(field),
        )
        for field in fields
        if field in CONSENT_FIELDS and loosens(link.values.get(field), golden.get(field))
    ]


def _drift_holds(
    mapping: ToolMapping,
    unified_id: str,
    golden: Mapping[str, str | None],
    link: LinkView | None,
    fields: Iterable[str],
    held: Mapping[str, str],
) -> list[Skipped]:
    """The changes among ``fields`` to a field that vanished from the tool: held until an
    admin confirms the drift (``held``: unified field -> reason)."""
    return [
        Skipped(
            tool=mapping.tool,
            unified_id=unified_id,
            reason=held[field],
            field=field,
            record_id=None if link is None else link.record_id,
            old=None if link is None else link.values.get(field),
            new=golden.get(field),
        )
        for field in fields
        if field in held
    ]


def _update_for(
    mapping: ToolMapping,
    unified_id: str,
    golden: Mapping[str, str | None],
    link: LinkView,
    refs: RefIndex,
    drifted: Mapping[str, str] | None = None,
) -> list[PlannedWrite | Skipped]:
    # A field only written is compared with what revsync last wrote there (the link keeps it):
    # the tool's record, as read, does not say.
    comparable = set(mapped_fields(mapping, "out"))
    changes: dict[str, FieldChange] = {}
    identity = {f.unified for f in mapping.fields if f.identity}
    differing = sorted(
        f
        for f in comparable - identity
        if not _empty(golden.get(f)) and golden.get(f) != link.values.get(f)
    )
    if not differing:
        return []  # the converged case, most records: nothing to read back
    # What the tool would hold after writing the golden values (a composed field such as
    # a tool's one name field splits back its own way): equal to what it holds means no write.
    sent = [*differing, *written_together(mapping, differing)]
    after = read_back(mapping, {f: golden.get(f) for f in sent if not _empty(golden.get(f))})
    for field in differing:
        new, old = golden.get(field), link.values.get(field)
        if after.get(field, new) != old:
            changes[field] = FieldChange(old=old, new=new)
    holds = _consent_holds(mapping, unified_id, golden, link, changes)
    rest = [f for f in changes if f not in {h.field for h in holds}]
    holds += _drift_holds(mapping, unified_id, golden, link, rest, drifted or {})
    held: list[PlannedWrite | Skipped] = list(holds)
    for hold in holds:
        del changes[str(hold.field)]
    for field in [f for f in changes if f in CONSENT_FIELDS and changes[f].new not in OPTED_OUT]:
        # Neither an opt-out nor a loosening (never asked over no state at all): nothing for
        # the tool to record, so nothing to write.
        del changes[field]
    if not changes:
        return held
    own_key = (
        unified_id
        if mapping.natural_key == UNIFIED_ID_KEY
        else link.values.get(mapping.natural_key)
    )
    if _empty(own_key):
        return [
            *held,
            Skipped(
                tool=mapping.tool,
                unified_id=unified_id,
                reason=f"record {link.record_id} has no {mapping.natural_key} to address it by",
            ),
        ]
    values = {f: c.new for f, c in changes.items()}
    for field in written_together(mapping, values):  # the other parts of a composed tool field
        values[field] = golden.get(field)
    payload = _payload(mapping, values, refs, create=False)
    write = PlannedWrite(
        tool=mapping.tool,
        entity=mapping.entity,
        unified_id=unified_id,
        op="update",
        record_id=link.record_id,
        natural_key=str(own_key),
        changes=changes,
        payload=payload,
        record_type=mapping.record_type,
    )
    return [*held, write]


def _create_for(
    mapping: ToolMapping,
    unified_id: str,
    golden: Mapping[str, str | None],
    refs: RefIndex,
    drifted: Mapping[str, str] | None = None,
) -> PlannedWrite | Skipped:
    key = unified_id if mapping.natural_key == UNIFIED_ID_KEY else golden.get(mapping.natural_key)
    if _empty(key):
        return Skipped(
            tool=mapping.tool,
            unified_id=unified_id,
            reason=f"no {mapping.natural_key}: {mapping.tool} needs one to create a record",
        )
    unless = mapping.create_unless
    if unless is not None and golden.get(unless.field) in unless.one_of:
        value = golden.get(unless.field)
        return Skipped(
            tool=mapping.tool,
            unified_id=unified_id,
            reason=f"{unless.field} is {value}: not created in {mapping.tool} (create_unless)",
            field=unless.field if unless.field in CONSENT_FIELDS else None,
            new=value,
        )
    lacking = [f.unified for f in mapping.fields if f.required and _empty(golden.get(f.unified))]
    if lacking:
        return Skipped(
            tool=mapping.tool,
            unified_id=unified_id,
            reason=f"no {', '.join(lacking)}: {mapping.tool} requires it to create a record",
        )
    outbound = [f for f in mapped_fields(mapping, "out") if f not in (drifted or {})]
    values = {f: golden.get(f) for f in outbound if not _empty(golden.get(f))}
    return PlannedWrite(
        tool=mapping.tool,
        entity=mapping.entity,
        unified_id=unified_id,
        op="create",
        record_id=None,
        natural_key=str(key),
        changes={f: FieldChange(old=None, new=v) for f, v in sorted(values.items())},
        payload=_merge_payload(
            _payload(mapping, values, refs, create=True), external_id_payload(mapping, unified_id)
        ),
        record_type=mapping.record_type,
    )


def type_for_create(mapping: ToolMapping, known_to: Collection[str]) -> ToolMapping:
    """The record type a create in ``mapping``'s tool takes, for a golden record linked in
    tools of the categories ``known_to`` (a person known only to marketing is a lead)."""
    for kind in mapping.record_types:
        policy = kind.create_when
        if policy is not None and known_to and set(known_to) <= set(policy.known_only_to):
            return kind
    return mapping


def _merge_payload(payload: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with ``extra``'s nested keys added (the unified id beside the fields)."""
    out = dict(payload)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_payload(out[key], value)
        else:
            out[key] = value
    return out


def build_plan(
    goldens: Mapping[str, Mapping[str, str | None]],
    links: Mapping[str, Iterable[LinkView]],
    mappings: Iterable[ToolMapping],
    never_creates: Collection[str] = (),
    refs: RefIndex | None = None,
    categories: Mapping[str, str] | None = None,
    drifted: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
) -> Plan:
    """Plan the writes that bring every tool in line with the given golden records.

    `goldens` holds the golden values of the records this run touched; `links` the tool records
    linked to each of them. A tool with no linked record gets a create (addressed by its natural
    key, so a rerun after a crash upserts instead of duplicating); a linked record whose known
    values differ from the golden ones gets an update of just those fields. Tools in
    `never_creates` (their connector cannot create records) and mappings with `creates: false`
    get updates only. ``refs`` turns references (a person's company) into each tool's own
    record ids; one the tool holds no record for is left out of its writes. A tool's record
    types (a CRM's leads) are written each with its own section; a create takes the type whose
    ``create_when`` the golden's linked tools' ``categories`` (tool -> category) satisfy.
    ``drifted``: (tool, stream) -> unified field -> reason, fields that vanished from the
    tool's records: not written there (updates skip them, saying why; creates leave them out).
    """
    plan = Plan()
    refs = refs or RefIndex()
    categories = categories or {}
    tool_mappings = list(mappings)
    for unified_id in sorted(goldens):
        linked = list(links.get(unified_id, ()))
        values = goldens[unified_id]
        for mapping in tool_mappings:
            own = sorted((v for v in linked if v.tool == mapping.tool), key=lambda v: v.record_id)
            items: list[PlannedWrite | Skipped] = []
            for view in own:
                kind = mapping.for_record(view.record_id)
                golden = reachable(kind, values, refs)
                held = (drifted or {}).get((kind.tool, kind.stream))
                items += _update_for(kind, unified_id, golden, view, refs, held)
            if not own and mapping.creates and mapping.tool not in never_creates:
                kind = type_for_create(mapping, {categories.get(v.tool, "") for v in linked})
                held = (drifted or {}).get((kind.tool, kind.stream))
                golden = reachable(kind, values, refs)
                items.append(_create_for(kind, unified_id, golden, refs, held))
            for item in items:
                if isinstance(item, PlannedWrite):
                    plan.writes.append(item)
                elif isinstance(item, Skipped):
                    plan.skipped.append(item)
    return plan


def without_recreates(plan: Plan, deleted: Collection[tuple[str, str]]) -> Plan:
    """``plan`` without creating a golden record again in a tool that deleted (or archived) it:
    someone there removed it on purpose, and a sync that brings it back undoes their work. Each
    such create becomes a skip saying so; updates are untouched (there is no link to update)."""
    held = [w for w in plan.writes if w.op == "create" and (w.tool, w.unified_id) in deleted]
    if not held:
        return plan
    skips = [
        Skipped(
            tool=w.tool,
            unified_id=w.unified_id,
            reason=f"deleted in {w.tool}: not created there again (restore it in {w.tool})",
        )
        for w in held
    ]
    kept = [w for w in plan.writes if not (w.op == "create" and (w.tool, w.unified_id) in deleted)]
    return plan.model_copy(update={"writes": kept, "skipped": [*plan.skipped, *skips]})
