"""The sync flow: extract → map → match → merge → plan → apply → checkpoint.

The flow only orchestrates: each stage is a task in its own module, every query lives in
`state/`. Read-side bookkeeping (what each record looked like, the cursors) is committed at the
checkpoint, after apply, so a crash anywhere before it replays the run from the old cursors; a
dry run stops after plan and writes nothing but its run row and artifacts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from connectors.errors import ConfigError
from connectors.providers import providers
from connectors.registry import capabilities, tools
from flows.apply import apply_writes, journal_held
from flows.artifacts import publish_dead_letters, publish_failure, publish_plan, publish_summary
from flows.caps import max_writes_setting, over_cap
from flows.credentials import connected
from flows.drift import alert_on_drift, detect_drift, report_drift, store_observed
from flows.extract import extract_stream, map_records
from flows.failures import failure_line, with_failure_line
from flows.merges import (
    follow_gone_records,
    follow_vendor_merges,
    merge_duplicates,
    publish_duplicates,
)
from flows.modes import SYNC_MODES, SyncMode, alert_on_dead_letters, all_golden_ids, priority_for
from flows.progress import Progress, Span
from flows.report import SyncReport
from flows.resolve import match_records, merge_goldens, train_model
from mappings.spec import MappedRecord, load_mappings, mapped_tools, written_only
from mappings.spec import Mapping as ToolMapping
from mappings.survivorship import GoldenView, load_rules
from matching.fellegi_sunter import Model
from matching.model import KnownIndex, MatchResult
from matching.probabilistic import GoldenIndex
from matching.settings import load_settings
from reconcile.drift import Observed, held_fields, observe
from reconcile.goldens import (
    Merged,
    checkpoint_rows,
    decision_rows,
    golden_rows,
    golden_view,
    links_by_golden,
    review_rows,
)
from reconcile.mapped import Mapped, map_stream
from reconcile.merges import Duplicate, FollowedMerge, in_tool_duplicates, vendor_merges
from reconcile.plan import LinkView, Plan, build_plan, without_recreates
from reconcile.refs import RefIndex, referenced_entities, value_refs, value_rows
from reconcile.retries import Refusal, due_for_retry, hold_refused
from state.cursors import load_cursor, save_cursor
from state.db import engine_from_url, init_schema, session_scope
from state.dead_letters import (
    add_dead_letter,
    failed_writes,
    open_for_stream,
    resolve_dead_letters,
    resolve_failed_writes,
)
from state.decisions import deleted_in_tools, record_decisions
from state.golden import golden_version, goldens_saved_since, load_golden, save_golden
from state.links import (
    linked_ids,
    links_for_entity,
    links_for_tool,
    links_for_unified,
    upsert_links,
)
from state.match_models import load_match_model, save_match_model
from state.models import DeadLetter
from state.reviews import add_reviews, cannot_links
from state.runs import finish_run, last_finished_run, start_run
from state.types import to_jsonable, utcnow

__all__ = ["EXTRACT_SHARE", "SYNC_ENTITIES", "SyncResult", "default_tools", "sync"]

logger = logging.getLogger(__name__)


def default_tools() -> tuple[str, ...]:
    """Every tool with a connector folder and a mapping file, found by discovery."""
    return mapped_tools(tools())


SYNC_ENTITIES: tuple[str, ...] = ("company", "person", "deal", "ticket", "call")
"""Entities in the order they sync: companies first, so the people and deals that point at
them find them linked (``reconcile.refs``)."""
EXTRACT_SHARE = 40.0
"""Percent of each entity's share of the progress bar the reads fill; plan, apply the rest."""


class SyncResult(BaseModel):
    report: SyncReport
    plan: Plan


def _run_id() -> str:
    current = flow_run.get_id()
    return str(current) if current else uuid.uuid4().hex


