"""Zendesk reads through the manifest, over real HTTP against the sandbox.

The world is seeded two hours in the past, so nothing in it falls in the minute Zendesk's
exports withhold; changes made during a test are made visible by setting that minute to zero
(as if it had passed), never by waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from zendesk_kit import api, connection, exports, fresh_world, read, watch_reads

from connectors.errors import ErrorClass, ReadFailed
from connectors.runner import cdk_sleep
from sandbox.ratelimit import WindowLimiter
from sandbox.server import SandboxServer
from sandbox.world import World
from sandbox.zendesk.store import ORG_ID_BASE, zd_time

USERS = "/api/v2/incremental/users/cursor"
ORGS = "/api/v2/incremental/organizations"


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    waits: list[float] = []
    with cdk_sleep(waits.append):
        yield waits


Seen = list[tuple[Any, int]]


@pytest.fixture
def seen() -> Iterator[Seen]:
    with watch_reads() as requests_seen:
        yield requests_seen


@pytest.fixture
def world(sandbox: SandboxServer, sleeps: list[float]) -> Iterator[World]:
    with fresh_world(sandbox) as seeded:
        yield seeded


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _seeded(world: World, stream: str) -> list[dict[str, Any]]:
    return list(world.seeds["zendesk"].streams[stream])


# --- users ---------------------------------------------------------------------------------


def test_users_read_everyone_then_resume_with_only_what_changed(
    sandbox: SandboxServer, world: World, seen: Seen
) -> None:
    seeded = _seeded(world, "users")
    assert len(seeded) > 1_000, "the world must need two pages"
    conn = connection(sandbox)

    records, state = read(conn, "users")

    assert sorted(r["id"] for r in records) == sorted(u["id"] for u in seeded)
    newest = max(u["updated_at"] for u in seeded)
    assert state == {"updated_at": newest}
    sent = exports(seen, USERS)
    assert [e["status"] for e in sent] == [200, 200]
    assert sent[0]["query"] == {"start_time": "946684801", "per_page": "1000"}
    assert set(sent[1]["query"]) == {"cursor", "per_page"}, "later pages carry the cursor alone"

    target = seeded[7]["id"]
    with api(sandbox) as zd:
        assert zd.put(f"/users/{target}", json={"user": {"name": "Renamed"}}).status_code == 200
    sandbox.state.zendesk.recent_exclusion_s = 0  # the minute Zendesk withholds has passed
    seen.clear()

    again, new_state = read(conn, "users", state)

    assert [(r["id"], r["name"]) for r in again] == [(target, "Renamed")]
    (resumed,) = exports(seen, USERS)
    assert resumed["query"]["start_time"] == str(_epoch(newest) + 1)
    assert new_state is not None
    assert new_state["updated_at"] > newest

    other = seeded[8]["id"]  # changed right after: the cursor is now seconds old
    with api(sandbox) as zd:
        assert (
            zd.put(f"/users/{other}", json={"user": {"phone": "+14155550199"}}).status_code == 200
        )
    third, _ = read(conn, "users", new_state)
    assert other in {r["id"] for r in third}, "a recent cursor re-reads its minute, never skips"


def test_merged_away_and_deleted_users_still_come_through(
    sandbox: SandboxServer, world: World
) -> None:
    conn = connection(sandbox)
    _, state = read(conn, "users")
    ends = [u for u in _seeded(world, "users") if u["role"] == "end-user"]
    gone, survivor, deleted = ends[1], ends[2], ends[3]
    with api(sandbox) as zd:
        merged = zd.put(f"/users/{gone['id']}/merge", json={"user": {"id": survivor["id"]}})
        assert merged.status_code == 200
        assert zd.delete(f"/users/{deleted['id']}").status_code == 200
    sandbox.state.zendesk.recent_exclusion_s = 0

    again, _ = read(conn, "users", state)

    by_id = {r["id"]: r for r in again}
    assert set(by_id) == {gone["id"], survivor["id"], deleted["id"]}
    assert by_id[gone["id"]]["active"] is False
    assert by_id[gone["id"]]["email"] is None
    assert by_id[deleted["id"]]["active"] is False
    assert by_id[survivor["id"]]["active"] is True


def test_a_cursor_less_than_a_minute_old_never_sends_a_too_recent_start_time(
    sandbox: SandboxServer, world: World, seen: Seen
) -> None:
    conn = connection(sandbox)
    recent = datetime.now(UTC) - timedelta(seconds=20)

    before = int(datetime.now(UTC).timestamp())
    records, state = read(conn, "users", {"updated_at": zd_time(int(recent.timestamp() * 1000))})
    after = int(datetime.now(UTC).timestamp())

    (sent,) = exports(seen, USERS)
    assert sent["status"] == 200, "Zendesk refuses a start_time less than a minute old"
    assert before - 61 <= int(sent["query"]["start_time"]) <= after - 61
    assert records == []
    assert state is not None

    seen.clear()
    older = datetime.now(UTC) - timedelta(minutes=5)
    read(conn, "users", {"updated_at": zd_time(int(older.timestamp() * 1000))})
    (sent,) = exports(seen, USERS)
    assert sent["status"] == 200
    assert int(sent["query"]["start_time"]) == int(older.timestamp()) + 1


def test_the_export_budget_429_is_waited_out_as_retry_after_says(
    sandbox: SandboxServer,
    world: World,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    seen: Seen,
) -> None:
    clock = [0.0]  # the export budget's clock: it moves only when the reader waits

    def wait(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    budget = WindowLimiter(1, 60_000, daily=100_000_000, clock=lambda: clock[0])
    monkeypatch.setitem(sandbox.state.limits, "zendesk-incremental", budget)
    with cdk_sleep(wait):
        records, _ = read(connection(sandbox), "users")

    assert len(records) == len(_seeded(world, "users"))
    statuses = [e["status"] for e in exports(seen, USERS)]
    assert statuses == [200, 429, 200], "one a minute: the second page waited its turn"
    assert any(59 <= s <= 61 for s in sleeps), sleeps  # Retry-After 60 (the CDK may add 1 s)


def test_an_injected_429_is_retried_after_its_retry_after(
    sandbox: SandboxServer, world: World, sleeps: list[float], seen: Seen
) -> None:
    fault = {"tool": "zendesk", "kind": "429", "path": "incremental", "count": 2, "retry_after": 7}
    with api(sandbox) as zd:
        added = zd.post(sandbox.url + "/_sandbox/faults", json=fault)
    assert added.status_code == 201

    records, _ = read(connection(sandbox), "organizations")

    assert len(records) == len(_seeded(world, "organizations"))
    assert [e["status"] for e in exports(seen, ORGS)] == [429, 429, 200]
    assert len([s for s in sleeps if 7 <= s <= 8]) == 2, sleeps


def test_a_bad_token_fails_the_read_as_configuration_without_the_token(
    sandbox: SandboxServer, world: World, seen: Seen
) -> None:
    with pytest.raises(ReadFailed, match="REVSYNC_ZENDESK_API_TOKEN") as caught:
        read(connection(sandbox, token="wrongZendeskToken999"), "users")
    assert caught.value.error_class is ErrorClass.FATAL
    assert "wrongZendeskToken999" not in str(caught.value)
    assert [e["status"] for e in exports(seen, USERS)] == [401], "no retry"


# --- organizations -------------------------------------------------------------------------


def test_organizations_read_then_resume_with_only_what_changed(
    sandbox: SandboxServer, world: World
) -> None:
    seeded = _seeded(world, "organizations")
    conn = connection(sandbox)

    records, state = read(conn, "organizations")

    assert sorted(r["id"] for r in records) == sorted(o["id"] for o in seeded)
    assert state == {"updated_at": max(o["updated_at"] for o in seeded)}
    assert records[0]["domain_names"], "the record comes whole"
    target = seeded[3]["id"]
    with api(sandbox) as zd:
        changed = zd.put(f"/organizations/{target}", json={"organization": {"notes": "vip"}})
        assert changed.status_code == 200
    sandbox.state.zendesk.recent_exclusion_s = 0

    again, _ = read(conn, "organizations", state)

    assert [(r["id"], r["notes"]) for r in again] == [(target, "vip")]


def _load_orgs(sandbox: SandboxServer, seconds: list[int]) -> list[int]:
    """Organizations updated at the given epoch seconds (in that order); their ids."""
    data = sandbox.state.zendesk
    ids = []
    with sandbox.state.lock:
        data.clear()
        for n, second in enumerate(seconds):
            oid = ORG_ID_BASE + 1 + n
            stamp = zd_time(second * 1000)
            record = {
                "id": oid,
                "name": f"Org {n}",
                "external_id": None,
                "created_at": stamp,
                "updated_at": stamp,
                "domain_names": [f"org{n}.example.org"],
                "details": None,
                "notes": None,
                "tags": [],
                "organization_fields": {},
            }
            data.load_org(record, second * 1000)
            ids.append(oid)
    return ids


def test_a_page_ending_inside_a_second_emits_that_second_once(
    sandbox: SandboxServer, world: World, seen: Seen
) -> None:
    base = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    # seven organizations a second: the 1,000th closes a page with 6 of its second's 7
    ids = _load_orgs(sandbox, [base + n // 7 for n in range(1_500)])

    records, state = read(connection(sandbox), "organizations")

    emitted = [r["id"] for r in records]
    assert sorted(emitted) == ids
    assert len(emitted) == len(set(emitted)), "no organization twice"
    first, second = exports(seen, ORGS)
    boundary = base + 999 // 7
    assert second["query"]["start_time"] == str(boundary), "next page from end_time, inclusive"
    assert state == {"updated_at": zd_time((base + 1_499 // 7) * 1000)}
    assert first["status"] == second["status"] == 200


def test_a_full_page_in_one_second_fails_instead_of_asking_forever(
    sandbox: SandboxServer, world: World, seen: Seen
) -> None:
    base = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    _load_orgs(sandbox, [base] * 1_001 + [base + 5])

    with pytest.raises(ReadFailed, match="same second"):
        read(connection(sandbox), "organizations")
    assert len(exports(seen, ORGS)) == 1
