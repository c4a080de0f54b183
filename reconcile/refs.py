"""References between entities (a person's company) carried through the hub.

Each tool holds its own record id of the referenced entity (a CRM contact's account id, a
helpdesk user's organization id); the unified model holds the golden id. Reads turn
a tool's id into the golden id of the record it is linked to; writes turn the golden id into the
record id the destination tool holds for that golden, and drop the reference when that tool
holds none, so a write never points at a record that does not exist. Entities sync in reference
order (companies before people), so the links a run needs are there when it needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mappings.idlists import join_ids, split_ids
from mappings.model import is_many_reference, reference_target
from mappings.spec import Mapping as ToolMapping

__all__ = [
    "PENDING",
    "RefIndex",
    "reachable",
    "reference_fields",
    "referenced_entities",
    "to_golden",
    "to_tool",
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
    """The entities the given mappings point at (whose links a run must load)."""
    return {target for m in mappings for target in reference_fields(m).values()}


@dataclass(frozen=True)
class RefIndex:
    """Links of the referenced entities, both ways: tool record id <-> golden id."""

    golden_of: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    """(entity, tool, record id) -> golden id."""
    record_of: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    """(entity, tool, golden id) -> the tool's record id (the smallest, when it holds several)."""

    @classmethod
    def build(cls, links: Iterable[tuple[str, str, str, str]]) -> RefIndex:
        """From ``(entity, tool, record id, golden id)`` rows."""
        golden_of: dict[tuple[str, str, str], str] = {}
        record_of: dict[tuple[str, str, str], str] = {}
        for entity, tool, record_id, unified_id in sorted(links):
            golden_of[(entity, tool, record_id)] = unified_id
            record_of.setdefault((entity, tool, unified_id), record_id)
        return cls(golden_of=golden_of, record_of=record_of)

    def with_pending(self, creates: Iterable[tuple[str, str, str]]) -> RefIndex:
        """Plus the ``(entity, tool, golden id)`` records a dry run plans to create: a real run
        creates them before what points at them, so a dry run plans the same references."""
        record_of = dict(self.record_of)
        for key in creates:
            record_of.setdefault(key, PENDING)
        return RefIndex(golden_of=self.golden_of, record_of=record_of)


def _translate(
    mapping: ToolMapping,
    values: Mapping[str, str | None],
    table: Mapping[tuple[str, str, str], str],
) -> dict[str, str | None]:
    """References looked up in ``table``; a set keeps the members it finds (sorted again in
    the new space), a single reference not found becomes None."""
    out = dict(values)
    for name, entity in reference_fields(mapping).items():
        value = out.get(name)
        if value is None:
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
    out = dict(golden)
    for name, entity in refers.items():
        value = out.get(name)
        if value is None:
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
    """A record's values as read, its references turned into golden ids (None: not linked)."""
    return _translate(mapping, values, refs.golden_of)


def to_tool(
    mapping: ToolMapping, values: Mapping[str, str | None], refs: RefIndex
) -> dict[str, str | None]:
    """Golden values as ``mapping``'s tool holds them: references turned into its record ids,
    None where the tool holds no record of the referenced golden."""
    return _translate(mapping, values, refs.record_of)