def _known_index(
    engine: Engine, entity: str, tools: list[str]
) -> tuple[KnownIndex, dict[tuple[str, str], set[str]], str]:
    """Every golden record and link, for matching; the hashes each tool record is known by;
    and the golden set's version (read with them)."""
    with session_scope(engine) as session:
        version = golden_version(session, entity)
        goldens = load_golden(session, entity)
        links: dict[tuple[str, str], str] = {}
        hashes: dict[tuple[str, str], set[str]] = {}
        for tool in tools:
            for record_id, link in links_for_tool(session, tool, entity).items():
                links[(tool, record_id)] = link.unified_id
                hashes[(tool, record_id)] = {
                    h for h in (link.last_read_hash, link.last_written_hash) if h
                }
        rejected = cannot_links(session, entity)
    index = KnownIndex.build(
        {uid: dict(g.values) for uid, g in goldens.items()}, links, rejected=rejected
    )
    return index, hashes, version


_GOLDEN_INDEXES: dict[str, tuple[str, GoldenIndex]] = {}
"""Entity -> (golden version, its matching index): kept while this process lives."""


def _golden_index(
    entity: str, records: list[MappedRecord], known: KnownIndex, version: str
) -> GoldenIndex | None:
    """The golden set's matching index, rebuilt only when a golden was saved or deleted since
    it was built (None when every record is linked already: nothing to match)."""
    settings = load_settings(entity)
    if settings.distinct or all((r.tool, r.record_id) in known.links for r in records):
        return None
    cached = _GOLDEN_INDEXES.get(entity)
    if cached is not None and cached[0] == version and len(cached[1].uids) == len(known.golden):
        return cached[1]
    index = GoldenIndex.build(known.golden, settings)
    _GOLDEN_INDEXES[entity] = (version, index)
    return index


