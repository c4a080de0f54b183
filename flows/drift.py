"""Schema drift in a run: detect it from the reads, report it, hold its writes, store it.

Detection is ``reconcile/drift.py`` (pure), storage ``state/drift.py``; this module ties them
to the run: what earlier runs saw is loaded before plan, the holds go into the plan, the rows
into the run report and the ``sync-drift`` artifact, and a ``revsync.sync.schema-drift`` event
lets an automation tell an admin. What the reads carried is stored at checkpoint only (a dry
run stores nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Engine

from flows.report import DriftRow, SyncReport
from reconcile.drift import Drift, Observed, Seen, detect
from state.db import session_scope
from state.drift import record_observation, seen_fields

__all__ = ["DRIFT_EVENT", "alert_on_drift", "detect_drift", "report_drift", "store_observed"]

logger = logging.getLogger(__name__)

DRIFT_EVENT = "revsync.sync.schema-drift"


def detect_drift(engine: Engine, observed: Mapping[tuple[str, str], Observed]) -> list[Drift]:
    """Each stream's read of this run against what earlier runs saw of it."""
    drifts: list[Drift] = []
    with session_scope(engine) as session:
        for (tool, stream), seen in sorted(observed.items()):
            rows = seen_fields(session, tool, stream)
            before = {
                path: Seen(
                    path=path,
                    mapped=row.mapped,
                    rate=row.rate,
                    vanished=row.vanished_at is not None,
                    confirmed=row.confirmed_at is not None,
                )
                for path, row in rows.items()
            }
            drift = detect(seen, before)
            if drift:
                drifts.append(drift)
    for d in drifts:
        for path in d.vanished:
            logger.warning("%s/%s: %s vanished; its writes are held", d.tool, d.stream, path)
        if d.new:
            logger.warning("%s/%s: new fields %s", d.tool, d.stream, ", ".join(d.new))
    return drifts


def store_observed(
    engine: Engine, observed: Mapping[tuple[str, str], Observed], drifts: Iterable[Drift]
) -> None:
    """What every read carried, for the next runs (at checkpoint)."""
    vanished = {(d.tool, d.stream): set(d.vanished) for d in drifts}
    with session_scope(engine) as session:
        for (tool, stream), seen in sorted(observed.items()):
            record_observation(
                session,
                tool,
                stream,
                records=seen.records,
                carried=seen.carried,
                fields=seen.fields,
                unmapped=seen.unmapped,
                vanished=vanished.get((tool, stream), set()),
            )


def report_drift(report: SyncReport, drifts: Iterable[Drift]) -> None:
    for d in drifts:
        report.drift += [
            DriftRow(tool=d.tool, stream=d.stream, field=p, change="vanished", unified=",".join(f))
            for p, f in sorted(d.vanished.items())
        ]
        report.drift += [
            DriftRow(tool=d.tool, stream=d.stream, field=p, change="new") for p in d.new
        ]


def alert_on_drift(report: SyncReport) -> bool:
    """Emit ``revsync.sync.schema-drift`` when the run found drift: field names and counts
    only, never record contents."""
    if not report.drift:
        return False
    from prefect.events import emit_event

    vanished = [f"{r.tool}/{r.stream}:{r.field}" for r in report.drift if r.change == "vanished"]
    new = [f"{r.tool}/{r.stream}:{r.field}" for r in report.drift if r.change == "new"]
    emit_event(
        event=DRIFT_EVENT,
        resource={
            "prefect.resource.id": f"revsync.sync.{report.run_id}",
            "prefect.resource.name": "revsync sync",
        },
        payload={
            "vanished": vanished,
            "new": new,
            "tools": sorted({r.tool for r in report.drift}),
            "dry_run": report.dry_run,
        },
    )
    return True
