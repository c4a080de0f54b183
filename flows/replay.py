"""Replay dead letters: try the stored records again now, with the mappings as they are now.

A record that failed to map is mapped again from its stored copy; once it maps, one sync takes
it (and every other stored record that maps now) through match, merge, plan and apply, and its
letter closes at the checkpoint. A write a tool refused or lost is planned again from its golden
record with today's mapping (so a fixed mapping sends a different payload) and written through
the tool's writer at once, whatever the retry pause; it closes when it lands or when the plan
no longer needs it. Each selected letter that is still open afterwards gets an attempt with the
reason it failed this time, so a record that keeps failing shows its attempts.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from sqlalchemy.engine import Engine

from flows.apply import apply_writes
from flows.sync import _golden_views, _link_views, _ref_index, plan_writes, sync
from mappings.spec import Mapping as ToolMapping
from mappings.spec import load_mappings
from reconcile.mapped import map_stream
from reconcile.plan import without_recreates
from state.db import engine_from_url, init_schema, session_scope
from state.dead_letters import (
    find_dead_letters,
    record_attempt,
    resolve_failed_writes,
    same_record_letters,
)
from state.decisions import deleted_in_tools
from state.models import DeadLetter
from state.runs import finish_run, start_run

__all__ = ["ReplayResult", "replay_dead_letters"]


@dataclass
class ReplayResult:
    run_id: str
    selected: int = 0
    resolved: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    """Letter id -> why it failed again."""
    synced: bool = False
    """A sync ran for the stored records that map now."""


def _section(tool: str, stream: str) -> ToolMapping | None:
    """The mapping section (a record type's, if it is one) that reads ``stream``."""
    for mapping in load_mappings(tool).values():
        for kind in mapping.all_types():
            if kind.stream == stream:
                return kind
    return None


def _entity_mapping(tool: str, stream: str) -> ToolMapping | None:
    """The entity's main mapping section of a stream (a record type's parent)."""
    for mapping in load_mappings(tool).values():
        if stream in mapping.streams():
            return mapping
    return None


def _premap(letters: list[DeadLetter]) -> tuple[list[int], dict[int, str]]:
    """Map stage: which stored records map with today's mapping, and why the others do not."""
    passing: list[int] = []
    failing: dict[int, str] = {}
    for letter in letters:
        assert letter.id is not None
        section = _section(letter.tool, letter.stream)
        if section is None:
            failing[letter.id] = f"no mapping reads {letter.tool}/{letter.stream} any more"
            continue
        again = map_stream(section, [letter.payload or {}], {})
        if again.invalid:
            failing[letter.id] = again.invalid[0].reason
        else:
            passing.append(letter.id)
    return passing, failing


def _replan_writes(engine: Engine, run_id: str, letters: list[DeadLetter]) -> None:
    """Apply stage: plan each golden's write to the tool again and make it now."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for letter in letters:
        uid = (letter.payload or {}).get("unified_id")
        mapping = _entity_mapping(letter.tool, letter.stream)
        if isinstance(uid, str) and mapping is not None:
            wanted[(letter.tool, mapping.entity)].add(uid)
    for (tool, entity), uids in sorted(wanted.items()):
        mapping = load_mappings(tool)[entity]
        goldens = _golden_views(engine, entity, uids)
        links = _link_views(engine, uids, {}, {tool: mapping})
        refs = _ref_index(engine, {tool: mapping})
        plan = plan_writes(goldens, dict(links), [mapping], refs)
        with session_scope(engine) as session:
            plan = without_recreates(plan, deleted_in_tools(session, entity))
            settled = uids - {w.unified_id for w in plan.for_tool(tool)}
            # Nothing left to write (the tool holds the values, or the golden is gone).
            resolve_failed_writes(session, tool, mapping.streams(), settled)
        known = {(v.tool, v.record_id): v for views in links.values() for v in views}
        apply_writes(tool, mapping, plan.for_tool(tool), known, engine, run_id)


def _last_reason(engine: Engine, letter: DeadLetter) -> str:
    """Why the record failed last: the newest letter filed for it (a write filed again)."""
    with session_scope(engine) as session:
        return same_record_letters(session, letter)[-1].reason


@flow(name="replay-dead-letters", log_prints=False)
def replay_dead_letters(
    tool: str | None = None, reason: str | None = None, ids: list[int] | None = None
) -> ReplayResult:
    """Replay the open dead letters of ``tool`` whose reason contains ``reason`` (or these
    ``ids``); see the module docstring for what each stage does."""
    logger = get_run_logger()
    engine = engine_from_url()
    init_schema(engine)
    current = flow_run.get_id()
    run_id = str(current) if current else uuid.uuid4().hex
    with session_scope(engine) as session:
        letters = find_dead_letters(session, tool=tool, reason=reason, ids=ids)
        start_run(session, run_id, flow_run_id=run_id, dry_run=False)
    result = ReplayResult(run_id=run_id, selected=len(letters))
    status = "failed"
    try:
        if letters:
            result.synced = _replay(engine, run_id, letters, result)
        status = "completed"
    finally:
        with session_scope(engine) as session:
            summary = {
                "replayed": result.selected,
                "resolved": len(result.resolved),
                "failed": len(result.failed),
            }
            finish_run(session, run_id, status, summary)  # type: ignore[arg-type]
        engine.dispose()
    logger.info(
        "replayed %d dead letters: %d resolved, %d failed again",
        result.selected,
        len(result.resolved),
        len(result.failed),
    )
    return result


def _replay(engine: Engine, run_id: str, letters: list[DeadLetter], result: ReplayResult) -> bool:
    """Replay ``letters``; fills ``result`` and notes an attempt on each; True if it synced."""
    mapped = [d for d in letters if d.stage == "map"]
    writes = [d for d in letters if d.stage == "apply"]
    passing, failing = _premap(mapped)
    if writes:
        _replan_writes(engine, run_id, writes)
    synced = False
    if passing:
        # The sync maps every stored record again and takes those that map now through.
        sync()
        synced = True
    with session_scope(engine) as session:
        still_open = {d.id for d in find_dead_letters(session, ids=[d.id for d in letters if d.id])}
    for letter in letters:
        assert letter.id is not None
        with session_scope(engine) as session:
            if letter.id not in still_open:
                record_attempt(session, letter.id, "resolved", run_id=run_id)
                result.resolved.append(letter.id)
                continue
        why = failing.get(letter.id) or _last_reason(engine, letter)
        with session_scope(engine) as session:
            record_attempt(session, letter.id, "failed", run_id=run_id, reason=why)
        result.failed[letter.id] = why
    return synced


if __name__ == "__main__":
    replay_dead_letters()
