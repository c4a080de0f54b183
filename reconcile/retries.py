"""When a failed write is tried again by a later run: the retry policy across runs.

A write that failed because the call failed (an outage, retries within the run exhausted) is
re-planned by the next run, then with a growing pause, and given up after ``MAX_ATTEMPTS``
(it stays an open dead letter for a person to look at). A write the tool refused for the
record's content is not retried as it was: the same values would be refused the same way. It is
re-planned when its golden record changes, as every write is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from reconcile.plan import Plan, PlannedWrite, Skipped

__all__ = [
    "FIRST_PAUSE",
    "MAX_ATTEMPTS",
    "MAX_PAUSE",
    "Refusal",
    "due_for_retry",
    "hold_refused",
    "pause_after",
]

Refusal = tuple[Mapping[str, Any], str]
"""What a tool refused for one golden record (``op`` and payload as sent) and its reason."""

MAX_ATTEMPTS = 8
FIRST_PAUSE = dt.timedelta(minutes=15)
MAX_PAUSE = dt.timedelta(hours=24)


def pause_after(attempts: int) -> dt.timedelta:
    """How long after its last failure a write that failed ``attempts`` times waits: none after
    the first (the next run tries again), then 15 min, 30 min, 1 h, … up to a day."""
    if attempts <= 1:
        return dt.timedelta(0)
    return min(FIRST_PAUSE * 2 ** (attempts - 2), MAX_PAUSE)


def due_for_retry(
    attempts: int, last_failed_at: dt.datetime, transient: bool, now: dt.datetime
) -> bool:
    """True when a run starting at ``now`` should re-plan a write that failed ``attempts``
    times, the last at ``last_failed_at`` (``transient``: the call failed, not the record)."""
    if not transient or attempts >= MAX_ATTEMPTS:
        return False
    return now - last_failed_at >= pause_after(attempts)


def _sent(write: PlannedWrite) -> Any:
    """The write as its dead letter would hold it (through JSON, as stored)."""
    return json.loads(json.dumps({"op": write.op, **write.payload}, default=str))


def hold_refused(plan: Plan, refused: Mapping[tuple[str, str], Refusal]) -> Plan:
    """``plan`` without the writes a tool already refused exactly as planned, each turned into
    a skip that says so: sent again unchanged it would be refused again, every run. A write
    whose values changed since (the record or the mapping was fixed) goes ahead."""
    kept: list[PlannedWrite] = []
    held: list[Skipped] = []
    for write in plan.writes:
        before = refused.get((write.tool, write.unified_id))
        if before is not None:
            sent, reason = before
            unchanged = {k: v for k, v in sent.items() if k not in ("unified_id", "transient")}
            if unchanged == _sent(write):
                why = (
                    f"refused as planned by an earlier run ({reason}); fix the record in a "
                    "tool or the mapping"
                )
                held.append(Skipped(tool=write.tool, unified_id=write.unified_id, reason=why))
                continue
        kept.append(write)
    if not held:
        return plan
    return plan.model_copy(update={"writes": kept, "skipped": [*plan.skipped, *held]})
