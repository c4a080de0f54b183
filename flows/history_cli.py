"""`revsync history <email | TOOL:ID | golden id>`: every value change of one person or company.

From the journal (each write revsync made or held: when, which run, which tool, field, before
and after) and the golden record (which tool and record each current value comes from, the
survivorship source) and the match decisions (why each tool record belongs to it).
"""

from __future__ import annotations

import argparse

from sqlmodel import Session

from state.db import engine_from_url, init_schema, session_scope
from state.decisions import decisions_for
from state.golden import golden_by_email, golden_by_id
from state.journal import entries_for_golden
from state.links import links_for_unified, links_of_record
from state.models import GoldenRecord

__all__ = ["add_parser", "history_lines"]


def _golden_of(session: Session, target: str) -> GoldenRecord:
    """The golden record ``target`` names: an email, a ``tool:record_id`` or a golden id."""
    if "@" in target:
        found = golden_by_email(session, target)
        if len(found) != 1:
            raise LookupError(f"{len(found)} golden people have the email {target!r}")
        return found[0]
    if ":" in target:
        tool, record_id = target.split(":", 1)
        links = links_of_record(session, tool, record_id)
        if not links:
            raise LookupError(f"{target} is linked to no golden record (see revsync sync)")
        golden = golden_by_id(session, links[0].unified_id)
    else:
        golden = golden_by_id(session, target)
    if golden is None:
        raise LookupError(f"no golden record {target!r} (an email, TOOL:ID or golden id)")
    return golden


def history_lines(target: str) -> list[str]:
    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        golden = _golden_of(session, target)
        uid = golden.unified_id
        entries = entries_for_golden(session, uid)
        decisions = decisions_for(session, uid)
        links = links_for_unified(session, [uid])
    out = [f"golden {golden.entity} {uid}"]
    out.append("linked: " + (", ".join(f"{x.tool}:{x.record_id}" for x in links) or "none"))
    out.append("changes (when, run, tool:record, op/status, field: before -> after, why):")
    for e in entries:
        why = f" ({e.error})" if e.error else ""
        record = e.record_id or e.natural_key or "-"
        fields = sorted(set(e.before or {}) | set(e.after or {}))
        for name in fields or ["-"]:
            old = (e.before or {}).get(name)
            new = (e.after or {}).get(name)
            out.append(
                f"  {e.created_at:%Y-%m-%d %H:%M:%S} run {e.run_id} {e.tool}:{record} "
                f"{e.op}/{e.status} {name}: {old!r} -> {new!r}{why}"
            )
    if not entries:
        out.append("  none journaled")
    out.append("current values and their source (survivorship):")
    for name in sorted(golden.values):
        source = golden.provenance.get(name) or {}
        where = f"{source.get('tool')}:{source.get('record_id')}" if source else "-"
        when = source.get("updated_at") or "-"
        out.append(f"  {name} = {golden.values[name]!r} from {where} at {when}")
    out.append("match decisions (why each record belongs here):")
    for d in decisions:
        score = "" if d.score is None else f" score {d.score:.3f}"
        out.append(
            f"  {d.decided_at:%Y-%m-%d %H:%M:%S} run {d.run_id} {d.tool}:{d.record_id} "
            f"by {d.rule}{score}"
        )
    return out


def _run(args: argparse.Namespace) -> int:
    print("\n".join(history_lines(args.target)))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``revsync history``."""
    p = sub.add_parser(
        "history", help="every change revsync made to one person or company, with its source"
    )
    p.add_argument("target", help="an email, TOOL:RECORD_ID or a golden id")
    p.set_defaults(func=_run)
