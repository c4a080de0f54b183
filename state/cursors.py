"""Per-stream read cursors: the CDK's state blob stored as it came, one row per tool/stream.

Invariant 3: the flow saves a cursor only after every record before it is linked or
dead-lettered, in the same transaction as those links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from state._upsert import bulk_upsert
from state.models import Cursor
from state.types import utcnow

__all__ = ["load_cursor", "save_cursor"]


def load_cursor(session: Session, tool: str, stream: str) -> dict[str, Any] | None:
    """The state blob to hand to the next read, or None for a first (full) read."""
    cursor = session.get(Cursor, (tool, stream))
    return None if cursor is None else cursor.state


def save_cursor(
    session: Session,
    tool: str,
    stream: str,
    state: dict[str, Any],
    run_id: str | None,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Replace the stream's state blob (upsert, so two savers never collide on insert)."""
    row = {
        "tool": tool,
        "stream": stream,
        "state": state,
        "run_id": run_id,
        "updated_at": at or utcnow(),
    }
    bulk_upsert(session, Cursor, [row])
