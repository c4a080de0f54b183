"""The artifacts an admin reads in the Prefect UI after each run, under stable keys."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from sqlalchemy.engine import Engine

from flows.report import SyncReport
from reconcile.plan import Plan
from state.db import session_scope
from state.dead_letters import dead_letters_for_run

__all__ = [
    "PLAN_ROWS_SHOWN",
    "plan_markdown",
    "publish_dead_letters",
    "publish_drift",
    "publish_failure",
    "publish_plan",
    "publish_summary",
]

PLAN_ROWS_SHOWN = 500
"""The plan artifact lists this many writes in full; the counts always cover all of them."""


def publish_summary(report: SyncReport) -> None:
    create_table_artifact(
        key="sync-summary",
        table=report.rows(),
        description=(
            f"Run {report.run_id}{' (dry run)' if report.dry_run else ''}: "
            f"{report.golden_touched} golden records touched, {report.written} records written, "
            f"{report.dead_letters} dead letters."
            + (f" Schema drift: {len(report.drift)} fields (sync-drift)." if report.drift else "")
        ),
    )
    publish_drift(report)


def publish_drift(report: SyncReport) -> None:
    """The ``sync-drift`` artifact: fields the tools stopped (held) or started sending."""
    if not report.drift:
        return
    held = sum(1 for r in report.drift if r.change == "vanished")
    create_table_artifact(
        key="sync-drift",
        table=[
            {
                "tool": r.tool,
                "stream": r.stream,
                "field": r.field,
                "change": r.change,
                "unified": r.unified,
                "action": (
                    f"writes held: revsync drift confirm {r.tool} {r.field}"
                    if r.change == "vanished"
                    else "reported: no mapping line reads it"
                ),
            }
            for r in report.drift
        ],
        description=(
            f"{held} mapped fields vanished from the tools' records (their writes held until "
            f"confirmed), {len(report.drift) - held} new fields."
        ),
    )


def _cell(value: str | None) -> str:
    return "∅" if value in (None, "") else str(value).replace("|", "\\|")


def plan_markdown(plan: Plan, *, dry_run: bool) -> str:
    creates = sum(1 for w in plan.writes if w.op == "create")
    updates = len(plan.writes) - creates
    head = "Planned (dry run, nothing written)" if dry_run else "Applied plan"
    lines = [
        f"# {head}",
        "",
        f"{creates} creates, {updates} updates, {len(plan.skipped)} skipped.",
        "",
        "| tool | op | record | field | old → new |",
        "|---|---|---|---|---|",
    ]
    for write in plan.writes[:PLAN_ROWS_SHOWN]:
        record = write.record_id or f"(new: {write.natural_key})"
        for field, change in write.changes.items():
            lines.append(
                f"| {write.tool} | {write.op} | {_cell(record)} | {field} | "
                f"{_cell(change.old)} → {_cell(change.new)} |"
            )
    if len(plan.writes) > PLAN_ROWS_SHOWN:
        lines += ["", f"… and {len(plan.writes) - PLAN_ROWS_SHOWN} more writes."]
    if plan.skipped:
        lines += ["", "## Skipped", "", "| tool | golden record | reason |", "|---|---|---|"]
        lines += [f"| {s.tool} | {s.unified_id} | {_cell(s.reason)} |" for s in plan.skipped]
    return "\n".join(lines)


def publish_plan(plan: Plan, *, dry_run: bool) -> None:
    create_markdown_artifact(
        key="sync-plan",
        markdown=plan_markdown(plan, dry_run=dry_run),
        description="Every create and update of this run, with old → new values.",
    )


def publish_dead_letters(engine: Engine, run_id: str) -> None:
    with session_scope(engine) as session:
        letters = dead_letters_for_run(session, run_id)
    if not letters:
        return
    create_table_artifact(
        key="sync-dead-letters",
        table=[
            {
                "tool": d.tool,
                "stream": d.stream,
                "stage": d.stage,
                "record": d.record_id or "",
                "reason": d.reason,
            }
            for d in letters
        ],
        description=f"{len(letters)} records this run could not process, with the reason.",
    )


def publish_failure(report: SyncReport, line: str) -> None:
    """What failed and what to do, on top of the counts reached before the failure."""
    create_markdown_artifact(
        key="sync-failure",
        markdown=f"# Sync failed\n\n**{line}**\n",
        description=line,
    )
    publish_summary(report)
