"""The Zendesk writer: bulk user jobs, organizations one by one, following merges.

Edge cases of job answers run against respx; the rest over real HTTP against the sandbox,
whose jobs advance one step per poll as Zendesk's do. Job polls wait through
``connectors.retry.sleeper``, recorded here instead of slept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from zendesk_kit import api, connection, fresh_world

from connectors import retry
from connectors.connections import Connection
from connectors.errors import ConfigError, ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.ratelimit import RateLimiter, RateLimitPolicy
from connectors.registry import writer_for
from connectors.retry import RetrySettings
from connectors.writer import WriteItem
from connectors.zendesk.writer import JobPolling, ZendeskWriter
from sandbox.server import SandboxServer
from sandbox.world import World

ZD = "https://acme.zendesk.com"
TOKEN = "zdTokenVerySecret123"
CONN = Connection(
    tool="zendesk",
    base_url=ZD,
    secrets={"api_token": SecretStr(TOKEN)},
    options={"email": "agent@acme.io"},
)
BULK = "/api/v2/users/create_or_update_many"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(retry, "sleeper", recorded.append)
    return recorded


def _client(conn: Connection = CONN) -> httpx.Client:
    return build_client(
        conn,
        retry=RetrySettings.no_wait(),
        limiter=RateLimiter(RateLimitPolicy(), sleep=lambda _s: None),
    )


def _people(n: int, start: int = 0) -> list[WriteItem]:
    return [
        WriteItem(f"p{i}@acme.io", None, {"name": f"P {i}", "external_id": f"u{i}"})
        for i in range(start, start + n)
    ]


class FakeJobs:
    """``create_or_update_many`` queueing jobs that complete at the second poll; users whose
    email starts with ``bad`` fail, ``old`` ones are updates (no index in their result)."""

    def __init__(self) -> None:
        self.bodies: list[list[dict[str, Any]]] = []
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        self.polls: dict[str, int] = {}

    def submit(self, request: httpx.Request) -> httpx.Response:
        users = json.loads(request.content)["users"]
        self.bodies.append(users)
        job_id = f"job{len(self.bodies)}"
        self.jobs[job_id] = users
        self.polls[job_id] = 0
        return httpx.Response(200, json={"job_status": {"id": job_id, "status": "queued"}})

    def poll(self, request: httpx.Request, job_id: str) -> httpx.Response:
        self.polls[job_id] += 1
        if self.polls[job_id] < 2:
            return httpx.Response(200, json={"job_status": {"id": job_id, "status": "working"}})
        results = []
        for index, user in enumerate(self.jobs[job_id]):
            number = 5000 + int(re.sub(r"\D", "", user["email"].split("@")[0]))
            if user["email"].startswith("bad"):
                results.append(
                    {
                        "index": index,
                        "error": "RecordInvalid",
                        "details": "Email: is already being used by another user",
                        "success": False,
                    }
                )
            elif user["email"].startswith("old"):
                results.append(
                    {"id": number, "action": "update", "status": "Updated", "success": True}
                )
            else:
                results.append({"id": number, "index": index})
        body = {"job_status": {"id": job_id, "status": "completed", "results": results}}
        return httpx.Response(200, json=body)


@pytest.fixture
def jobs() -> Iterator[tuple[FakeJobs, respx.MockRouter]]:
    fake = FakeJobs()
    with respx.mock(base_url=ZD, assert_all_called=False) as router:
        router.post(BULK).mock(side_effect=fake.submit)
        router.get(path__regex=r"/api/v2/job_statuses/(?P<job_id>\w+)").mock(side_effect=fake.poll)
        yield fake, router


# --- users, against respx ------------------------------------------------------------------


def test_more_than_100_users_go_in_jobs_of_100_each_polled_to_completion(
    jobs: tuple[FakeJobs, respx.MockRouter], waits: list[float]
) -> None:
    fake, _ = jobs
    writer = ZendeskWriter(CONN, _client())
    outcomes = writer.upsert("person", _people(250))

    assert [len(b) for b in fake.bodies] == [100, 100, 50]
    assert fake.bodies[0][0] == {"name": "P 0", "external_id": "u0", "email": "p0@acme.io"}
    assert all(polls == 2 for polls in fake.polls.values())
    assert waits == [1.0, 2.0] * 3, "doubling waits through the shared sleeper, none slept"
    assert [o.key for o in outcomes] == [f"p{i}@acme.io" for i in range(250)]
    assert all(o.ok and o.created for o in outcomes)
    assert outcomes[249].record_id == "5249"


def test_item_failures_and_updates_map_back_without_raising(
    jobs: tuple[FakeJobs, respx.MockRouter], waits: list[float]
) -> None:
    items = [
        WriteItem("p1@acme.io", None, {"name": "New"}),
        WriteItem("bad2@acme.io", None, {"name": "Clash"}),
        WriteItem("old3@acme.io", "5003", {"name": "Known"}),
        WriteItem("", None, {"name": "Nobody"}),
    ]
    outcomes = ZendeskWriter(CONN, _client()).upsert("person", items)

    assert [(o.ok, o.record_id, o.created) for o in outcomes] == [
        (True, "5001", True),
        (False, None, False),
        (True, "5003", False),
        (False, None, False),
    ]
    assert outcomes[1].error == "RecordInvalid: Email: is already being used by another user"
    assert "no email" in str(outcomes[3].error)
    sent = jobs[0].bodies[0]
    assert [u["email"] for u in sent] == ["p1@acme.io", "bad2@acme.io", "old3@acme.io"]


def test_a_failed_job_fails_its_items_with_the_reason(waits: list[float]) -> None:
    with respx.mock(base_url=ZD) as router:
        router.post(BULK).mock(
            return_value=httpx.Response(200, json={"job_status": {"id": "j1", "status": "queued"}})
        )
        router.get("/api/v2/job_statuses/j1").mock(
            return_value=httpx.Response(
                200,
                json={"job_status": {"id": "j1", "status": "failed", "message": "Job expired"}},
            )
        )
        outcomes = ZendeskWriter(CONN, _client()).upsert("person", _people(2))
    assert [o.ok for o in outcomes] == [False, False]
    assert outcomes[0].error == "Zendesk job failed: Job expired"


def test_a_job_that_never_ends_is_a_retriable_write_failure(waits: list[float]) -> None:
    working = {"job_status": {"id": "j9", "status": "working"}}
    with respx.mock(base_url=ZD) as router:
        router.post(BULK).mock(return_value=httpx.Response(200, json=working))
        router.get("/api/v2/job_statuses/j9").mock(return_value=httpx.Response(200, json=working))
        writer = ZendeskWriter(CONN, _client(), polling=JobPolling(1.0, 4.0, timeout=10.0))
        with pytest.raises(WriteFailed, match="still working") as caught:
            writer.upsert("person", _people(1))
    assert caught.value.error_class is ErrorClass.RETRY
    assert waits == [1.0, 2.0, 4.0, 4.0]


def test_a_401_is_a_fatal_write_failure_without_the_token(waits: list[float]) -> None:
    with respx.mock(base_url=ZD) as router:
        router.post(BULK).mock(
            return_value=httpx.Response(401, json={"error": f"Couldn't authenticate {TOKEN}"})
        )
        with pytest.raises(WriteFailed) as caught:
            ZendeskWriter(CONN, _client()).upsert("person", _people(3))
    assert caught.value.error_class is ErrorClass.FATAL
    assert caught.value.status == 401
    assert "REVSYNC_ZENDESK_API_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


def test_basic_auth_is_email_slash_token() -> None:
    with respx.mock(base_url=ZD) as router:
        route = router.get("/api/v2/users/search").mock(
            return_value=httpx.Response(200, json={"users": []})
        )
        assert ZendeskWriter(CONN, _client()).find_survivor("x@acme.io") is None
    sent = route.calls[0].request
    assert (
        sent.headers["Authorization"] == httpx.BasicAuth("agent@acme.io/token", TOKEN)._auth_header
    )
    assert sent.url.params["query"] == 'email:"x@acme.io"'


def test_without_bulk_imports_users_go_one_by_one(waits: list[float]) -> None:
    def single(request: httpx.Request) -> httpx.Response:
        user = json.loads(request.content)["user"]
        if user["email"].startswith("bad"):
            body = {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {"email": [{"description": "Email: is invalid", "error": "Invalid"}]},
            }
            return httpx.Response(422, json=body)
        return httpx.Response(201, json={"user": {"id": 77, **user}})

    with respx.mock(base_url=ZD) as router:
        bulk = router.post(BULK).mock(return_value=httpx.Response(403, json={"error": "Forbidden"}))
        one = router.post("/api/v2/users/create_or_update").mock(side_effect=single)
        writer = ZendeskWriter(CONN, _client(), batch_size=2)
        items = [*_people(2), WriteItem("bad@acme.io", None, {"name": "B"}), *_people(1, 5)]
        outcomes = writer.upsert("person", items)
    assert bulk.call_count == 1, "asked once; the account has no bulk imports"
    assert one.call_count == 4
    assert [(o.ok, o.created) for o in outcomes] == [
        (True, True),
        (True, True),
        (False, False),
        (True, True),
    ]
    assert outcomes[2].error == "RecordInvalid: Email: is invalid"


def test_unknown_entity_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="deal"):
        ZendeskWriter(CONN, _client()).upsert("deal", [])


# --- against the sandbox -------------------------------------------------------------------


@pytest.fixture
def world(sandbox: SandboxServer) -> Iterator[World]:
    with fresh_world(sandbox) as seeded:
        yield seeded


def _writer(sandbox: SandboxServer) -> ZendeskWriter:
    writer = writer_for(connection(sandbox))
    assert isinstance(writer, ZendeskWriter)
    return writer


def test_users_are_created_then_a_replay_updates_the_same_ones(
    sandbox: SandboxServer, world: World, waits: list[float]
) -> None:
    items = [
        WriteItem(
            f"new.{i}@northwind.example",
            None,
            {"name": f"New Person{i}", "external_id": f"unified-{i}", "skip_verify_email": True},
        )
        for i in range(130)
    ]
    items.append(WriteItem("not-an-email", None, {"name": "Broken"}))
    writer = _writer(sandbox)
    try:
        first = writer.upsert("person", items)
        again = writer.upsert("person", items[:130])
    finally:
        writer.close()

    assert [o.ok for o in first] == [True] * 130 + [False]
    assert all(o.created for o in first[:130])
    assert "not properly formatted" in str(first[130].error)
    assert [o.record_id for o in again] == [o.record_id for o in first[:130]]
    assert not any(o.created for o in again)
    assert waits, "the jobs were polled"
    with api(sandbox) as zd:
        found = zd.get("/users/search", params={"query": "email:new.7@northwind.example"}).json()
    assert [u["external_id"] for u in found["users"]] == ["unified-7"]


def test_a_replayed_organization_create_does_not_duplicate(
    sandbox: SandboxServer, world: World
) -> None:
    item = WriteItem(
        "unified-org-1",
        None,
        {
            "name": "Northwind Traders",
            "domain_names": ["northwind.example"],
            "external_id": "unified-org-1",
        },
    )
    writer = _writer(sandbox)
    try:
        first = writer.upsert("company", [item])[0]
        replay = writer.upsert("company", [item])[0]
    finally:
        writer.close()

    assert (first.ok, first.created) == (True, True)
    assert (replay.ok, replay.created, replay.record_id) == (True, False, first.record_id)
    with sandbox.state.lock:
        names = [o["name"] for o in sandbox.state.zendesk.organizations.values()]
    assert names.count("Northwind Traders") == 1


def test_an_organization_update_puts_our_domain_first_and_keeps_the_others(
    sandbox: SandboxServer, world: World
) -> None:
    org = world.seeds["zendesk"].streams["organizations"][0]
    with api(sandbox) as zd:
        zd.put(
            f"/organizations/{org['id']}",
            json={"organization": {"domain_names": ["old.example", "extra.example"]}},
        )
    writer = _writer(sandbox)
    try:
        updated, missing, unkeyed = writer.upsert(
            "company",
            [
                WriteItem("u-1", str(org["id"]), {"domain_names": ["new.example"]}),
                WriteItem("u-2", "29999999999", {"name": "Gone Inc"}),
                WriteItem("u-3", None, {"name": "No Key Ltd"}),
            ],
        )
    finally:
        writer.close()

    assert (updated.ok, updated.created) == (True, False)
    assert updated.data is not None
    assert updated.data["domain_names"] == ["new.example", "old.example", "extra.example"]
    assert not missing.ok
    assert "not found" in str(missing.error)
    assert not unkeyed.ok
    assert "external_id" in str(unkeyed.error)


def test_find_survivor_follows_a_merge_made_in_zendesk(
    sandbox: SandboxServer, world: World
) -> None:
    ends = [u for u in world.seeds["zendesk"].streams["users"] if u["role"] == "end-user"]
    gone, keep = ends[0], ends[1]
    writer = _writer(sandbox)
    try:
        assert writer.find_survivor(gone["email"]) == str(gone["id"])
        with api(sandbox) as zd:
            merged = zd.put(f"/users/{gone['id']}/merge", json={"user": {"id": keep["id"]}})
            assert merged.status_code == 200
            assert zd.get(f"/users/{gone['id']}").json()["user"]["active"] is False
        assert writer.find_survivor(gone["email"].upper()) == str(keep["id"])
        assert writer.find_survivor("nobody.at.all@northwind.example") is None
    finally:
        writer.close()


def test_a_partially_failed_job_reports_each_item(
    sandbox: SandboxServer, world: World, waits: list[float]
) -> None:
    fault = {
        "tool": "zendesk",
        "kind": "partial_batch",
        "path": "create_or_update_many",
        "every": 3,
    }
    with api(sandbox) as zd:
        assert zd.post(sandbox.url + "/_sandbox/faults", json=fault).status_code == 201
    writer = _writer(sandbox)
    try:
        outcomes = writer.upsert("person", _people(6, start=900))
    finally:
        writer.close()
    assert [o.ok for o in outcomes] == [True, True, False, True, True, False]
    assert "Injected" in str(outcomes[2].error)


def test_a_wrong_token_is_a_fatal_write_failure_without_the_token(
    sandbox: SandboxServer, world: World
) -> None:
    writer = writer_for(connection(sandbox, token="wrongZendeskToken999"))
    try:
        with pytest.raises(WriteFailed) as caught:
            writer.upsert("person", _people(1))
    finally:
        writer.close()
    assert caught.value.error_class is ErrorClass.FATAL
    assert "wrongZendeskToken999" not in str(caught.value)
