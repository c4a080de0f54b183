"""The review queue and the pairs reviewers said are different people.

A pending item is a pair the matcher was unsure about. Accepting it merges the two sides;
rejecting it stores one cannot-link per (record, member) pair, which every later run reads
back and never merges across (a rejected pair never merges again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from state.models import CannotLink, GoldenRecord, Link, ReviewItem
from state.types import utcnow

__all__ = [
    "add_cannot_links",
    "add_reviews",
    "cannot_links",
    "decide_review",
    "delete_golden",
    "get_review",
    "pending_reviews",
    "relink",
]


def add_reviews(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Queue pairs (entity, left_key, right_key, score, evidence, members, run_id).

    A pair already pending, or already rejected, is not queued twice. Returns rows added.
    """
    added = 0
    for row in rows:
        existing = session.exec(
            select(ReviewItem).where(
                ReviewItem.entity == row["entity"],
                ReviewItem.left_key == row["left_key"],
                ReviewItem.right_key == row["right_key"],
                col(ReviewItem.status).in_(("pending", "rejected")),
            )
        ).first()
        if existing is not None:
            if existing.status == "pending":
                existing.score = float(row["score"])
                existing.evidence = dict(row["evidence"])
                existing.members = list(row.get("members", []))
                session.add(existing)
            continue
        session.add(ReviewItem(**dict(row)))
        added += 1
    session.flush()
    return added


def pending_reviews(session: Session, entity: str | None = "person") -> list[ReviewItem]:
    """Pending pairs of ``entity`` (None: every entity), most likely matches first."""
    stmt = select(ReviewItem).where(ReviewItem.status == "pending")
    if entity is not None:
        stmt = stmt.where(ReviewItem.entity == entity)
    stmt = stmt.order_by(col(ReviewItem.score).desc(), col(ReviewItem.id))
    return list(session.exec(stmt))


def get_review(session: Session, review_id: int) -> ReviewItem | None:
    return session.get(ReviewItem, review_id)


def decide_review(session: Session, review_id: int, status: str) -> ReviewItem:
    """Mark an item accepted or rejected (the caller applies the merge or split)."""
    item = session.get(ReviewItem, review_id)
    if item is None:
        raise KeyError(f"no review item {review_id}")
    if status not in ("accepted", "rejected"):
        raise ValueError(f"status must be accepted or rejected, not {status!r}")
    item.status = status
    item.decided_at = utcnow()
    session.add(item)
    session.flush()
    return item


def add_cannot_links(
    session: Session,
    entity: str,
    pairs: Iterable[tuple[str, str]],
    review_id: int | None = None,
) -> int:
    """Remember record pairs that are different people (idempotent)."""
    added = 0
    for a, b in pairs:
        if a == b:
            continue
        key_a, key_b = sorted((a, b))
        if session.get(CannotLink, (entity, key_a, key_b)) is None:
            session.add(CannotLink(entity=entity, key_a=key_a, key_b=key_b, review_id=review_id))
            added += 1
    session.flush()
    return added


def cannot_links(session: Session, entity: str = "person") -> set[tuple[str, str]]:
    stmt = select(CannotLink).where(CannotLink.entity == entity)
    return {(c.key_a, c.key_b) for c in session.exec(stmt)}


def relink(
    session: Session, entity: str, records: Iterable[tuple[str, str]], unified_id: str
) -> int:
    """Point these (tool, record_id) links at ``unified_id`` (a review merge or split)."""
    moved = 0
    for tool, record_id in records:
        link = session.get(Link, (tool, entity, record_id))
        if link is not None and link.unified_id != unified_id:
            link.unified_id = unified_id
            session.add(link)
            moved += 1
    session.flush()
    return moved


def delete_golden(session: Session, unified_id: str) -> None:
    """Drop a golden record left without links by a review merge."""
    row = session.get(GoldenRecord, unified_id)
    if row is not None:
        session.delete(row)
        session.flush()
