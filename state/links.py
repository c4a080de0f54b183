"""Links between tool records and unified ids, with what was last read and written.

`last_read_hash` / `last_written_hash` are `mappings.hashing.values_hash` of the mapped
values: a read whose hash equals the last written one is our own echo (invariant 1).
`last_values` holds mapped record data only, never credentials.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from state._chunks import chunked
from state._upsert import bulk_upsert
from state.models import Link
from state.types import utcnow

__all__ = [
    "delete_link",
    "get_link",
    "linked_ids",
    "links_for_entity",
    "links_for_tool",
    "links_for_unified",
    "links_of_record",
    "owners_for_tool",
    "record_read",
    "record_written",
    "remap_link",
    "upsert_links",
]


def get_link(session: Session, tool: str, entity: str, record_id: str) -> Link | None:
    return session.get(Link, (tool, entity, record_id))


def links_for_tool(session: Session, tool: str, entity: str) -> dict[str, Link]:
    """Every link of one tool and entity, by tool record id (the matcher's known index)."""
    stmt = select(Link).where(Link.tool == tool, Link.entity == entity)
    return {link.record_id: link for link in session.exec(stmt)}


def owners_for_tool(session: Session, tool: str, entity: str) -> dict[str, str]:
    """Tool record id -> the golden id it is linked to, for one tool and entity (two columns:
    apply loads it for every tool it writes creates to)."""
    stmt = select(Link.record_id, Link.unified_id).where(Link.tool == tool, Link.entity == entity)
    return {record_id: unified_id for record_id, unified_id in session.exec(stmt)}


def links_for_entity(session: Session, entity: str) -> list[Link]:
    """Every link of one entity, in every tool (what each record was last read with)."""
    stmt = select(Link).where(Link.entity == entity)
    return sorted(session.exec(stmt), key=lambda link: (link.tool, link.record_id))


def linked_ids(session: Session, tool: str, entity: str, record_ids: Iterable[str]) -> set[str]:
    """Which of these tool record ids revsync has a link for."""
    found: set[str] = set()
    for batch in chunked(record_ids):
        stmt = select(Link.record_id).where(
            Link.tool == tool, Link.entity == entity, col(Link.record_id).in_(batch)
        )
        found.update(session.exec(stmt))
    return found


def links_for_unified(session: Session, unified_ids: Iterable[str]) -> list[Link]:
    """The links of these unified ids across all tools (the fan-out targets of a write)."""
    found: list[Link] = []
    for batch in chunked(unified_ids):
        stmt = select(Link).where(col(Link.unified_id).in_(batch))
        found.extend(session.exec(stmt))
    found.sort(key=lambda link: (link.unified_id, link.tool, link.entity, link.record_id))
    return found


def upsert_links(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Bulk insert or update links; each row needs tool, entity, record_id and unified_id.

    Other columns a row omits are left as they are, except that a row carrying a read or
    written hash without its timestamp gets now. Returns the number of rows.
    """
    now = utcnow()
    prepared: list[dict[str, Any]] = []
    for row in rows:
        full = dict(row)
        if "last_read_hash" in full:
            full.setdefault("last_read_at", now)
        if "last_written_hash" in full:
            full.setdefault("last_written_at", now)
        prepared.append(full)
    return bulk_upsert(session, Link, prepared)


def record_read(
    session: Session,
    tool: str,
    entity: str,
    record_id: str,
    unified_id: str,
    read_hash: str,
    values: Mapping[str, Any],
    *,
    at: dt.datetime | None = None,
) -> None:
    """Note what was just read from a tool record (creates the link if needed)."""
    row = {
        "tool": tool,
        "entity": entity,
        "record_id": record_id,
        "unified_id": unified_id,
        "last_read_hash": read_hash,
        "last_values": dict(values),
        "last_read_at": at or utcnow(),
    }
    bulk_upsert(session, Link, [row])


def record_written(
    session: Session,
    tool: str,
    entity: str,
    record_id: str,
    unified_id: str,
    written_hash: str,
    values: Mapping[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Note what revsync wrote to a tool record, so reading it back is not a change.

    `values` (the mapped values the tool now holds) replaces `last_values` when given.
    """
    row: dict[str, Any] = {
        "tool": tool,
        "entity": entity,
        "record_id": record_id,
        "unified_id": unified_id,
        "last_written_hash": written_hash,
        "last_written_at": at or utcnow(),
    }
    if values is not None:
        row["last_values"] = dict(values)
    bulk_upsert(session, Link, [row])


def remap_link(
    session: Session,
    tool: str,
    entity: str,
    record_id: str,
    *,
    new_record_id: str | None = None,
    new_unified_id: str | None = None,
) -> Link | None:
    """Follow a merge: the vendor merged `record_id` into `new_record_id`, and/or revsync
    merged its unified id into `new_unified_id`. Returns the surviving link, None if
    `record_id` had no link.

    When the surviving record already has a link, the merged-away link is dropped and the
    survivor keeps its own hashes (its content is what the tool now holds).
    """
    link = get_link(session, tool, entity, record_id)
    if link is None:
        return None
    survivor = link
    if new_record_id is not None and new_record_id != record_id:
        target = get_link(session, tool, entity, new_record_id)
        if target is None:
            target = Link(
                tool=tool,
                entity=entity,
                record_id=new_record_id,
                unified_id=link.unified_id,
                last_read_hash=link.last_read_hash,
                last_written_hash=link.last_written_hash,
                last_values=link.last_values,
                last_read_at=link.last_read_at,
                last_written_at=link.last_written_at,
            )
            session.add(target)
        session.delete(link)
        survivor = target
    if new_unified_id is not None:
        survivor.unified_id = new_unified_id
    session.add(survivor)
    session.flush()
    return survivor


def delete_link(session: Session, tool: str, entity: str, record_id: str) -> bool:
    """Forget a tool record (deleted in its tool); True when there was a link."""
    link = get_link(session, tool, entity, record_id)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def links_of_record(session: Session, tool: str, record_id: str) -> list[Link]:
    """The links of one tool record id, whatever its entity (a CLI argument names no entity)."""
    stmt = select(Link).where(Link.tool == tool, Link.record_id == record_id)
    return list(session.exec(stmt))
