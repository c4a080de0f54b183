"""Engine, schema and transaction scope of the state store.

One URL picks the backend: `REVSYNC_STATE_URL` (e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/test`), else a SQLite file under the working
directory. The models and queries are the same on both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from state.models import ALL_MODELS, ALL_TABLES

__all__ = ["STATE_URL_ENV", "default_sqlite_url", "engine_from_url", "init_schema", "session_scope"]

logger = logging.getLogger(__name__)

STATE_URL_ENV = "REVSYNC_STATE_URL"


def default_sqlite_url(cwd: Path | None = None) -> str:
    """`sqlite:///<cwd>/.revsync/state.db`: state sits next to the project it syncs."""
    base = (cwd or Path.cwd()).resolve()
    return f"sqlite:///{base / '.revsync' / 'state.db'}"


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets a reader (the CLI, the UI) look while
    # a run writes. NORMAL synchronous is durable enough under WAL and much faster.
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def engine_from_url(url: str | None = None) -> Engine:
    """Build the engine for `url`, `$REVSYNC_STATE_URL`, or the default SQLite file.

    For a SQLite file the parent folder is created. The URL is logged with its password hidden.
    """
    raw = url or os.environ.get(STATE_URL_ENV) or default_sqlite_url()
    parsed = make_url(raw)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    logger.debug("state store at %s", parsed.render_as_string(hide_password=True))
    return engine


def init_schema(engine: Engine) -> None:
    """Create the state tables that do not exist yet (tests and first runs; no migrations yet)."""
    ALL_MODELS[0].metadata.create_all(engine, tables=list(ALL_TABLES))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises.

    Objects stay readable after the block (`expire_on_commit=False`), so callers can return
    what they loaded.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