@dataclass
class _Pending:
    """What a dry run would have stored by the time a later entity syncs."""

    links: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(entity, tool, record id, golden id) of every record matched so far."""
    creates: list[tuple[str, str, str]] = field(default_factory=list)
    """(entity, tool, golden id) of every create planned so far."""


def _ref_index(
    engine: Engine,
    mappings: dict[str, ToolMapping],
    unsaved: Iterable[tuple[str, str, str, str]] = (),
) -> RefIndex:
    """The links of every entity these mappings refer to (a person's company), in their tools,
    overlaid with ``unsaved`` ones (a dry run's matches); and, for references by value (a
    call's person by phone), the values every golden of that entity and every record linked
    to one, in any tool, holds."""
    rows: list[tuple[str, str, str, str]] = []
    values: list[tuple[str, str, str, str]] = []
    with session_scope(engine) as session:
        for entity in sorted(referenced_entities(mappings.values())):
            for tool in mappings:
                rows += [
                    (entity, tool, record_id, link.unified_id)
                    for record_id, link in links_for_tool(session, tool, entity).items()
                ]
        for entity, name in sorted(value_refs(mappings.values())):
            goldens = load_golden(session, entity)
            held: list[tuple[str, dict[str, Any] | None]] = [
                (uid, g.values) for uid, g in goldens.items()
            ]
            held += [(x.unified_id, x.last_values) for x in links_for_entity(session, entity)]
            values += value_rows(entity, name, held)
    fresh = {(e, t, r): u for e, t, r, u in unsaved}
    rows = [(e, t, r, fresh.pop((e, t, r), u)) for e, t, r, u in rows]
    rows += [(e, t, r, u) for (e, t, r), u in fresh.items()]
    return RefIndex.build(rows, values)


def _golden_views(engine: Engine, entity: str, unified_ids: set[str]) -> dict[str, GoldenView]:
    with session_scope(engine) as session:
        rows = load_golden(session, entity, unified_ids)
    return {uid: golden_view(row.values, row.provenance) for uid, row in rows.items()}


def _link_views(
    engine: Engine,
    unified_ids: set[str],
    fresh: dict[tuple[str, str], tuple[str, LinkView]],
    mappings: dict[str, ToolMapping],
) -> dict[str, list[LinkView]]:
    """Stored links of these goldens, overlaid with the records read in this run."""
    with session_scope(engine) as session:
        stored = [
            (
                link.unified_id,
                LinkView(tool=link.tool, record_id=link.record_id, values=link.last_values or {}),
            )
            for link in links_for_unified(session, unified_ids)
        ]
    return links_by_golden(stored, fresh, {t: written_only(m) for t, m in mappings.items()})


def _matching_model(
    engine: Engine, entity: str, records: list[MappedRecord], known: KnownIndex, *, save: bool
) -> Model:
    """The stored model (so incremental runs decide like a full re-run), trained if due."""
    with session_scope(engine) as session:
        row = load_match_model(session, entity)
    stored = Model.from_dict(row[0]) if row is not None else None
    model, trained = train_model(entity, records, known, stored)
    if trained and save:
        with session_scope(engine) as session:
            save_match_model(session, entity, model.to_dict(), model.trained_records)
    return model


@task(name="plan", task_run_name="plan", cache_policy=NO_CACHE)
def plan_writes(
    goldens: dict[str, GoldenView],
    links: dict[str, list[LinkView]],
    mappings: list[ToolMapping],
    refs: RefIndex | None = None,
    drifted: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
) -> Plan:
    never = {m.tool for m in mappings if capabilities(m.tool, m.entity).create == "never"}
    linked = {v.tool for views in links.values() for v in views}
    known = providers()
    categories = {tool: known[tool].category for tool in linked if tool in known}
    return build_plan(
        {uid: g.values for uid, g in goldens.items()},
        links,
        mappings,
        never,
        refs,
        categories,
        drifted,
    )


@task(name="persist", task_run_name="persist-{entity}", cache_policy=NO_CACHE)
def persist_resolution(
    engine: Engine, run_id: str, entity: str, merged: Merged, matches: list[MatchResult]
) -> None:
    """Save the changed goldens, every placement decision and the unsure pairs, before apply."""
    with session_scope(engine) as session:
        save_golden(session, golden_rows(entity, merged))
        record_decisions(session, decision_rows(entity, run_id, matches))
        add_reviews(session, review_rows(entity, run_id, matches))


@task(name="checkpoint", task_run_name="checkpoint-{entity}", cache_policy=NO_CACHE)
def checkpoint(
    engine: Engine,
    run_id: str,
    entity: str,
    mapped: dict[str, Mapped],
    matches: list[MatchResult],
    cursors: dict[tuple[str, str], dict[str, Any]],
    written: set[tuple[str, str]] | None = None,
    settled: list[int] | None = None,
    views: dict[tuple[str, str], LinkView] | None = None,
) -> None:
    """Record what each read record looked like, then move the cursors: links before cursors.

    A record this run wrote to keeps the values apply recorded (what the tool holds now), not
    the older ones it was read with.
    """
    hashes = {tool: m.hashes for tool, m in mapped.items()}
    rows, hashes_only = checkpoint_rows(entity, matches, hashes, written or set(), views)
    with session_scope(engine) as session:
        upsert_links(session, rows)
        upsert_links(session, hashes_only)
        for (tool, stream), state in sorted(cursors.items()):
            save_cursor(session, tool, stream, state, run_id)
        resolve_dead_letters(session, settled or ())


def _stored(payload: dict[str, Any]) -> Any:
    """A payload as the dead letters store it."""
    return to_jsonable(payload)


def _dead_letter_invalid(engine: Engine, run_id: str, tool: str, stream: str, m: Mapped) -> int:
    """File each record that failed to map, once: a record read again as it was (its letter
    still open) is not filed twice; a newer version that fails too replaces the older letter."""
    if not m.invalid:
        return 0
    filed = 0
    with session_scope(engine) as session:
        open_letters: dict[str | None, list[DeadLetter]] = {}
        for letter in open_for_stream(session, tool, stream, "map"):
            open_letters.setdefault(letter.record_id, []).append(letter)
        for bad in m.invalid:
            earlier = open_letters.get(bad.record_id, []) if bad.record_id is not None else []
            if any(letter.payload == _stored(bad.payload) for letter in earlier):
                continue
            resolve_dead_letters(session, [letter.id for letter in earlier if letter.id])
            add_dead_letter(
                session,
                run_id=run_id,
                tool=tool,
                stream=stream,
                record_id=bad.record_id,
                stage="map",
                reason=bad.reason,
                payload=bad.payload,
            )
            filed += 1
    return filed


@flow(name="sync", log_prints=False)
def sync(
    tools: list[str] | None = None,
    dry_run: bool = False,
    mode: SyncMode = "incremental",
    dead_letter_threshold: int = 50,
    max_writes: int | None = None,
) -> SyncResult:
    """Bring every connected tool in line with the golden records.

    `dry_run` stops after plan: the plan artifact shows every create and update with its old and
    new values, and nothing is written to the tools or the state store but the run's own row.
    `mode`: `incremental` reads from the cursors and plans the golden records it touched;
    `full` also plans every golden record against every tool (the nightly reconciliation);
    `backfill` reads from scratch, ignoring cursors, with the backfill share of the API budget.
    More than `dead_letter_threshold` dead letters emit a `revsync.sync.dead-letters` event.
    `max_writes` (else `REVSYNC_MAX_WRITES`; 0 or none: no cap) holds a tool's writes when its
    plan exceeds it (``flows/caps.py``): the run ends `held`.
    """
    logger = get_run_logger()
    if mode not in SYNC_MODES:
        raise ValueError(f"mode must be one of {', '.join(SYNC_MODES)}, not {mode!r}")
    selected = list(tools or connected(default_tools()))
    unknown = sorted(set(selected) - set(providers()))
    if unknown:
        raise ConfigError(
            f"unknown tool {', '.join(map(repr, unknown))}; known: {', '.join(sorted(providers()))}"
        )
    if not selected:
        raise ConfigError(
            "no tool is connected: run `revsync connect <tool>` or set its REVSYNC_* variables"
        )
    cap = max_writes_setting(max_writes)
    run_id = _run_id()
    engine = engine_from_url()
    init_schema(engine)
    report = SyncReport(run_id=run_id, dry_run=dry_run)
    progress = Progress.start(f"{mode} sync of {', '.join(selected)}")
    with session_scope(engine) as session:
        start_run(session, run_id, flow_run_id=run_id, dry_run=dry_run)
    try:
        result = _sync(
            engine, run_id, selected, dry_run, report, mode=mode, progress=progress, cap=cap
        )
    except BaseException as exc:
        report.status = "failed"
        with session_scope(engine) as session:
            finish_run(session, run_id, "failed", report.model_dump(mode="json"))
        engine.dispose()  # no pooled connection outlives the run (PostgreSQL counts them)
        if isinstance(exc, Exception):
            line = failure_line(exc)
            logger.error("sync failed: %s", line)
            publish_failure(report, line)
            replacement = with_failure_line(exc, line)
            if replacement is not exc:
                raise replacement from exc
        raise
    progress.set(100.0)
    alert_on_dead_letters(report, dead_letter_threshold)
    alert_on_drift(report)
    report.status = "held" if report.held else "completed"
    for reason in report.held:
        logger.warning("held: %s", reason)
    with session_scope(engine) as session:
        finish_run(session, run_id, "completed", report.model_dump(mode="json"))
    publish_summary(report)
    publish_plan(result.plan, dry_run=dry_run)
    logger.info(
        "sync %s: %d golden records touched, %d written, %d dead letters",
        "planned" if dry_run else "done",
        report.golden_touched,
        report.written,
        report.dead_letters,
    )
    engine.dispose()
    return result


@dataclass
class _Reads:
    """What extract and map produced for every tool."""

    mapped: dict[str, Mapped] = field(default_factory=dict)
    merges: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    cursors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    settled: list[int] = field(default_factory=list)
    """Map-stage dead letters whose record went through this run: closed at checkpoint."""
    archived: dict[str, list[str]] = field(default_factory=dict)
    """Tool -> ids its ``gone_stream`` lists (deleted or archived in the tool)."""
    observed: dict[tuple[str, str], Observed] = field(default_factory=dict)
    """(tool, stream) -> the fields its complete read carried (schema drift)."""


def _retry_malformed(
    engine: Engine,
    tool: str,
    mapping: ToolMapping,
    fresh: list[dict[str, Any]],
    mapped: Mapped,
    tool_hashes: Mapping[str, set[str]],
    refs: RefIndex,
) -> tuple[Mapped, list[int]]:
    """Records an earlier run could not map, tried again with today's mapping (it may have
    been fixed) unless the tool sent a newer version this run. Returns what the retried
    records mapped to and the dead letters settled: retried ones that map now, and ones a
    newer version that mapped now supersedes. One that fails again keeps its open letter."""
    with session_scope(engine) as session:
        letters = open_for_stream(session, tool, mapping.stream, "map")
    if not letters:
        return Mapped(), []
    fresh_ids = {str(r.get(mapping.id_field)) for r in fresh if isinstance(r, dict)}
    bad_now = {i.record_id for i in mapped.invalid}
    retried, settled = Mapped(), []
    for letter in letters:
        assert letter.id is not None
        if letter.record_id is not None and letter.record_id in fresh_ids:
            if letter.record_id not in bad_now:
                settled.append(letter.id)
            continue
        again = map_stream(mapping, [letter.payload or {}], tool_hashes, refs)
        if not again.invalid:
            retried.absorb(again)
            settled.append(letter.id)
    return retried, settled


def _archived_ids(tool: str, mapping: ToolMapping, priority: str) -> list[str]:
    """The ids the tool's ``gone_stream`` lists; none when that read fails (the records stay
    linked until a later run can read it)."""
    assert mapping.gone_stream is not None
    extracted = extract_stream(tool, mapping.gone_stream, None, priority)
    if extracted.error is not None:
        logger.warning("%s: %s not read (%s)", tool, mapping.gone_stream, extracted.error)
        return []
    ids = (r.get(mapping.id_field) for r in extracted.records if isinstance(r, dict))
    return sorted({str(i) for i in ids if i is not None})


def _read_all(
    engine: Engine,
    run_id: str,
    mappings: dict[str, ToolMapping],
    hashes: dict[tuple[str, str], set[str]],
    dry_run: bool,
    report: SyncReport,
    mode: SyncMode,
    progress: Span,
    refs: RefIndex,
) -> _Reads:
    """Extract and map each tool's stream; a cursor is kept only for a read that ended well."""
    reads = _Reads()
    priority = priority_for(mode)
    share = 1.0 / max(len(mappings), 1)
    for i, (tool, main) in enumerate(mappings.items()):
        kinds = main.all_types()
        span = progress.part(i * share, (i + 1) * share)
        counts = report.tool(tool, main.entity)
        counts.read = 0
        tool_hashes = {rid: h for (t, rid), h in hashes.items() if t == tool}
        errors: list[str] = []
        mapped = Mapped()
        merges: dict[str, list[str]] = {}
        for k, mapping in enumerate(kinds):
            with session_scope(engine) as session:
                cursor = None if mode == "backfill" else load_cursor(session, tool, mapping.stream)
            extracted = extract_stream(
                tool,
                mapping.stream,
                cursor,
                priority,
                span.part(k / len(kinds), (k + 1) / len(kinds)),
            )
            if extracted.fatal and extracted.error_exc is not None:
                raise extracted.error_exc  # a wrong token or scope: nothing later can succeed
            counts.read += len(extracted.records)
            if extracted.error is not None:
                errors.append(extracted.error)
            m = map_records(tool, mapping, extracted.records, tool_hashes, refs)
            retried, settled = _retry_malformed(
                engine, tool, mapping, extracted.records, m, tool_hashes, refs
            )
            mapped.absorb(m)
            mapped.absorb(retried)
            reads.settled += settled
            for survivor, ids in vendor_merges(mapping, extracted.records).items():
                merges.setdefault(survivor, []).extend(ids)
            if extracted.error is None and extracted.checkpoint is not None:
                reads.cursors[(tool, mapping.stream)] = extracted.checkpoint
            if extracted.error is None:
                reads.observed[(tool, mapping.stream)] = observe(mapping, extracted.records)
            if not dry_run:
                report.dead_letters += _dead_letter_invalid(engine, run_id, tool, mapping.stream, m)
        if main.gone_stream and mode != "incremental":
            # The whole archive each time: read by full runs (the nightly one), not every
            # quarter-hour.
            reads.archived[tool] = _archived_ids(tool, main, priority)
        reads.mapped[tool] = mapped
        reads.merges[tool] = merges
        counts.read_error = " | ".join(errors) or None
        counts.invalid = len(mapped.invalid)
        counts.unchanged = mapped.unchanged
        counts.passed_over = mapped.passed_over
        counts.gone = len(mapped.gone)
        counts.changed = len(mapped.changed)
    return reads


