"""One API budget per tool across runs: Prefect global concurrency limits on a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from ops_server import PrefectServer
from prefect import flow

from connectors.connections import connection_from_env
from connectors.http import build_client
from flows.budget import (
    BudgetedLimiter,
    BudgetExhausted,
    BudgetSpec,
    Priority,
    ToolBudget,
    api_limit_name,
    apply_budgets,
    backfill_limit_name,
    budgeted_limiter,
)
from flows.demo import sandbox_environment
from sandbox.server import SandboxServer

pytestmark = pytest.mark.server


def _active_slots(name: str) -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return int(client.read_global_concurrency_limit_by_name(name).active_slots)


@pytest.fixture
def hubspot_budget(prefect_server: PrefectServer) -> Iterator[None]:
    """Six calls for everyone, two of them at most for backfills; no decay within the test."""
    from prefect.client.orchestration import get_client

    spec = BudgetSpec(burst=6, per_second=0.01, backfill_burst=2, backfill_per_second=0.01)
    with prefect_server.settings():
        apply_budgets({"hubspot": spec})
        try:
            yield
        finally:
            with get_client(sync_client=True) as client:
                for name in (api_limit_name("hubspot"), backfill_limit_name("hubspot")):
                    client.delete_global_concurrency_limit_by_name(name)


@flow(name="budget-probe")
def _three_calls(base_url: str, token: str) -> int:
    env = {"REVSYNC_HUBSPOT_BASE_URL": base_url, "REVSYNC_HUBSPOT_ACCESS_TOKEN": token}
    limiter = budgeted_limiter("hubspot", Priority.INCREMENTAL)
    assert isinstance(limiter, BudgetedLimiter)
    with build_client(connection_from_env("hubspot", env), limiter=limiter) as client:
        for _ in range(3):
            client.get("crm/v3/objects/contacts", params={"limit": 1}).raise_for_status()
    return limiter.budget.spent


def test_two_concurrent_flows_draw_from_one_budget(
    prefect_server: PrefectServer, hubspot_budget: None, sandbox: SandboxServer
) -> None:
    env = sandbox_environment(sandbox)
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    spent: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with prefect_server.settings():
                spent.append(
                    _three_calls(
                        env["REVSYNC_HUBSPOT_BASE_URL"], env["REVSYNC_HUBSPOT_ACCESS_TOKEN"]
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert spent == [3, 3]

    with prefect_server.settings():
        assert _active_slots(api_limit_name("hubspot")) == 6
        # the two runs used the whole shared budget: a third caller cannot get a slot
        with pytest.raises(BudgetExhausted, match="hubspot API budget"):
            ToolBudget("hubspot", timeout_seconds=2).spend(1)


def test_backfills_only_get_their_share_and_incremental_keeps_the_rest(
    prefect_server: PrefectServer, hubspot_budget: None
) -> None:
    with prefect_server.settings():
        backfill = ToolBudget("hubspot", Priority.BACKFILL, timeout_seconds=2)
        assert backfill.names == [api_limit_name("hubspot"), backfill_limit_name("hubspot")]
        backfill.spend(2)
        with pytest.raises(BudgetExhausted):
            backfill.spend(1)
        incremental = ToolBudget("hubspot", Priority.INCREMENTAL, timeout_seconds=2)
        incremental.spend(4)
        assert _active_slots(api_limit_name("hubspot")) == 6
        assert _active_slots(backfill_limit_name("hubspot")) == 2


def test_without_a_limit_the_budget_is_a_no_op(prefect_server: PrefectServer) -> None:
    with prefect_server.settings():
        budget = ToolBudget("mailchimp", timeout_seconds=1)
        assert not budget.active
        budget.spend(100)
        assert budget.spent == 0
        assert not isinstance(budgeted_limiter("mailchimp", "backfill"), BudgetedLimiter)
