"""Run modes and what they change: where reads start, what is planned, whose budget it is.

``incremental`` (every 15 minutes) reads from the cursors and plans the golden records it
touched; ``full`` (nightly) reads the same way but plans every golden record against every tool,
so a value changed behind revsync's back or a write that failed earlier is corrected;
``backfill`` reads every record from scratch with the backfill share of the API budget.
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy.engine import Engine

from flows.budget import Priority
from flows.report import SyncReport
from state.db import session_scope
from state.golden import golden_ids

__all__ = [
    "DEAD_LETTER_EVENT",
    "SYNC_MODES",
    "SyncMode",
    "alert_on_dead_letters",
    "all_golden_ids",
    "priority_for",
]

logger = logging.getLogger(__name__)

SyncMode = Literal["incremental", "full", "backfill"]
SYNC_MODES: tuple[str, ...] = ("incremental", "full", "backfill")
DEAD_LETTER_EVENT = "revsync.sync.dead-letters"


def priority_for(mode: str) -> str:
    """Backfills yield the API budget to the syncs people are waiting for."""
    return (Priority.BACKFILL if mode == "backfill" else Priority.INCREMENTAL).value


def all_golden_ids(engine: Engine, entity: str) -> set[str]:
    with session_scope(engine) as session:
        return golden_ids(session, entity)


def alert_on_dead_letters(report: SyncReport, threshold: int) -> bool:
    """Emit ``revsync.sync.dead-letters`` when a run left more than ``threshold`` behind.

    The automation in ``ops/automations.yaml`` turns the event into a notification; the event
    carries counts only, never record contents.
    """
    if report.dead_letters <= threshold:
        return False
    from prefect.events import emit_event

    per_tool = {tool: c.invalid + c.failed for tool, c in sorted(report.tools.items())}
    emit_event(
        event=DEAD_LETTER_EVENT,
        resource={
            "prefect.resource.id": f"revsync.sync.{report.run_id}",
            "prefect.resource.name": "revsync sync",
        },
        payload={
            "dead_letters": report.dead_letters,
            "threshold": threshold,
            "per_tool": per_tool,
        },
    )
    logger.warning(
        "%d dead letters (threshold %d): see the sync-dead-letters artifact",
        report.dead_letters,
        threshold,
    )
    return True