def _apply_all(
    engine: Engine,
    run_id: str,
    mappings: dict[str, ToolMapping],
    plan: Plan,
    known: dict[tuple[str, str], LinkView],
    report: SyncReport,
    mode: SyncMode,
    progress: Span,
    held: Mapping[str, str] | None = None,
) -> set[tuple[str, str]]:
    """Apply each tool's share of the plan, in the order the tools were read; returns the
    (tool, record id) of every record written."""
    written: set[tuple[str, str]] = set()
    priority = priority_for(mode)
    share = 1.0 / max(len(mappings), 1)
    for i, (tool, mapping) in enumerate(mappings.items()):
        span = progress.part(i * share, (i + 1) * share)
        writes = [w for w in plan.for_tool(tool) if w.entity == mapping.entity]
        if held and tool in held:
            writes = []
        applied = apply_writes(tool, mapping, writes, known, engine, run_id, priority, span)
        counts = report.tool(tool, mapping.entity)
        counts.created = applied.created
        counts.updated = applied.updated
        counts.failed = applied.failed
        counts.gone += len(applied.gone)
        report.dead_letters += applied.dead_letters
        written |= {(v.tool, v.record_id) for views in applied.links.values() for v in views}
    return written


@task(name="follow-merges", task_run_name="follow-merges-{entity}", cache_policy=NO_CACHE)
def follow_tool_merges(
    engine: Engine, entity: str, reads: _Reads, run_id: str
) -> tuple[list[FollowedMerge], set[tuple[str, str]]]:
    """Follow merges made in the tools; the merged-away records, which must not be matched."""
    gone = {
        (tool, rid) for tool, found in reads.merges.items() for ids in found.values() for rid in ids
    }
    followed: list[FollowedMerge] = []
    for tool, found in sorted(reads.merges.items()):
        if found:
            followed += follow_vendor_merges(engine, tool, found, run_id, entity=entity)
    for tool, m in sorted(reads.mapped.items()):
        archived = reads.archived.get(tool, [])
        if archived:  # the whole archive comes each run: only the linked ones need following
            with session_scope(engine) as session:
                archived = sorted(linked_ids(session, tool, entity, archived))
        gone_ids = [r.record_id for r in m.gone] + archived
        if gone_ids:
            followed += follow_gone_records(engine, tool, entity, gone_ids, run_id)
    gone |= {(tool, rid) for tool, ids in reads.archived.items() for rid in ids}
    return followed, gone


