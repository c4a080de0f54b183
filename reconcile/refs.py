"""References between entities (a person's company) carried through the hub.

Each tool holds its own record id of the referenced entity (a CRM contact's account id, a
helpdesk user's organization id); the unified model holds the golden id. Reads turn
a tool's id into the golden id of the record it is linked to; writes turn the golden id into the
record id the destination tool holds for that golden, and drop the reference when that tool
holds none, so a write never points at a record that does not exist. Entities sync in reference
order (companies before people), so the links a run needs are there when it needs them.

A reference declared ``ref_by: <field>`` carries a value of the entity pointed at (a phone
number) rather than a record id: it resolves among every golden record of that entity, through
the golden values and the values each linked tool record was last read with, to the one golden
holding the value. A value several goldens hold (a switchboard number) resolves to none, like
the shared-key guard of deterministic matching; so does a value nobody holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.idlists import join_ids, split_ids
from mappings.model import is_many_reference, reference_target
from mappings.spec import Mapping as ToolMapping

__all__ = [
    "PENDING",
    "RefIndex",
    "ambiguous_refs",
    "reachable",
    "reference_fields",
    "referenced_entities",
    "to_golden",
    "to_tool",
    "value_refs",
    "value_rows",
]


PENDING = "(created by this run)"
"""The record id a dry run shows for a referenced record the same run would create first."""


def reference_fields(mapping: ToolMapping) -> dict[str, str]:
    """Unified field -> the entity it points at, for the fields ``mapping`` maps."""
    out: dict[str, str] = {}
    for f in mapping.fields:
        target = reference_target(mapping.entity, f.unified)
        if target is not None:
            out[f.unified] = target
    return out


def referenced_entities(mappings: Iterable[ToolMapping]) -> set[str]:
    """The entities the given mappings point at by record id (whose links a run must load)."""
    return {
        target
        for m in mappings
        for f in m.fields
        if f.ref_by is None and (target := reference_target(m.entity, f.unified)) is not None
    }


def _by_value(mapping: ToolMapping) -> dict[str, tuple[str, str]]:
    """Unified field -> (entity pointed at, its field) for the references held by value."""
    out: dict[str, tuple[str, str]] = {}
    for f in mapping.fields:
        target = reference_target(mapping.entity, f.unified)
        if target is not None and f.ref_by is not None:
            out[f.unified] = (target, f.ref_by)
    return out


def value_refs(mappings: Iterable[ToolMapping]) -> set[tuple[str, str]]:
    """(entity, field) pairs the given mappings point at by value (whose values a run loads)."""
    return {pair for m in mappings for pair in _by_value(m).values()}


def value_rows(
    entity: str, field_name: str, holders: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> list[tuple[str, str, str, str]]:
    """``(entity, field, value, golden id)`` rows for :meth:`RefIndex.build`, from ``(golden
    id, values)`` pairs: golden records' values and linked tool records' last values alike."""
    rows: list[tuple[str, str, str, str]] = []
    for unified_id, values in holders:
        value = (values or {}).get(field_name)
        if isinstance(value, str) and value.strip():
            rows.append((entity, field_name, value.strip(), unified_id))
    return rows


@dataclass(frozen=True)
class RefIndex:
    """Links of the referenced entities, both ways: tool record id <-> golden id."""

    golden_of: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    """(entity, tool, record id) -> golden id."""
    record_of: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    """(entity, tool, golden id) -> the tool's record id (the smallest, when it holds several)."""
    holders: Mapping[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)
    """(entity, field, value) -> the goldens holding that value (references by value)."""

    @classmethod
    def build(
        cls,
        links: Iterable[tuple[str, str, str, str]],
        values: Iterable[tuple[str, str, str, str]] = (),
    ) -> RefIndex:
        """From ``(entity, tool, record id, golden id)`` rows and ``(entity, field, value,
        golden id)`` rows (:func:`value_rows`)."""
        golden_of: dict[tuple[str, str, str], str] = {}
        record_of: dict[tuple[str, str, str], str] = {}
        for entity, tool, record_id, unified_id in sorted(links):
            golden_of[(entity, tool, record_id)] = unified_id
            record_of.setdefault((entity, tool, unified_id), record_id)
        held: dict[tuple[str, str, str], set[str]] = {}
        for entity, name, value, unified_id in values:
            held.setdefault((entity, name, value), set()).add(unified_id)
        holders = {key: frozenset(ids) for key, ids in held.items()}
        return cls(golden_of=golden_of, record_of=record_of, holders=holders)

    def holder(self, entity: str, field_name: str, value: str) -> str | None:
        """The one golden holding ``value``; None when none or several do."""
        found = self.holders.get((entity, field_name, value), frozenset())
        return next(iter(found)) if len(found) == 1 else None

    def with_pending(self, creates: Iterable[tuple[str, str, str]]) -> RefIndex:
        """Plus the ``(entity, tool, golden id)`` records a dry run plans to create: a real run
        creates them before what points at them, so a dry run plans the same references."""
        record_of = dict(self.record_of)
        for key in creates:
            record_of.setdefault(key, PENDING)
        return RefIndex(golden_of=self.golden_of, record_of=record_of, holders=self.holders)


