"""Apply: execute one tool's share of the plan, journaled before and after, links per batch.

Each batch is journaled as `planned` before the remote call and marked `applied` or `failed`
after it, and the links of created records are committed right after the call, before any cursor
moves. A crash between the remote write and the local record leaves `planned` rows behind; the
rerun re-plans those records and the natural-key upsert finds what was created instead of
creating it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.engine import Engine

from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.registry import writer_for
from connectors.writer import WriteItem, WriteOutcome, held_by_another, upsert_isolating
from flows.budget import Priority, budgeted_limiter
from flows.credentials import resolve_connection
from flows.merges import follow_gone_records
from flows.progress import Span
from mappings.spec import Mapping as ToolMapping
from mappings.spec import read_back
from reconcile.mapped import link_hash
from reconcile.plan import LinkView, PlannedWrite, Skipped
from state.db import session_scope
from state.dead_letters import add_dead_letter, resolve_failed_writes
from state.journal import mark_applied, mark_failed, plan_writes, record_held
from state.links import get_link, owners_for_tool, upsert_links

__all__ = [
    "APPLY_BATCH",
    "AfterRemoteWrite",
    "Applied",
    "after_remote_write",
    "apply_writes",
    "journal_held",
]

APPLY_BATCH = 100
"""Writes per journaled batch: a crash loses at most one batch of local bookkeeping."""

AfterRemoteWrite = Callable[[str, Sequence[WriteOutcome]], None]

after_remote_write: list[AfterRemoteWrite] = []
"""Called after each remote batch, before its links are recorded: the seam fault tests use."""


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    failed: int = 0
    dead_letters: int = 0
    gone: list[str] = field(default_factory=list)
    """Linked records the tool answered were gone (merged away or deleted there)."""
    links: dict[str, list[LinkView]] = field(default_factory=dict)


def journal_held(engine: Engine, run_id: str, entity: str, skipped: Sequence[Skipped]) -> int:
    """Journal the consent decisions among ``skipped`` (writes revsync will not make), each
    with its reason: the audit trail says why a tool kept, or never got, a state."""
    rows = [
        {
            "run_id": run_id,
            "tool": s.tool,
            "entity": entity,
            "op": "update" if s.record_id else "create",
            "record_id": s.record_id,
            "unified_id": s.unified_id,
            "before": None if s.record_id is None else {s.field: s.old},
            "after": {s.field: s.new},
            "reason": s.reason,
        }
        for s in skipped
        if s.field is not None
    ]
    if not rows:
        return 0
    with session_scope(engine) as session:
        return record_held(session, rows)


def _chunks(items: Sequence[PlannedWrite], size: int) -> list[Sequence[PlannedWrite]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _written_values(
    mapping: ToolMapping, write: PlannedWrite, before: LinkView | None
) -> dict[str, str | None]:
    """The record's values once written, as the tool will read them back (the echo)."""
    values = dict(before.values) if before is not None else {}
    values.update({f: c.new for f, c in write.changes.items()})
    return read_back(mapping, values)


@task(name="apply", task_run_name="apply-{tool}", cache_policy=NO_CACHE)
def apply_writes(
    tool: str,
    mapping: ToolMapping,
    writes: Sequence[PlannedWrite],
    known: dict[tuple[str, str], LinkView],
    engine: Engine,
    run_id: str,
    priority: str = Priority.INCREMENTAL.value,
    progress: Span | None = None,
) -> Applied:
    """Write one tool's share of the plan, exactly as planned.

    Every request takes a slot of the tool's shared API budget (see ``flows/budget.py``).
    """
    logger = get_run_logger()
    result = Applied()
    if not writes:
        if progress is not None:
            progress.finish()
        return result
    conn = resolve_connection(tool)
    client = build_client(conn, limiter=budgeted_limiter(tool, priority))
    writer = writer_for(conn, client)
    # What each record is linked to, so a lookup that finds another golden's record refuses
    # to write it (``HttpWriter.owner_of``).
    # Only creates look records up.
    if any(w.record_id is None for w in writes):
        with session_scope(engine) as session:
            writer.owners = owners_for_tool(session, tool, mapping.entity)
    streams = mapping.streams()
    # One record type per batch (a CRM's leads beside its contacts): each has its section.
    kinds = sorted({w.record_type or "" for w in writes})
    batches = [
        batch
        for kind in kinds
        for batch in _chunks([w for w in writes if (w.record_type or "") == kind], APPLY_BATCH)
    ]
    try:
        for done, batch in enumerate(batches, start=1):
            section = mapping.of_type(batch[0].record_type)
            with session_scope(engine) as session:
                entry_ids = plan_writes(
                    session,
                    [
                        {
                            "run_id": run_id,
                            "tool": tool,
                            "entity": w.entity,
                            "record_id": w.record_id,
                            "unified_id": w.unified_id,
                            "natural_key": w.natural_key,
                            "op": w.op,
                            "before": {f: c.old for f, c in w.changes.items()},
                            "after": {f: c.new for f, c in w.changes.items()},
                        }
                        for w in batch
                    ],
                )
            items = [
                WriteItem(
                    key=w.natural_key,
                    record_id=w.record_id,
                    properties=w.payload,
                    unified_id=w.unified_id,
                )
                for w in batch
            ]
            try:
                outcomes = upsert_isolating(writer, section.write_entity, items)
            except WriteFailed as exc:
                if exc.error_class is ErrorClass.FATAL:
                    # Auth, scopes, configuration: every record would fail alike. Stop the run
                    # (cursors stay put) and say what to fix, rather than dead-letter them all.
                    raise
                outcomes = [
                    WriteOutcome(
                        key=w.natural_key,
                        ok=False,
                        record_id=w.record_id,
                        created=False,
                        error=str(exc),
                        data=None,
                        transient=True,
                    )
                    for w in batch
                ]
            for hook in after_remote_write:
                hook(tool, outcomes)
            _record(
                engine, run_id, tool, section, batch, entry_ids, outcomes, known, result, streams
            )
            if progress is not None:
                progress.fraction(done, len(batches))
        if result.gone:
            # Merged away in the tool's own UI: move the link to the survivor now; the next
            # run writes the survivor against what it holds after the merge.
            follow_gone_records(engine, tool, mapping.entity, result.gone, run_id, writer)
    finally:
        writer.close()
        client.close()
    logger.info(
        "%s: %d created, %d updated, %d failed",
        tool,
        result.created,
        result.updated,
        result.failed,
    )
    return result