def _sync(
    engine: Engine,
    run_id: str,
    tools: list[str],
    dry_run: bool,
    report: SyncReport,
    *,
    mode: SyncMode = "incremental",
    progress: Progress | None = None,
    cap: int | None = None,
) -> SyncResult:
    """Each entity in turn, through every tool that maps it; one plan for the whole run."""
    progress = progress or Progress(None)
    by_entity: dict[str, dict[str, ToolMapping]] = {}
    for entity in SYNC_ENTITIES:
        maps = {t: load_mappings(t)[entity] for t in tools if entity in load_mappings(t)}
        if maps:
            by_entity[entity] = maps
    plan = Plan()
    duplicates: list[Duplicate] = []
    pending = _Pending()
    share = 95.0 / max(len(by_entity), 1)
    for i, (entity, mappings) in enumerate(by_entity.items()):
        span = progress.span(i * share, (i + 1) * share)
        # A dry run stores nothing: what later entities point at is in this run's matches and
        # plan so far (a real run has linked and created it by then).
        pending.creates = [
            (w.entity, w.tool, w.unified_id) for w in plan.writes if w.op == "create"
        ]
        part, dups = _sync_entity(
            engine, run_id, entity, mappings, dry_run, report, mode, span, pending, cap
        )
        plan.writes += part.writes
        plan.skipped += part.skipped
        duplicates += dups
    publish_duplicates(duplicates)
    if not dry_run:
        publish_dead_letters(engine, run_id)
    return SyncResult(report=report, plan=plan)


