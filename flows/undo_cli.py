"""`revsync undo --run RUN [--record TOOL:ID] [--dry-run]`: put back what a run changed."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    from flows.undo import undo_run

    plan = undo_run(args.run, record=args.record, dry_run=args.dry_run)
    head = "Undo plan (dry run, nothing written)" if args.dry_run else "Undone"
    print(f"{head}: run {plan.run_id}, {len(plan.writes)} records to restore")
    for w in plan.writes:
        fields = ", ".join(f"{n}: {c.old!r} -> {c.new!r}" for n, c in sorted(w.changes.items()))
        print(f"  {w.tool}:{w.record_id} {fields}")
    for line in plan.reported:
        print(f"  not undone: {line}")
    if plan.undo_run:
        print(f"journaled as run {plan.undo_run} (revsync undo --run {plan.undo_run} undoes it)")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``revsync undo``."""
    p = sub.add_parser("undo", help="restore the before image of what a run changed")
    p.add_argument("--run", required=True, help="the run to undo")
    p.add_argument("--record", help="only this record (TOOL:ID)")
    p.add_argument("--dry-run", action="store_true", help="show the undo plan, write nothing")
    p.set_defaults(func=_run)
