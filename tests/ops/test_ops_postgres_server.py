"""The real-server setup: Prefect server on PostgreSQL, revsync's state store on PostgreSQL too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from ops_server import OPS_TOOLS, running_server
from sqlmodel import Session, select

from flows.demo import sandbox_environment
from sandbox.server import SandboxServer
from state.db import engine_from_url
from state.models import Run

pytestmark = [pytest.mark.server, pytest.mark.postgres]

PG = "postgres@127.0.0.1:5432"


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases (Prefect's and revsync's), dropped afterwards."""
    names = (f"revsync_prefect_{uuid.uuid4().hex[:8]}", f"revsync_state_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_sync_runs_through_a_prefect_server_on_postgresql(
    databases: tuple[str, str], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.sync import sync

    prefect_db, state_db = databases
    server_db = f"postgresql+asyncpg://{PG}/{prefect_db}"
    state_url = f"postgresql+psycopg://{PG}/{state_db}"
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{sandbox.url}/_sandbox/seed", json={"people": 30, "seed": 3}).raise_for_status()
    for key, value in sandbox_environment(sandbox, OPS_TOOLS).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REVSYNC_STATE_URL", state_url)

    with running_server({"PREFECT_SERVER_DATABASE_CONNECTION_URL": server_db}) as server:
        with server.settings():
            result = sync()
            with get_client(sync_client=True) as client:
                (run,) = client.read_flow_runs(limit=1)
                keys = {
                    a.key
                    for a in client.read_artifacts(
                        artifact_filter=ArtifactFilter(
                            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])
                        )
                    )
                }
        assert run.state is not None
        assert run.state.is_completed()
        assert {"sync-summary", "sync-plan"} <= keys
        assert result.report.written > 0

    # the server kept its records in PostgreSQL, not in a SQLite file
    with psycopg.connect(f"postgresql://{PG}/{prefect_db}") as conn:
        (flow_runs,) = conn.execute("SELECT count(*) FROM flow_run").fetchone() or (0,)
    assert flow_runs >= 1
    engine = engine_from_url(state_url)
    with Session(engine) as session:
        (stored,) = session.exec(select(Run)).all()
    engine.dispose()
    assert stored.status == "completed"