def _translate(
    mapping: ToolMapping,
    values: Mapping[str, str | None],
    table: Mapping[tuple[str, str, str], str],
) -> dict[str, str | None]:
    """References looked up in ``table``; a set keeps the members it finds (sorted again in
    the new space), a single reference not found becomes None."""
    out = dict(values)
    by_value = _by_value(mapping)
    for name, entity in reference_fields(mapping).items():
        value = out.get(name)
        if value is None or name in by_value:
            continue
        if is_many_reference(mapping.entity, name):
            found = (table.get((entity, mapping.tool, one)) for one in split_ids(value))
            out[name] = join_ids(one for one in found if one is not None)
        else:
            out[name] = table.get((entity, mapping.tool, value))
    return out


def reachable(
    mapping: ToolMapping, golden: Mapping[str, str | None], refs: RefIndex
) -> Mapping[str, str | None]:
    """``golden`` with only the references ``mapping``'s tool holds a record for: the values
    a write can carry (it never points at a record that does not exist), so the values to
    compare with what the tool holds. A set keeps its reachable members; ``golden`` itself
    when the mapping has no reference."""
    refers = reference_fields(mapping)
    if not refers:
        return golden
    by_value = _by_value(mapping)
    out = dict(golden)
    for name, entity in refers.items():
        value = out.get(name)
        if value is None or name in by_value:
            continue
        kept = [one for one in split_ids(value) if (entity, mapping.tool, one) in refs.record_of]
        if is_many_reference(mapping.entity, name):
            out[name] = join_ids(kept)
        else:
            out[name] = value if kept else None
    return out


def to_golden(
    mapping: ToolMapping, values: Mapping[str, str | None], refs: RefIndex
) -> dict[str, str | None]:
    """A record's values as read, its references turned into golden ids (None: not linked);
    a reference by value becomes the one golden holding it (None: nobody, or several)."""
    out = _translate(mapping, values, refs.golden_of)
    for name, (entity, field_name) in _by_value(mapping).items():
        value = out.get(name)
        out[name] = None if value is None else refs.holder(entity, field_name, value)
    return out


def ambiguous_refs(
    mapping: ToolMapping, values: Mapping[str, str | None], refs: RefIndex
) -> list[str]:
    """Warnings for the references by value of a record as read (before :func:`to_golden`)
    that several goldens hold: each is left unresolved."""
    out = []
    for name, (entity, field_name) in _by_value(mapping).items():
        value = values.get(name)
        if value is None:
            continue
        count = len(refs.holders.get((entity, field_name, value), frozenset()))
        if count > 1:
            out.append(f"{name}: {field_name} {value} is held by {count} {entity}s; none linked")
    return out


def to_tool(
    mapping: ToolMapping, values: Mapping[str, str | None], refs: RefIndex
) -> dict[str, str | None]:
    """Golden values as ``mapping``'s tool holds them: references turned into its record ids,
    None where the tool holds no record of the referenced golden."""
    return _translate(mapping, values, refs.record_of)
