"""Fixtures for flow tests: a freshly seeded sandbox per test, revsync pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from flow_testkit import Tools

from flows.demo import sandbox_environment
from sandbox.server import SandboxServer

SEED_PEOPLE = 120
SEED = 7
DEFAULT_TOOLS = ("hubspot", "mailchimp", "zendesk")
"""What a test without ``@pytest.mark.connected`` connects: one CRM, one emailing tool, one
helpdesk, so the suite's time does not grow with the number of connectors."""


@pytest.fixture
def tools(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Tools]:
    """A sandbox seeded afresh, revsync pointed at it, and an empty SQLite state store.

    ``@pytest.mark.connected("hubspot", ...)`` connects those tools (default
    ``DEFAULT_TOOLS``), so a test pays only for reading the tools it is about;
    ``@pytest.mark.people(N)`` seeds a smaller world where a test needs only a few people."""
    from connectors import retry
    from connectors.runner import cdk_sleep

    waits: list[float] = []
    monkeypatch.setattr(retry, "sleeper", waits.append)
    stack = ExitStack()
    stack.enter_context(cdk_sleep(waits.append))
    t = Tools(sandbox, waits)
    t.control("POST", "/reset")
    sized = request.node.get_closest_marker("people")
    people = int(sized.args[0]) if sized else SEED_PEOPLE
    t.control("POST", "/seed", json={"people": people, "seed": SEED})
    # The vendors' rate limits are the connector tests' subject (tests/connectors); flow tests
    # run several syncs a second with zero waits (the limiter's pauses included), so the
    # sandbox's request budgets are lifted here.
    for budget in sandbox.state.limits:
        t.control("POST", "/rate_limits", json={"tool": budget, "enabled": False})
    marker = request.node.get_closest_marker("connected")
    only = {f"REVSYNC_{tool.upper()}_" for tool in (marker.args if marker else DEFAULT_TOOLS)}
    for key, value in sandbox_environment(sandbox).items():
        if key.startswith(tuple(only)):
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("REVSYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    with stack:
        yield t
    t.control("DELETE", "/faults")
