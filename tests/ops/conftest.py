"""Session fixtures of the operations tests: one real Prefect server on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ops_server import PrefectServer, running_server


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    with running_server() as server:
        yield server
