"""One API budget per tool, shared by every run on every machine, through Prefect.

A vendor's rate limit belongs to the account, not to one process: two flows syncing one CRM at
once (an incremental sync and a backfill, or runs on two workers) must draw from the same
budget. Each tool has a Prefect global concurrency limit used as a *rate limit*
(``revsync-api-<tool>``: ``limit`` is the burst, ``slot_decay_per_second`` the sustained rate);
every request occupies one slot before it is sent. Backfills additionally occupy a slot of a
smaller pool (``revsync-api-<tool>-backfill``), so they can never use more than that share and
incremental syncs keep the rest: that is the priority.

Each connector declares its default budget (``budget:`` in its ``connector.yaml``);
``ops/budgets.yaml`` overrides them per account, and ``revsync budgets apply`` creates them. When a
limit does not exist (a laptop, the test harness) the budget is a no-op: the per-client
:class:`~connectors.ratelimit.RateLimiter` still guards the vendor's own signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from connectors.providers import Budget, provider_for, providers
from connectors.ratelimit import RateLimiter

__all__ = [
    "BUDGETS_FILE",
    "BudgetExhausted",
    "BudgetSpec",
    "BudgetedLimiter",
    "Priority",
    "ToolBudget",
    "api_limit_name",
    "apply_budgets",
    "backfill_limit_name",
    "budgeted_limiter",
    "load_budgets",
]

logger = logging.getLogger(__name__)

BUDGETS_FILE = Path(__file__).resolve().parent.parent / "ops" / "budgets.yaml"


class Priority(StrEnum):
    """Who asks: incremental and full syncs come first, backfills take a capped share."""

    INCREMENTAL = "incremental"
    BACKFILL = "backfill"


class BudgetExhausted(RuntimeError):
    """No slot within the wait allowed: the budget is used up by other runs."""


def api_limit_name(tool: str) -> str:
    return f"revsync-api-{tool}"


def backfill_limit_name(tool: str) -> str:
    return f"revsync-api-{tool}-backfill"


BudgetSpec = Budget


def load_budgets(path: Path = BUDGETS_FILE) -> dict[str, BudgetSpec]:
    """The connectors' declared budgets, with the account's overrides from ``path`` on top
    (an override may set only some of the four numbers)."""
    budgets = {t: p.budget for t, p in providers().items() if p.budget is not None}
    raw = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    for tool, override in (raw.get("budgets") or {}).items():
        provider_for(tool)  # refuse a typo'd tool name
        base = budgets[tool].model_dump() if tool in budgets else {}
        budgets[tool] = BudgetSpec.model_validate({**base, **(override or {})})
    return budgets


def apply_budgets(budgets: dict[str, BudgetSpec]) -> list[str]:
    """Create or update the global concurrency limits on the current Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    names: list[str] = []
    with get_client(sync_client=True) as client:
        for tool, spec in sorted(budgets.items()):
            provider_for(tool)  # refuse a typo'd tool name
            for name, limit, rate in (
                (api_limit_name(tool), spec.burst, spec.per_second),
                (backfill_limit_name(tool), spec.backfill_burst, spec.backfill_per_second),
            ):
                try:
                    client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(
                            name=name, limit=limit, slot_decay_per_second=rate, active=True
                        )
                    )
                else:
                    client.update_global_concurrency_limit(
                        name,
                        GlobalConcurrencyLimitUpdate(
                            limit=limit, slot_decay_per_second=rate, active=True
                        ),
                    )
                names.append(name)
    return names


def _existing_limits(names: list[str]) -> list[str]:
    """The active rate limits among ``names``; none when no Prefect API answers."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found: list[str] = []
    try:
        with get_client(sync_client=True) as client:
            for name in names:
                try:
                    limit = client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    continue
                if limit.active and limit.slot_decay_per_second:
                    found.append(name)
    except Exception as exc:  # no server at all: the local limiter alone guards the vendor
        logger.debug("no Prefect API for budgets (%s)", type(exc).__name__)
        return []
    return found


class ToolBudget:
    """The slots one run spends against a tool's shared budget."""

    def __init__(
        self,
        tool: str,
        priority: Priority = Priority.INCREMENTAL,
        *,
        timeout_seconds: float | None = 600.0,
        lookup: Callable[[list[str]], list[str]] = _existing_limits,
    ) -> None:
        self.tool = tool
        self.priority = Priority(priority)
        self.timeout_seconds = timeout_seconds
        wanted = [api_limit_name(tool)]
        if self.priority is Priority.BACKFILL:
            wanted.append(backfill_limit_name(tool))
        self.names = lookup(wanted)
        self.spent = 0
        if self.names:
            logger.debug("%s budget: %s (%s)", tool, ", ".join(self.names), self.priority)

    @property
    def active(self) -> bool:
        return bool(self.names)

    def spend(self, slots: int = 1) -> None:
        """Wait for ``slots`` of the shared budget; a no-op when no limit is configured."""
        if not self.names or slots <= 0:
            return
        from prefect.concurrency.sync import rate_limit

        try:
            rate_limit(self.names, occupy=slots, timeout_seconds=self.timeout_seconds)
        except TimeoutError:
            raise BudgetExhausted(
                f"{self.tool} API budget ({', '.join(self.names)}) had no free slot within "
                f"{self.timeout_seconds}s; other runs are using it, or raise it with "
                "`prefect gcl update` / ops/budgets.yaml"
            ) from None
        self.spent += slots


class BudgetedLimiter(RateLimiter):
    """The client's rate limiter plus one slot of the shared budget per request."""

    def __init__(self, budget: ToolBudget, **kwargs: Any) -> None:
        super().__init__(provider_for(budget.tool).rate_limit, **kwargs)
        self.budget = budget

    def acquire(self) -> None:
        self.budget.spend(1)
        super().acquire()


def budgeted_limiter(tool: str, priority: Priority | str) -> RateLimiter:
    """The limiter for a run's client: budgeted when the tool's limit exists, local otherwise."""
    budget = ToolBudget(tool, Priority(priority))
    if not budget.active:
        return RateLimiter(provider_for(tool).rate_limit)
    return BudgetedLimiter(budget)
