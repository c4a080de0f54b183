"""Vendor-side merges: follow the ones made in a tool, and optionally make them.

A record merged away in a CRM typically disappears (its id 404s) and the survivor lists it in
its mapping's ``merged_ids_field``. Unfollowed, the merged-away link would be planned against a
record that no longer exists and the golden record's provenance would name it forever.
Following the merge moves the link onto the survivor, drops the orphan and re-points
provenance; when the two records were different golden records, the vendor's word merges those
too.

Duplicates *inside* one tool (two contacts revsync matched to one person) are
reported; with the tool in ``vendor_merge`` (``mappings/survivorship.yaml``) revsync also
merges them through the vendor's merge API and follows its own merge at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from prefect.artifacts import create_table_artifact
from sqlalchemy.engine import Engine
from sqlmodel import Session

from connectors.errors import ConnectorError
from connectors.registry import capabilities, writer_for
from flows.credentials import resolve_connection
from flows.review import recompute_goldens
from mappings.survivorship import GoldenView, load_rules, repoint
from reconcile.merges import (
    Duplicate,
    FollowedMerge,
    deleted_decision,
    merge_decision,
)
from state.db import session_scope
from state.decisions import record_decisions
from state.golden import load_golden, save_golden
from state.links import delete_link, get_link, links_for_unified, remap_link
from state.reviews import relink

__all__ = [
    "follow_gone_records",
    "follow_vendor_merges",
    "merge_duplicates",
    "publish_duplicates",
]

logger = logging.getLogger(__name__)


def _merge_method(tool: str, entity: str) -> str | None:
    """The writer method that calls the vendor's own merge, as the connector declares it."""
    return capabilities(tool, entity).merge


def _repoint_golden(
    session: Session, entity: str, uid: str, tool: str, old_id: str, new_id: str
) -> None:
    row = load_golden(session, entity, {uid}).get(uid)
    if row is None:
        return
    view = GoldenView.model_validate({"values": row.values, "provenance": row.provenance})
    after = repoint(view, tool, old_id, new_id)
    if after != view:
        save_golden(
            session, [{"unified_id": uid, "entity": entity, **after.model_dump(mode="json")}]
        )


def _follow_one(
    session: Session, entity: str, tool: str, survivor: str, merged: str
) -> FollowedMerge | None:
    gone = get_link(session, tool, entity, merged)
    if gone is None:
        return None  # never linked, or already followed
    kept = get_link(session, tool, entity, survivor)
    joined: str | None = None
    if kept is not None and kept.unified_id != gone.unified_id:
        # Two goldens revsync kept apart: the vendor says one person, fold the merged side in.
        joined = gone.unified_id
        moved = [
            (link.tool, link.record_id)
            for link in links_for_unified(session, {joined})
            if (link.tool, link.record_id) != (tool, merged)
        ]
        relink(session, entity, moved, kept.unified_id)
    uid = kept.unified_id if kept is not None else gone.unified_id
    remap_link(session, tool, entity, merged, new_record_id=survivor)
    if joined is not None:
        recompute_goldens(session, {uid, joined}, entity)
    else:
        _repoint_golden(session, entity, uid, tool, merged, survivor)
    return FollowedMerge(tool=tool, survivor=survivor, merged=merged, unified_id=uid, joined=joined)


def follow_vendor_merges(
    engine: Engine,
    tool: str,
    merges: Mapping[str, Iterable[str]],
    run_id: str,
    *,
    entity: str = "person",
) -> list[FollowedMerge]:
    """Move the links of merged-away records onto their survivors (idempotent: a replay of
    the same merge finds no link left to move)."""
    followed: list[FollowedMerge] = []
    with session_scope(engine) as session:
        for survivor in sorted(merges):
            for merged in sorted(set(merges[survivor])):
                done = _follow_one(session, entity, tool, survivor, merged)
                if done is not None:
                    followed.append(done)
        record_decisions(session, [merge_decision(entity, f, run_id) for f in followed])
    for f in followed:
        logger.info("%s merged %s into %s: link followed", f.tool, f.merged, f.survivor)
    return followed


