"""Shared fixtures for the whole test tree.

Prefect is pointed at a throwaway home and never at a configured API before anything imports
it, so tests can neither read nor write a developer's Prefect server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="revsync-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_KEY", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import pytest

from sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One sandbox server (free port) for the session; tests reset or seed it as they need."""
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the session; heartbeats off so each flow run is quick."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
