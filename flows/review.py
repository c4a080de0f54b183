"""`revsync review`: list unsure pairs with their evidence, accept or reject them.

Accepting merges the two golden records (links moved, golden recomputed from its records).
Rejecting stores a cannot-link between the record and every record of the other side, so no
later run merges them, and splits them cleanly if they were already together: the record
gets its own golden record and both goldens are recomputed from their own records. The next
`full` sync writes the corrected values back to the tools.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.failures import UsageError
from mappings.spec import MappedRecord
from mappings.survivorship import golden_from_scratch, load_rules
from matching.deterministic import ID_NAMESPACE
from state.db import session_scope
from state.decisions import record_decisions
from state.golden import save_golden
from state.links import get_link, links_for_unified
from state.models import ReviewItem
from state.reviews import (
    add_cannot_links,
    decide_review,
    delete_golden,
    get_review,
    pending_reviews,
    relink,
)

__all__ = ["accept", "list_reviews", "recompute_goldens", "reject", "render_reviews", "split"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def list_reviews(engine: Engine, entity: str | None = None) -> list[ReviewItem]:
    """Pending pairs of ``entity``, or of every entity."""
    with session_scope(engine) as session:
        items = pending_reviews(session, entity)
        for item in items:
            session.expunge(item)
    return items


def render_reviews(items: list[ReviewItem]) -> str:
    """One block per pair: the score, then each comparison's level and weight."""
    if not items:
        return "No pairs to review."
    lines: list[str] = []
    for item in items:
        ev = item.evidence
        lines.append(
            f"#{item.id}  {item.entity}  {item.left_key}  <->  {item.right_key}  "
            f"score {item.score:.3f}  weight {ev.get('match_weight', 0):+.2f}"
        )
        for c in ev.get("comparisons", []):
            tf = f" (tf {c['tf_adjustment']:+.2f})" if "tf_adjustment" in c else ""
            lines.append(f"      {c['name']:<12} {c['level']:<22} {c['weight']:+7.2f}{tf}")
    return "\n".join(lines)


def _split_key(key: str) -> tuple[str, str]:
    tool, _, record_id = key.partition(":")
    return tool, record_id


def _side_uid(session: Session, entity: str, key: str) -> str | None:
    if key.startswith("unified:"):
        return key.removeprefix("unified:")
    tool, record_id = _split_key(key)
    link = get_link(session, tool, entity, record_id)
    return None if link is None else link.unified_id


def recompute_goldens(session: Session, unified_ids: set[str], entity: str) -> None:
    """Rebuild goldens from their records' last known values (survivorship from scratch)."""
    rules = load_rules(entity)
    by_uid: dict[str, list[MappedRecord]] = {uid: [] for uid in unified_ids}
    for link in links_for_unified(session, unified_ids):
        by_uid[link.unified_id].append(
            MappedRecord(
                tool=link.tool,
                record_id=link.record_id,
                updated_at=link.last_read_at or link.last_written_at or _EPOCH,
                values={
                    k: (None if v is None else str(v)) for k, v in (link.last_values or {}).items()
                },
            )
        )
    rows = []
    for uid, records in sorted(by_uid.items()):
        if not records:
            delete_golden(session, uid)
            continue
        view = golden_from_scratch(records, rules)
        rows.append({"unified_id": uid, "entity": entity, **view.model_dump(mode="json")})
    save_golden(session, rows)


def _decision(
    entity: str, uid: str, key: str, rule: str, evidence: dict[str, object]
) -> dict[str, object]:
    tool, record_id = _split_key(key)
    return {
        "entity": entity,
        "unified_id": uid,
        "tool": tool,
        "record_id": record_id,
        "rule": rule,
        "score": None,
        "evidence": evidence,
    }


def accept(engine: Engine, review_id: int) -> str:
    """Merge the pair's two golden records; returns the surviving unified id."""
    with session_scope(engine) as session:
        item = _pending(session, review_id)
        entity = item.entity
        left = _side_uid(session, entity, item.left_key)
        right = _side_uid(session, entity, item.right_key)
        if left is None or right is None:
            raise UsageError(f"review #{review_id}: a side is no longer linked; nothing changed")
        survivor = min(left, right) if not item.right_key.startswith("unified:") else right
        gone = left if survivor == right else right
        if gone != survivor:
            moved = [(k.tool, k.record_id) for k in links_for_unified(session, {gone})]
            relink(session, entity, moved, survivor)
            recompute_goldens(session, {survivor, gone}, entity)
        decide_review(session, review_id, "accepted")
        record_decisions(
            session,
            [
                _decision(
                    entity,
                    survivor,
                    item.left_key,
                    "review_accept",
                    {"review_id": review_id, "with": item.right_key, **item.evidence},
                )
            ],
        )
    logger.info("review #%d accepted: %s merged into %s", review_id, gone, survivor)
    return survivor


def reject(engine: Engine, review_id: int) -> list[str]:
    """Never merge the pair; split it if it is merged. Returns the goldens touched."""
    with session_scope(engine) as session:
        item = _pending(session, review_id)
        touched = _forbid(session, item.entity, item.left_key, item.right_key, review_id)
        decide_review(session, review_id, "rejected")
    return touched


def split(engine: Engine, record_key: str, entity: str = "person") -> list[str]:
    """Undo a merge: take one record out of its golden record, forever."""
    with session_scope(engine) as session:
        uid = _side_uid(session, entity, record_key)
        if uid is None:
            raise UsageError(f"{record_key} is not linked as a {entity}; nothing changed")
        touched = _forbid(session, entity, record_key, f"unified:{uid}", None)
    return touched


def _forbid(
    session: Session, entity: str, left_key: str, right_key: str, review_id: int | None
) -> list[str]:
    left_uid = _side_uid(session, entity, left_key)
    right_uid = _side_uid(session, entity, right_key)
    if right_key.startswith("unified:") and right_uid is not None:
        members = [
            f"{link.tool}:{link.record_id}" for link in links_for_unified(session, {right_uid})
        ]
    else:
        members = [right_key]
    members = [m for m in members if m != left_key]
    add_cannot_links(session, entity, [(left_key, m) for m in members], review_id)
    touched: set[str] = set()
    if left_uid is not None and left_uid == right_uid:
        fresh = uuid.uuid5(ID_NAMESPACE, f"{entity}:split:{left_key}:{left_uid}").hex
        relink(session, entity, [_split_key(left_key)], fresh)
        touched = {left_uid, fresh}
        recompute_goldens(session, touched, entity)
        record_decisions(
            session,
            [
                _decision(
                    entity,
                    fresh,
                    left_key,
                    "review_reject",
                    {"review_id": review_id, "split_from": left_uid, "members": members},
                )
            ],
        )
    logger.info("kept %s apart from %s", left_key, json.dumps(members))
    return sorted(touched)


def _pending(session: Session, review_id: int) -> ReviewItem:
    item = get_review(session, review_id)
    if item is None:
        raise UsageError(f"no review item #{review_id} (see revsync review)")
    if item.status != "pending":
        raise UsageError(
            f"review #{review_id} is already {item.status}; nothing changed "
            "(revsync review lists the pending ones)"
        )
    return item


if __name__ == "__main__":
    from state.db import engine_from_url, init_schema

    _engine = engine_from_url()
    init_schema(_engine)
    logger.warning("%s", render_reviews(list_reviews(_engine)))
