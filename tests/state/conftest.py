"""Fixtures for the state store tests: every DB test runs on SQLite and on PostgreSQL.

PostgreSQL tests use one uniquely named schema per test session (dropped at the end), so
parallel runs on one server never collide. Set REVSYNC_TEST_POSTGRES_URL to use another
server; `pytest -m "not postgres"` leaves them out explicitly. They never skip silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from state.db import engine_from_url, init_schema
from state.models import ALL_TABLES

PG_URL_ENV = "REVSYNC_TEST_POSTGRES_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh schema on the test server (search_path set through libpq options)."""
    base = make_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))
    shown = base.render_as_string(hide_password=True)
    schema = f"revsync_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {shown} ({type(exc.orig).__name__}). "
            "Start it (`sudo service postgresql start`, or "
            "`docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test "
            f"postgres:15`), or point {PG_URL_ENV} at a server; "
            "`pytest -m 'not postgres'` leaves these tests out.",
            pytrace=False,
        )
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_state_engine(postgres_url: str) -> Iterator[Engine]:
    engine = engine_from_url(postgres_url)
    init_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on an empty state schema: a SQLite file, or the session's PostgreSQL schema
    truncated before the test."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("state") / "nested" / "state.db"
        engine = engine_from_url(f"sqlite:///{path}")
        init_schema(engine)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_state_engine")
    tables = ", ".join(table.name for table in ALL_TABLES)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine


@pytest.fixture
def state_session(state_engine: Engine) -> Iterator[Session]:
    with Session(state_engine, expire_on_commit=False) as session:
        yield session
