"""Undo a run's updates: write back, through the tool's writer, the before image the journal
kept of every field revsync changed, unless the field changed since (then it is reported and
left alone). The undo is planned first (``--dry-run`` stops there), runs as its own run, and is
journaled like any write, so it can be undone in turn. What it does not do yet: records the run
created are reported, not archived (no writer has an archive call yet), and a field that was
empty before is reported, not cleared.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flows.apply import apply_writes
from mappings.spec import from_unified, load_mappings
from reconcile.plan import FieldChange, LinkView, PlannedWrite
from state.db import engine_from_url, init_schema, session_scope
from state.journal import entries_for_run
from state.links import get_link
from state.runs import finish_run, start_run

__all__ = ["UndoPlan", "undo_run"]


@dataclass
class UndoPlan:
    run_id: str
    writes: list[PlannedWrite] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    """What is not undone, and why (changed since, created, was empty)."""
    undo_run: str | None = None


def undo_run(run_id: str, *, record: str | None = None, dry_run: bool = False) -> UndoPlan:
    """Plan (and unless ``dry_run`` apply) the undo of run ``run_id``'s applied updates;
    ``record`` (``tool:id``) keeps one record's."""
    engine = engine_from_url()
    init_schema(engine)
    out = UndoPlan(run_id=run_id)
    with session_scope(engine) as session:
        entries = [e for e in entries_for_run(session, run_id) if e.status == "applied"]
        links = {
            (e.tool, e.entity, e.record_id): get_link(session, e.tool, e.entity, e.record_id)
            for e in entries
            if e.record_id
        }
    if record is not None:
        entries = [e for e in entries if f"{e.tool}:{e.record_id}" == record]
    known: dict[tuple[str, str], LinkView] = {}
    for e in reversed(entries):
        where = f"{e.tool}:{e.record_id}"
        if e.op != "update" or e.record_id is None:
            out.reported.append(f"{where} was created by this run: not archived (not supported)")
            continue
        link = links.get((e.tool, e.entity, e.record_id))
        current = dict(link.last_values or {}) if link is not None else {}
        changes: dict[str, FieldChange] = {}
        for name, old in sorted((e.before or {}).items()):
            new = (e.after or {}).get(name)
            if current.get(name) != new:
                out.reported.append(
                    f"{where} {name}: changed since ({current.get(name)!r}, not {new!r}): kept"
                )
            elif old is None or old == "":
                out.reported.append(f"{where} {name}: was empty before: not cleared")
            else:
                changes[name] = FieldChange(old=new, new=old)
        if not changes:
            continue
        mapping = load_mappings(e.tool)[e.entity].for_record(e.record_id)
        values = {name: c.new for name, c in changes.items()}
        out.writes.append(
            PlannedWrite(
                tool=e.tool,
                entity=e.entity,
                unified_id=e.unified_id or "",
                op="update",
                record_id=e.record_id,
                natural_key=e.natural_key or "",
                changes=changes,
                payload=from_unified(mapping, values, create=False),
                record_type=mapping.record_type,
            )
        )
        known[(e.tool, e.record_id)] = LinkView(tool=e.tool, record_id=e.record_id, values=current)
    if dry_run or not out.writes:
        return out
    undo_id = f"undo-{uuid.uuid4().hex}"
    out.undo_run = undo_id
    with session_scope(engine) as session:
        start_run(session, undo_id, flow_run_id=None, dry_run=False)
    status = "failed"
    try:
        for tool in sorted({w.tool for w in out.writes}):
            for entity in sorted({w.entity for w in out.writes if w.tool == tool}):
                writes = [w for w in out.writes if w.tool == tool and w.entity == entity]
                mapping = load_mappings(tool)[entity]
                apply_writes(tool, mapping, writes, known, engine, undo_id)
        status = "completed"
    finally:
        with session_scope(engine) as session:
            summary = {"undoes": run_id, "writes": len(out.writes)}
            finish_run(session, undo_id, status, summary)  # type: ignore[arg-type]
    return out
