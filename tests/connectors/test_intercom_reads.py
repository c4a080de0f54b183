"""The contacts read against the sandbox's day-granular search: Intercom's `updated_at >`
starts at the next midnight, so the manifest asks from a day behind its cursor and filters on
its side. A contact edited later the same day as the cursor is read; one older than the cursor
(less the lookback) is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from contract_kit import connection, read_all

from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.server import SandboxServer

DAY = datetime(2026, 3, 10, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(sandbox: SandboxServer) -> Iterator[_Clock]:
    saved = sandbox.state.clock
    sandbox.state.reset()
    fixed = _Clock()
    sandbox.state.clock = fixed
    yield fixed
    sandbox.state.clock = saved
    sandbox.state.reset()


def test_an_edit_later_the_same_day_as_the_cursor_is_read(
    sandbox: SandboxServer, clock: _Clock
) -> None:
    api = httpx.Client(
        base_url=sandbox.base_url("intercom"),
        headers={"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}", "Intercom-Version": "2.16"},
    )
    ids = {}
    for hour in (8, 9, 12):
        clock.now = DAY + timedelta(hours=hour)
        made = api.post("/contacts", json={"role": "user", "email": f"h{hour}@corp.io"})
        ids[hour] = made.raise_for_status().json()["id"]
    conn = connection(sandbox, "intercom")
    first, state = read_all(conn, "contacts")
    assert {r["id"] for r in first} == set(ids.values())
    assert state == {"updated_at": str(int((DAY + timedelta(hours=12)).timestamp()))}

    clock.now = DAY + timedelta(hours=12, minutes=30)  # same calendar day as the cursor
    api.put(f"/contacts/{ids[8]}", json={"name": "Edited"}).raise_for_status()
    second, after = read_all(conn, "contacts", state)
    api.close()

    # the edit, and the cursor's own record (inside the ten-minute lookback); not 09:00
    assert sorted(r["id"] for r in second) == sorted([ids[8], ids[12]])
    assert after == {"updated_at": str(int(clock.now.timestamp()))}
