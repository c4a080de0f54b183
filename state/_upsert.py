"""Bulk insert-or-update through the dialect's `INSERT ... ON CONFLICT DO UPDATE`.

One statement executed with a list of dicts (executemany) is the fast path on both SQLite
and PostgreSQL (10k rows in well under a second); ORM `merge` would be one round trip per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

__all__ = ["bulk_upsert"]


def _insert_for(session: Session, table: Table) -> Any:
    name = session.get_bind().dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"state store supports sqlite and postgresql, not {name}")


def bulk_upsert(
    session: Session,
    model: type[SQLModel],
    rows: Iterable[Mapping[str, Any]],
    *,
    insert_only: Sequence[str] = (),
) -> int:
    """Insert `rows` or update the existing rows with the same primary key; return the count.

    Only the columns a row carries are updated, so a partial row never blanks the others.
    Columns in `insert_only` (e.g. `created_at`) are set on insert and kept on update. The last
    row wins when the same key appears twice. Objects of `model` already loaded in the session
    are expired so they are re-read.
    """
    table: Table = model.__table__  # type: ignore[attr-defined]
    columns = set(table.columns.keys())
    pk = tuple(c.name for c in table.primary_key.columns)
    # An INSERT ... ON CONFLICT checks NOT NULL on the proposed row before the conflict, so
    # even a row meant as an update must carry every required column.
    required = [c.name for c in table.columns if not c.nullable and c.name not in pk]

    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unknown = set(row) - columns
        if unknown:
            raise ValueError(f"unknown columns for {table.name}: {sorted(unknown)}")
        missing = [c for c in pk if row.get(c) is None]
        if missing:
            raise ValueError(f"{table.name} row lacks its key columns {missing}")
        missing = [c for c in required if row.get(c) is None]
        if missing:
            raise ValueError(f"{table.name} row lacks its required columns {missing}")
        by_key[tuple(row[c] for c in pk)] = dict(row)
    if not by_key:
        return 0

    # executemany needs one set of keys per statement: group rows by the columns they carry.
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in by_key.values():
        groups.setdefault(frozenset(row), []).append(row)

    session.flush()
    for keys, group in groups.items():
        stmt = _insert_for(session, table)
        updates = {c: stmt.excluded[c] for c in keys if c not in pk and c not in insert_only}
        if updates:
            stmt = stmt.on_conflict_do_update(index_elements=list(pk), set_=updates)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(pk))
        session.exec(stmt, params=group)

    for obj in list(session.identity_map.values()):
        if isinstance(obj, model):
            session.expire(obj)
    return len(by_key)