def _deleted_in_tools(engine: Engine, entity: str) -> set[tuple[str, str]]:
    with session_scope(engine) as session:
        return deleted_in_tools(session, entity)


def _decided_since_last_run(engine: Engine, entity: str, run_id: str) -> set[str]:
    """Goldens saved after the last run ended: by a person (``revsync review``), so the tools
    have not seen them yet."""
    with session_scope(engine) as session:
        last = last_finished_run(session, besides=run_id)
        if last is None or last.ended_at is None:
            return set()
        return goldens_saved_since(session, entity, last.ended_at)


@dataclass
class _Failed:
    """Writes earlier runs failed to make, for this entity's tools."""

    due: dict[str, set[str]] = field(default_factory=dict)
    """Tool -> the goldens whose lost write is tried again now (``reconcile.retries``)."""
    refused: dict[tuple[str, str], Refusal] = field(default_factory=dict)
    """(tool, golden) -> what the tool refused last and why."""


def _failed_writes(engine: Engine, mappings: dict[str, ToolMapping]) -> _Failed:
    now = utcnow()
    out = _Failed()
    with session_scope(engine) as session:
        for tool, mapping in mappings.items():
            failed = failed_writes(session, tool, mapping.streams())
            out.due[tool] = {
                f.unified_id
                for f in failed
                if due_for_retry(f.attempts, f.last_at, f.transient, now)
            }
            out.refused.update(
                ((tool, f.unified_id), (f.payload, f.reason)) for f in failed if not f.transient
            )
    return out