def _record(
    engine: Engine,
    run_id: str,
    tool: str,
    mapping: ToolMapping,
    batch: Sequence[PlannedWrite],
    entry_ids: list[int],
    outcomes: Sequence[WriteOutcome],
    known: dict[tuple[str, str], LinkView],
    result: Applied,
    streams: Sequence[str],
) -> None:
    if len(outcomes) != len(batch):
        raise WriteFailed(f"{tool} writer returned {len(outcomes)} outcomes for {len(batch)} items")
    link_rows: list[dict[str, object]] = []
    with session_scope(engine) as session:
        found = {
            (o.record_id or ""): get_link(session, tool, mapping.entity, o.record_id)
            for w, o in zip(batch, outcomes, strict=True)
            if w.op == "create" and o.ok and o.record_id and not o.created
        }
        for write, entry_id, outcome in zip(batch, entry_ids, outcomes, strict=True):
            if outcome.gone and write.record_id is not None:
                mark_failed(session, entry_id, f"gone from {tool}, followed: {outcome.error}")
                result.gone.append(write.record_id)
                continue
            held = found.get(outcome.record_id or "") if write.op == "create" else None
            if held is not None and held.unified_id != write.unified_id:
                # The writer's lookup found a record another golden record holds (one person
                # in the tool, two golden records here): linking it would take it from that
                # golden, whose next read takes it back. Refused, so the plan holds it after.
                outcome = replace(
                    outcome,
                    ok=False,
                    error=held_by_another(
                        tool, "record", str(outcome.record_id), write.natural_key, held.unified_id
                    ),
                )
            if not outcome.ok or outcome.record_id is None:
                reason = outcome.error or "the tool returned no record id"
                mark_failed(session, entry_id, reason)
                add_dead_letter(
                    session,
                    run_id=run_id,
                    tool=tool,
                    stream=mapping.stream,
                    record_id=write.record_id,
                    stage="apply",
                    reason=reason,
                    payload={
                        "unified_id": write.unified_id,
                        "op": write.op,
                        **write.payload,
                        **({"transient": True} if outcome.transient else {}),
                    },
                )
                result.failed += 1
                result.dead_letters += 1
                continue
            before = known.get((tool, write.record_id)) if write.record_id else None
            values = _written_values(mapping, write, before)
            digest = link_hash(mapping, values)
            link_rows.append(
                {
                    "tool": tool,
                    "entity": mapping.entity,
                    "record_id": outcome.record_id,
                    "unified_id": write.unified_id,
                    "last_written_hash": digest,
                    "last_values": values,
                }
            )
            result.links.setdefault(write.unified_id, []).append(
                LinkView(tool=tool, record_id=outcome.record_id, values=values)
            )
            mark_applied(
                session, entry_id, outcome.record_id, {f: c.new for f, c in write.changes.items()}
            )
            if write.op == "create" and outcome.created:
                result.created += 1
            else:
                result.updated += 1
        upsert_links(session, link_rows)
        # Written now: what earlier runs failed to write for these goldens is done.
        written = {str(row["unified_id"]) for row in link_rows}
        resolve_failed_writes(session, tool, streams, written)