def follow_gone_records(
    engine: Engine,
    tool: str,
    entity: str,
    record_ids: Iterable[str],
    run_id: str,
    finder: Any | None = None,
) -> list[FollowedMerge]:
    """Follow linked records that are gone from their tool: still readable but flagged merged
    away or deleted (``gone_when``), or answered "not found" when written.

    The tool names no survivor, but a merge moves the record's email identities onto it, so
    the survivor is whoever holds the record's last known email now, asked through the
    connector's ``survivor_lookup``. A record with no survivor was deleted: its link goes and
    its golden record is rebuilt from the others. ``finder`` is a writer already open.
    """
    followed: list[FollowedMerge] = []
    lookup = capabilities(tool, entity).survivor_lookup
    searcher: Any = finder
    owned = finder is None
    try:
        for record_id in sorted(set(record_ids)):
            with session_scope(engine) as session:
                link = get_link(session, tool, entity, record_id)
            if link is None:
                continue  # never linked (or already followed): nothing points at it
            email = (link.last_values or {}).get("email")
            survivor: str | None = None
            if email and lookup:
                if searcher is None:
                    searcher = writer_for(resolve_connection(tool))
                survivor = getattr(searcher, lookup)(str(email))
            if survivor is not None and survivor != record_id:
                followed += follow_vendor_merges(
                    engine, tool, {survivor: [record_id]}, run_id, entity=entity
                )
                continue
            _drop_link(engine, entity, tool, record_id, link.unified_id, run_id)
    finally:
        if owned and searcher is not None:
            searcher.close()
    return followed


def _drop_link(
    engine: Engine, entity: str, tool: str, record_id: str, unified_id: str, run_id: str
) -> None:
    """A record deleted in its tool: unlink it and rebuild its golden from what is left."""
    with session_scope(engine) as session:
        delete_link(session, tool, entity, record_id)
        recompute_goldens(session, {unified_id}, entity)
        record_decisions(session, [deleted_decision(entity, tool, record_id, unified_id, run_id)])
    logger.info("%s record %s is gone from the tool: link dropped", tool, record_id)


def publish_duplicates(duplicates: list[Duplicate]) -> None:
    """The ``sync-duplicates`` artifact: what was (or would be) merged in the tools."""
    if not duplicates:
        return
    merged = sum(1 for d in duplicates if d.merged)
    create_table_artifact(
        key="sync-duplicates",
        table=[
            {
                "entity": d.entity,
                "tool": d.tool,
                "unified_id": d.unified_id,
                "records": ", ".join(d.record_ids),
                "evidence": "; ".join(
                    f"{e['record_id']}: {e['rule']} {e['score']}" for e in d.evidence
                ),
                "action": "merged in the tool" if d.merged else "reported",
            }
            for d in duplicates
        ],
        description=(
            f"{len(duplicates)} in-tool duplicate groups, {merged} merged through the vendor API"
            + (
                ""
                if merged == len(duplicates)
                else " (add a tool to vendor_merge in survivorship.yaml to merge its groups)."
            )
        ),
    )


def merge_duplicates(
    engine: Engine,
    duplicates: list[Duplicate],
    run_id: str,
    merger: Any | None = None,
    *,
    entity: str = "person",
) -> list[FollowedMerge]:
    """Merge each group into its oldest record via the vendor API, then follow the merge.

    Only tools listed in ``vendor_merge`` and able to merge are touched; a failed merge is
    logged and left for the next run (the group is still a duplicate then).
    """
    allowed = {t for t in load_rules(entity).vendor_merge if _merge_method(t, entity)}
    followed: list[FollowedMerge] = []
    for tool in sorted({d.tool for d in duplicates} & allowed):
        writer: Any = merger or writer_for(resolve_connection(tool))
        merge = getattr(writer, str(_merge_method(tool, entity)))
        try:
            for dup in (d for d in duplicates if d.tool == tool):
                primary, *others = dup.record_ids
                failed = False
                for other in others:
                    try:
                        merge(primary, other)
                    except ConnectorError as exc:
                        logger.warning(
                            "%s merge of %s into %s failed: %s", tool, other, primary, exc
                        )
                        failed = True
                        continue
                    followed += follow_vendor_merges(
                        engine, tool, {primary: [other]}, run_id, entity=entity
                    )
                dup.merged = not failed
        finally:
            if merger is None:
                writer.close()
    return followed
