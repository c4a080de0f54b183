"""Shared fixtures for the whole test tree.

Prefect is pointed at a throwaway home and never at a configured API before anything imports
it, so tests can neither read nor write a developer's Prefect server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="revsync-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_KEY", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import pytest
import requests
from requests.adapters import HTTPAdapter

from sandbox.server import SandboxServer


@pytest.fixture(autouse=True)
def _fresh_connections() -> Iterator[None]:
    """Each test resolves its tools' connections from what it set up (blocks, variables)."""
    from flows.credentials import forget_connections

    forget_connections()
    yield
    forget_connections()


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

    # a loaded machine (several sessions on two cores) starts the server slowly
    harness = prefect_test_harness(server_startup_timeout=120)
    with harness, temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def plain_http_session() -> Iterator[requests.Session]:
    """A requests session for SDKs that hard-code ``https://`` (simple-salesforce): the one
    change to their requests is the scheme, since the sandbox serves plain HTTP on loopback."""
    session = requests.Session()
    session.mount("https://", _PlainHttp())
    yield session
    session.close()


class _PlainHttp(HTTPAdapter):
    """https:// -> http://, nothing else (paths, headers and bodies stay the SDK's own)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url is not None
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, **kwargs)
