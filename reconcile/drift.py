"""Schema drift, as data: which fields a tool's records carry, and which stopped or started.

A mapped field the tool no longer returns reads as empty, and the plan would write the golden
value back into a field the tool dropped (or renamed) on every run, silently. So each read
counts, per stream, how many records carried each mapped path (present, even if null) and
which unmapped keys appeared; against what earlier runs saw (``state/drift.py``) a mapped path
that earlier records carried and that none of this run's records carries, with enough records
read to make that unlikely by chance, has *vanished*: its writes to that tool are held until an
admin confirms the drift (``revsync drift confirm``). Pure: the flow stores and reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.spec import Mapping as ToolMapping
from mappings.spec import has_path

__all__ = [
    "EXPECTED_MISSES",
    "MAX_NEW_FIELDS",
    "MIN_RECORDS",
    "Drift",
    "Observed",
    "Seen",
    "detect",
    "held_fields",
    "observe",
]

MIN_RECORDS = 10
"""A read of fewer records says nothing about a field vanishing (an incremental run of two)."""
EXPECTED_MISSES = 5.0
"""How many of this run's records should have carried the path, at the rate earlier runs saw
it, before its absence counts: (1 - rate) ** n stays under 1 % (a sparse field is not drift)."""
MAX_NEW_FIELDS = 20
"""New (unmapped) keys tracked per stream and run: a tool adding hundreds is one report."""


def mapped_paths(mapping: ToolMapping) -> dict[str, tuple[str, ...]]:
    """Tool path -> the unified fields read from it, for every read line of the mapping."""
    out: dict[str, list[str]] = {}
    for f in mapping.fields:
        if f.reads:
            out.setdefault(f.tool, []).append(f.unified)
    return {path: tuple(fields) for path, fields in out.items()}


def _containers(paths: Iterable[str]) -> set[str]:
    """The objects mapped paths sit in (``properties``, ``merge_fields``): their keys are
    watched for new fields, with the record's top level."""
    return {p.split(".", 1)[0] for p in paths if "." in p}


@dataclass
class Observed:
    """What one stream's read of this run carried."""

    tool: str
    stream: str
    records: int = 0
    carried: dict[str, int] = field(default_factory=dict)
    """Mapped path -> records carrying it."""
    unmapped: set[str] = field(default_factory=set)
    """Keys no mapping line reads (top level and one level into the mapped containers)."""
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Mapped path -> unified fields read from it."""


def observe(mapping: ToolMapping, raws: Iterable[Any], into: Observed | None = None) -> Observed:
    """Count which mapped paths the records carry, and which other keys they hold."""
    paths = mapped_paths(mapping)
    out = into or Observed(tool=mapping.tool, stream=mapping.stream)
    out.fields.update(paths)
    known = {*paths, *_containers(paths)}
    technical = (mapping.id_field, mapping.merged_ids_field, mapping.external_id_field)
    known |= {p for p in technical if p}
    containers = _containers(paths)
    for raw in raws:
        if not isinstance(raw, dict):
            continue
        out.records += 1
        for path in paths:
            if has_path(raw, path):
                out.carried[path] = out.carried.get(path, 0) + 1
        candidates = [str(k) for k in raw]
        for box in containers:
            inner = raw.get(box)
            if isinstance(inner, Mapping):
                candidates += [f"{box}.{k}" for k in inner]
        for key in candidates:
            if key not in known and len(out.unmapped) < MAX_NEW_FIELDS * 10:
                out.unmapped.add(key)
    return out


@dataclass(frozen=True)
class Seen:
    """What earlier runs saw of one (tool, stream, path)."""

    path: str
    mapped: bool
    rate: float
    """Share of the records of the last read that carried it."""
    vanished: bool = False
    confirmed: bool = False


@dataclass
class Drift:
    """One stream's drift this run."""

    tool: str
    stream: str
    vanished: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Mapped path -> unified fields, newly vanished this run or still unconfirmed."""
    new: list[str] = field(default_factory=list)
    """Unmapped keys seen for the first time (none on a stream's first watched read)."""

    def __bool__(self) -> bool:
        return bool(self.vanished or self.new)


def detect(observed: Observed, seen: Mapping[str, Seen]) -> Drift:
    """This read against what earlier runs saw (``seen``: path -> Seen) of its stream.

    A path vanishes when earlier reads carried it at a rate that makes this read's complete
    absence of it unlikely (``MIN_RECORDS``, ``EXPECTED_MISSES``); a vanished path stays
    vanished (and held, unless confirmed) until a read carries it again.
    """
    drift = Drift(tool=observed.tool, stream=observed.stream)
    for path, fields in sorted(observed.fields.items()):
        before = seen.get(path)
        if before is None or observed.carried.get(path, 0) > 0:
            continue
        if before.vanished:
            if not before.confirmed:
                drift.vanished[path] = fields
            continue
        enough = observed.records >= MIN_RECORDS
        if before.rate > 0 and enough and observed.records * before.rate >= EXPECTED_MISSES:
            drift.vanished[path] = fields
    if seen:  # the first watched read is the baseline, not news
        drift.new = sorted(p for p in observed.unmapped if p not in seen)[:MAX_NEW_FIELDS]
    return drift


def held_fields(drifts: Iterable[Drift]) -> dict[tuple[str, str], dict[str, str]]:
    """(tool, stream) -> unified field -> why its writes are held, for the plan."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for d in drifts:
        for path, fields in d.vanished.items():
            for name in fields:
                out.setdefault((d.tool, d.stream), {})[name] = (
                    f"{path} vanished from {d.tool}'s {d.stream}: {name} not written there "
                    f"until an admin confirms (revsync drift confirm {d.tool} {path})"
                )
    return out
