"""Connectors end to end against the sandbox over loopback (the only difference: base URL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.errors import ReadFailed
from connectors.http import build_client
from connectors.registry import writer_for
from connectors.retry import RetrySettings
from connectors.runner import Checkpoint, Record, cdk_sleep, read_stream
from connectors.writer import WriteItem
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
)
from sandbox.seed import generate_world
from sandbox.server import SandboxServer

PEOPLE = 60


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(seed_people=PEOPLE) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_faults(server: SandboxServer) -> Iterator[None]:
    with cdk_sleep(lambda _s: None):
        yield
    httpx.delete(server.url + "/_sandbox/faults")


def _hubspot(server: SandboxServer) -> Connection:
    return Connection(
        tool="hubspot",
        base_url=server.base_url("hubspot"),
        secrets={"access_token": SecretStr(SANDBOX_HUBSPOT_TOKEN)},
    )


def _mailchimp(server: SandboxServer) -> Connection:
    return Connection(
        tool="mailchimp",
        base_url=server.base_url("mailchimp"),
        secrets={"api_key": SecretStr(SANDBOX_MAILCHIMP_KEY)},
        options={"list_id": SANDBOX_MAILCHIMP_LIST_ID},
    )


def _read(conn: Connection, stream: str, state: dict | None) -> tuple[list[Record], dict]:
    items = list(read_stream(conn, stream, state))
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    return [i for i in items if isinstance(i, Record)], (
        checkpoints[-1].state if checkpoints else {}
    )


def test_hubspot_full_then_incremental_read(server: SandboxServer) -> None:
    conn = _hubspot(server)
    records, state = _read(conn, "contacts", None)
    world = generate_world(PEOPLE, 42)
    assert len({r.data["id"] for r in records}) == len(records) >= len(world.hubspot_contacts)
    assert state["updatedAt"]
    again, _ = _read(conn, "contacts", state)
    assert len(again) < len(records)  # only the lookback edge comes back

    target = records[0].data["id"]
    edit = httpx.patch(
        f"{server.url}/_sandbox/hubspot/contacts/{target}", json={"jobtitle": "Edited"}
    )
    assert edit.status_code == 200
    changed, new_state = _read(conn, "contacts", state)
    assert target in {r.data["id"] for r in changed}
    assert new_state["updatedAt"] > state["updatedAt"]


def test_mailchimp_full_then_incremental_read(server: SandboxServer) -> None:
    conn = _mailchimp(server)
    records, state = _read(conn, "members", None)
    assert len({r.data["id"] for r in records}) == len(records) > 0
    assert "FNAME" in records[0].data["merge_fields"]
    target = records[0].data["id"]
    edit = httpx.patch(
        f"{server.url}/_sandbox/mailchimp/members/{target}",
        json={"merge_fields": {"FNAME": "Edited"}},
    )
    assert edit.status_code == 200
    changed, _ = _read(conn, "members", state)
    assert target in {r.data["id"] for r in changed}


def test_hubspot_read_survives_a_429(server: SandboxServer) -> None:
    fault = {"tool": "hubspot", "kind": "429", "path": "search", "count": 1, "retry_after": 1}
    assert httpx.post(server.url + "/_sandbox/faults", json=fault).status_code < 300
    records, _ = _read(_hubspot(server), "contacts", None)
    assert records


def test_bad_token_is_a_clear_read_failure(server: SandboxServer) -> None:
    conn = _hubspot(server).model_copy(update={"secrets": {"access_token": SecretStr("pat-bad")}})
    with pytest.raises(ReadFailed, match="check the private app token") as caught:
        _read(conn, "contacts", None)
    assert "pat-bad" not in str(caught.value)


def test_hubspot_upsert_is_idempotent_by_email(server: SandboxServer) -> None:
    writer = writer_for(_hubspot(server))
    item = WriteItem("e2e.upsert@northwind-traders.com", None, {"firstname": "Ada"})
    first = writer.upsert("person", [item])[0]
    second = writer.upsert("person", [item])[0]
    writer.close()
    assert first.ok
    assert first.created
    assert second.ok
    assert not second.created
    assert second.record_id == first.record_id


def test_hubspot_write_honours_retry_after(server: SandboxServer) -> None:
    fault = {"tool": "hubspot", "kind": "429", "path": "batch", "count": 1, "retry_after": 2}
    assert httpx.post(server.url + "/_sandbox/faults", json=fault).status_code < 300
    sleeps: list[float] = []
    conn = _hubspot(server)
    client = build_client(conn, retry=RetrySettings.no_wait(sleep=sleeps.append))
    writer = writer_for(conn, client)
    with client:
        outcome = writer.upsert("person", [WriteItem("e2e.retry@northwind-traders.com", None, {})])
    assert outcome[0].ok
    assert sleeps == [2.0]


def test_mailchimp_writes_batch_and_put(server: SandboxServer) -> None:
    writer = writer_for(_mailchimp(server))
    outcomes = writer.upsert(
        "person",
        [
            WriteItem(
                "e2e.batch@northwind-traders.com",
                None,
                {"status": "subscribed", "merge_fields": {"FNAME": "Bo"}},
            ),
            WriteItem("e2e.put@northwind-traders.com", None, {"merge_fields": {"FNAME": "Cy"}}),
        ],
    )
    writer.close()
    assert [o.ok for o in outcomes] == [True, True], [o.error for o in outcomes]
    assert outcomes[0].created
    records, _ = _read(_mailchimp(server), "members", None)
    emails = {r.data["email_address"] for r in records}
    assert {"e2e.batch@northwind-traders.com", "e2e.put@northwind-traders.com"} <= emails