def _close_settled_retries(
    engine: Engine, mappings: dict[str, ToolMapping], retries: dict[str, set[str]], plan: Plan
) -> None:
    """A failed write the plan no longer needs (the tool holds the values by now, or the golden
    changed so nothing is left to send) is closed; one planned again closes when it lands."""
    with session_scope(engine) as session:
        for tool, uids in retries.items():
            pending = {w.unified_id for w in plan.for_tool(tool)}
            pending |= {s.unified_id for s in plan.skipped if s.tool == tool}
            settled = uids - pending
            if settled:
                closed = resolve_failed_writes(session, tool, mappings[tool].streams(), settled)
                logger.info("%s: %d failed writes no longer needed, closed", tool, closed)


def _sync_entity(
    engine: Engine,
    run_id: str,
    entity: str,
    mappings: dict[str, ToolMapping],
    dry_run: bool,
    report: SyncReport,
    mode: SyncMode,
    progress: Span,
    pending: _Pending | None = None,
    cap: int | None = None,
) -> tuple[Plan, list[Duplicate]]:
    """One entity's run; its plan and its in-tool duplicates. ``pending``: what a dry run's
    earlier entities matched and plan to create (a real run has stored it by now)."""
    tools = list(mappings)
    pending = pending or _Pending()
    known, hashes, version = _known_index(engine, entity, tools)
    refs = _ref_index(engine, mappings, pending.links if dry_run else ())
    if dry_run:
        refs = refs.with_pending(pending.creates)
    reads = _read_all(
        engine,
        run_id,
        mappings,
        hashes,
        dry_run,
        report,
        mode,
        progress.part(0.0, EXTRACT_SHARE / 100),
        refs,
    )
    mapped, cursors = reads.mapped, reads.cursors
    drifts = detect_drift(engine, reads.observed)
    report_drift(report, drifts)

    followed: list[FollowedMerge] = []
    gone: set[tuple[str, str]] = set()
    if not dry_run:
        followed, gone = follow_tool_merges(engine, entity, reads, run_id)
        if followed:
            # links moved: match against the new ones
            known, _, version = _known_index(engine, entity, tools)
    changed = [
        record
        for m in mapped.values()
        for record in m.changed
        if (record.tool, record.record_id) not in gone
    ]
    model = _matching_model(engine, entity, changed, known, save=not dry_run)
    matches = match_records(
        changed, known, model, _golden_index(entity, changed, known, version), entity
    )
    for match in matches:
        counts = report.tool(match.record.tool, entity)
        alone = match.created and int(match.evidence.get("cluster_size", 1)) == 1
        if alone:
            counts.new += 1
        else:
            counts.matched += 1
    pending.links += [(entity, m.record.tool, m.record.record_id, m.unified_id) for m in matches]
    touched = {m.unified_id for m in matches}
    merged = merge_goldens(matches, _golden_views(engine, entity, touched), load_rules(entity))
    report.golden_touched += len(touched)
    report.golden_changed += len(merged.changed)

    fresh = {
        (m.record.tool, m.record.record_id): (
            m.unified_id,
            LinkView(tool=m.record.tool, record_id=m.record.record_id, values=m.record.values),
        )
        for m in matches
    }
    planned_ids, planned_goldens = touched, dict(merged.goldens)
    failed = _failed_writes(engine, mappings)
    # A followed merge can change a golden no record of this run touched; so can a review
    # decision made since the last run; a write an earlier run failed to make is planned
    # again (its link still holds what the tool had).
    extra = (
        {f.unified_id for f in followed}
        | _decided_since_last_run(engine, entity, run_id)
        | set().union(*failed.due.values())
    ) - touched
    if extra:
        planned_ids = touched | extra
        planned_goldens = {**_golden_views(engine, entity, extra), **planned_goldens}
    if mode == "full":
        planned_ids = touched | all_golden_ids(engine, entity)
        planned_goldens = {
            **_golden_views(engine, entity, planned_ids - touched),
            **merged.goldens,
        }
    links = _link_views(engine, planned_ids, fresh, mappings)
    report.golden_merged += sum(1 for uid in touched if len(links.get(uid, ())) > 1)
    plan = plan_writes(
        planned_goldens, dict(links), list(mappings.values()), refs, held_fields(drifts)
    )
    plan = without_recreates(hold_refused(plan, failed.refused), _deleted_in_tools(engine, entity))
    duplicates = in_tool_duplicates(links, matches, entity)
    progress.at((EXTRACT_SHARE + 10) / 100)
    for tool in mappings:
        counts = report.tool(tool, entity)
        counts.planned_creates = plan.count(tool, "create")
        counts.planned_updates = plan.count(tool, "update")
        counts.skipped = sum(1 for s in plan.skipped if s.tool == tool)

    if dry_run:
        return plan, duplicates

    _close_settled_retries(engine, mappings, failed.due, plan)
    journal_held(engine, run_id, entity, plan.skipped)
    persist_resolution(engine, run_id, entity, merged, matches)
    held = over_cap(plan, mappings, cap)
    report.held += list(held.values())
    known_views = {(v.tool, v.record_id): v for views in links.values() for v in views}
    written = _apply_all(
        engine,
        run_id,
        mappings,
        plan,
        known_views,
        report,
        mode,
        progress.part((EXTRACT_SHARE + 10) / 100, 1.0),
        held,
    )
    if held:
        # Not checkpointed: the next run reads and plans these records again (flows/caps.py).
        return plan, duplicates
    checkpoint(
        engine, run_id, entity, mapped, matches, cursors, written, reads.settled, known_views
    )
    store_observed(engine, reads.observed, drifts)
    merge_in_tools(engine, duplicates, run_id, entity)
    return plan, duplicates


@task(name="merge-duplicates", task_run_name="merge-duplicates-{entity}", cache_policy=NO_CACHE)
def merge_in_tools(engine: Engine, duplicates: list[Duplicate], run_id: str, entity: str) -> None:
    """Merge in-tool duplicates through the vendors' merge APIs (tools in ``vendor_merge``)."""
    merge_duplicates(engine, duplicates, run_id, entity=entity)


if __name__ == "__main__":
    sync()
