"""`prefect deploy --all` from prefect.yaml, a process worker, a run completed against the sandbox.

Also the UI's view of that run, in headless Chromium: artifacts and task runs are there, and the
screenshot the README shows is refreshed.
"""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from ops_browser import CHROMIUM, FlowRunPage
from ops_server import OPS_TOOLS, REPO, PrefectServer, wait_until

from flows.demo import sandbox_environment
from sandbox.server import SandboxServer

pytestmark = pytest.mark.server

SCREENSHOT = REPO / "docs" / "img" / "flow-run.png"
REFRESH_SCREENSHOT = "REVSYNC_REFRESH_DOC_IMAGES"
"""Set (to anything) to let the browser test overwrite the README's image; else it writes to
tmp, so the suite never rewrites a tracked file."""


def _deployments(server: PrefectServer) -> dict[str, UUID]:
    from prefect.client.orchestration import get_client

    with server.settings(), get_client(sync_client=True) as client:
        return {d.name: d.id for d in client.read_deployments()}


@pytest.fixture(scope="module")
def completed_run(
    prefect_server: PrefectServer, sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> UUID:
    """Deploy everything, start a worker, run the incremental deployment once to completion."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType

    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{sandbox.url}/_sandbox/seed", json={"people": 60, "seed": 11}).raise_for_status()
    prefect_server.cli("work-pool", "create", "revsync", "--type", "process", "--overwrite")
    prefect_server.cli("--no-prompt", "deploy", "--all", timeout=180)
    state_db = tmp_path_factory.mktemp("worker-state") / "state.db"
    worker_env = {
        **sandbox_environment(sandbox, OPS_TOOLS),
        "REVSYNC_STATE_URL": f"sqlite:///{state_db}",
    }
    prefect_server.spawn("worker", "start", "--pool", "revsync", env=worker_env, log="worker.log")

    deployment_id = _deployments(prefect_server)["incremental"]
    with prefect_server.settings(), get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(deployment_id)

        def finished() -> bool:
            state = client.read_flow_run(run.id).state
            return state is not None and state.is_final()

        wait_until(finished, 240, "the worker to run the sync deployment", every=1.0)
        final = client.read_flow_run(run.id).state
    assert final is not None
    if final.type is not StateType.COMPLETED:
        log = (prefect_server.home / "worker.log").read_text()[-4000:]
        pytest.fail(f"run ended {final.type}: {final.message}\n{log}")
    return run.id


def test_deploy_all_creates_the_declared_deployments_with_one_writer_each(
    prefect_server: PrefectServer, completed_run: UUID
) -> None:
    from prefect.client.orchestration import get_client

    with prefect_server.settings(), get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    assert set(deployments) >= {"incremental", "nightly-full", "plan", "backfill"}
    for name in ("incremental", "nightly-full", "backfill"):
        options = deployments[name].concurrency_options
        assert options is not None, name
        assert options.collision_strategy == "CANCEL_NEW", name
        assert deployments[name].global_concurrency_limit is not None, name
        assert deployments[name].global_concurrency_limit.limit == 1, name
    assert deployments["plan"].parameters["dry_run"] is True
    assert deployments["nightly-full"].parameters["mode"] == "full"
    assert [s.schedule.interval.total_seconds() for s in deployments["incremental"].schedules] == [
        900
    ]


def test_the_worker_run_published_artifacts_and_named_task_runs(
    prefect_server: PrefectServer, completed_run: UUID, sandbox: SandboxServer
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    with prefect_server.settings(), get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[completed_run])
            )
        )
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[completed_run]))
        )
    keys = {a.key: a for a in artifacts}
    assert {"sync-summary", "sync-plan", "sync-progress", "sync-dead-letters"} <= set(keys)
    assert keys["sync-progress"].data == 100.0
    names = {t.name for t in tasks}
    assert {"extract-hubspot", "extract-mailchimp", "apply-hubspot", "apply-mailchimp"} <= names
    writes = httpx.get(f"{sandbox.url}/_sandbox/requests", params={"tool": "mailchimp"}).json()
    assert any(r["method"] in ("POST", "PUT") for r in writes), "the run wrote nothing"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="scripts/setup installs chromium")
def test_the_flow_run_page_shows_artifacts_and_task_runs(
    prefect_server: PrefectServer, completed_run: UUID, tmp_path: Path
) -> None:
    url = f"{prefect_server.url}/runs/flow-run/{completed_run}"
    with FlowRunPage(url, tmp_path / "chromium") as page:
        page.wait_for_text("sync", timeout=60)
        page.click_tab("Task Runs")
        tasks_text = page.wait_for_text("extract-hubspot", timeout=30)
        assert "apply-mailchimp" in tasks_text or page.wait_for_text("apply-mailchimp", 15)
        page.click_tab("Artifacts")
        text = page.wait_for_text("sync-summary", timeout=30)
        assert "sync-plan" in text
        shot = SCREENSHOT if os.environ.get(REFRESH_SCREENSHOT) else tmp_path / SCREENSHOT.name
        page.screenshot(shot)
    assert shot.stat().st_size > 10_000
