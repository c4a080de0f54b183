"""`revsync dead-letters list | show ID | replay | dismiss ID…`: what failed, and what to do."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from state.db import engine_from_url, init_schema, session_scope
from state.dead_letters import (
    attempts_for,
    dismiss_dead_letters,
    find_dead_letters,
    same_record_letters,
)
from state.models import DeadLetter

__all__ = ["add_parser"]


def _record(d: DeadLetter) -> str:
    return d.record_id or str((d.payload or {}).get("unified_id") or "-")


def _line(d: DeadLetter) -> str:
    state = "" if d.resolved_at is None else f" (closed {d.resolved_at:%Y-%m-%d %H:%M})"
    return (
        f"#{d.id} {d.created_at:%Y-%m-%d %H:%M} {d.tool}/{d.stream} {d.stage} {_record(d)}{state}"
    )


def _list(args: argparse.Namespace) -> int:
    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        letters = find_dead_letters(
            session, tool=args.tool, reason=args.reason, open_only=not args.all
        )
    if not letters:
        print("No open dead letters." if not args.all else "No dead letters.")
    for d in letters:
        print(_line(d))
        print(f"    {d.reason}")
    return 0


def _show(args: argparse.Namespace) -> int:
    if len(args.ids) != 1:
        print("dead-letters show needs one dead letter id (see dead-letters list)", file=sys.stderr)
        return 2
    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        found = find_dead_letters(session, ids=args.ids, open_only=False)
        if not found:
            raise LookupError(f"no dead letter #{args.ids[0]} (see revsync dead-letters list)")
        letter = found[0]
        assert letter.id is not None
        filed = same_record_letters(session, letter)
        attempts = attempts_for(session, letter.id)
    print(_line(letter))
    print(f"run {letter.run_id}")
    print(f"reason: {letter.reason}")
    print("payload:")
    print(json.dumps(letter.payload, indent=2, sort_keys=True, default=str))
    if len(filed) > 1:
        print(f"filed {len(filed)} times for this record:")
        for d in filed:
            print(f"  #{d.id} {d.created_at:%Y-%m-%d %H:%M} run {d.run_id}: {d.reason}")
    if attempts:
        print("attempts:")
    for a in attempts:
        who = f" by {a.by}" if a.by else ""
        run = f" run {a.run_id}" if a.run_id else ""
        why = f": {a.reason}" if a.reason else ""
        print(f"  {a.at:%Y-%m-%d %H:%M} {a.outcome}{who}{run}{why}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from flows.replay import replay_dead_letters

    result = replay_dead_letters(tool=args.tool, reason=args.reason, ids=args.ids or None)
    if not result.selected:
        print("No open dead letters to replay.")
        return 0
    print(
        f"replayed {result.selected} dead letters (run {result.run_id}): "
        f"{len(result.resolved)} went through and closed, {len(result.failed)} failed again"
    )
    for letter_id, why in sorted(result.failed.items()):
        print(f"  #{letter_id} failed again: {why}")
    return 0 if not result.failed else 1


def _dismiss(args: argparse.Namespace) -> int:
    if not args.ids:
        print("dead-letters dismiss needs the ids to dismiss (see dead-letters list)")
        return 2
    engine = engine_from_url()
    init_schema(engine)
    who = args.by or getpass.getuser()
    with session_scope(engine) as session:
        closed = dismiss_dead_letters(session, args.ids, by=who, note=args.note)
    print(f"{closed} dead letters dismissed by {who}: no later run retries them")
    return 0


_ACTIONS = {"list": _list, "show": _show, "replay": _replay, "dismiss": _dismiss}


def _run(args: argparse.Namespace) -> int:
    return _ACTIONS[args.action](args)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``revsync dead-letters``."""
    p = sub.add_parser(
        "dead-letters",
        help="list, show, replay (after a fix) or dismiss what failed",
        description=(
            "list: open dead letters; show ID: one with its payload and attempts; replay: try "
            "them again now with today's mappings; dismiss ID...: close them for good"
        ),
    )
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=tuple(_ACTIONS),
        help="list (default), show ID, replay [IDS], dismiss IDS",
    )
    p.add_argument("ids", nargs="*", type=int, help="dead letter ids (show, dismiss, replay)")
    p.add_argument("--tool", help="only this tool's (list, replay)")
    p.add_argument("--reason", help="only those whose reason contains this text (list, replay)")
    p.add_argument("--all", action="store_true", help="closed ones too (list)")
    p.add_argument("--by", help="who dismisses (default: the login name)")
    p.add_argument("--note", help="why they are dismissed (dismiss)")
    p.set_defaults(func=_run)
