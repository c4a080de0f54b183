"""What the Zendesk connector tests share: a connection to the sandbox, a seeded world whose
records are all older than a minute (Zendesk withholds the last one), reading helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import requests
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.runner import Checkpoint, Record, read_stream
from sandbox.credentials import SANDBOX_ZENDESK_API_TOKEN, SANDBOX_ZENDESK_EMAIL
from sandbox.server import SandboxServer
from sandbox.world import World, generate_world, load_world

__all__ = [
    "PEOPLE",
    "api",
    "connection",
    "exports",
    "fresh_world",
    "read",
    "watch_reads",
    "world",
]

PEOPLE = 3_400
"""About 1,100 Zendesk users: two pages of the 1,000-record user export."""


@cache
def world(people: int = PEOPLE) -> World:
    """Zendesk's share of a world seeded two hours ago (pure, so built once per process)."""
    return generate_world(
        people,
        5,
        tools=("zendesk",),
        now=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2),
    )


def connection(sandbox: SandboxServer, token: str = SANDBOX_ZENDESK_API_TOKEN) -> Connection:
    return Connection(
        tool="zendesk",
        base_url=sandbox.base_url("zendesk"),
        secrets={"api_token": SecretStr(token)},
        options={"email": SANDBOX_ZENDESK_EMAIL},
    )


@contextmanager
def fresh_world(sandbox: SandboxServer, people: int = PEOPLE) -> Iterator[World]:
    """The sandbox reset and holding :func:`world`; the export's own budget lifted (tests that
    exercise it set it back); everything restored afterwards."""
    state = sandbox.state
    state.reset()
    state.configure_limit("zendesk-incremental", max_requests=10_000)
    load_world(state, world(people))
    state.requests.clear()
    try:
        yield world(people)
    finally:
        state.zendesk.recent_exclusion_s = 60
        state.configure_limit("zendesk-incremental", max_requests=10, interval_ms=60_000)
        state.reset()


def read(
    conn: Connection, stream: str, state: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every record of one read and the last checkpoint."""
    records: list[dict[str, Any]] = []
    checkpoint: dict[str, Any] | None = None
    for item in read_stream(conn, stream, state):
        if isinstance(item, Record):
            records.append(item.data)
        elif isinstance(item, Checkpoint):
            checkpoint = item.state
    return records, checkpoint


@contextmanager
def watch_reads() -> Iterator[list[tuple[requests.PreparedRequest, int]]]:
    """Every request the CDK sends (over real HTTP) and its status, seen from the client side:
    the sandbox logs a request only after its answer has gone out, so its log can lag."""
    seen: list[tuple[requests.PreparedRequest, int]] = []
    original = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        response = original(self, request, **kwargs)
        seen.append((request, response.status_code))
        return response

    with mock.patch.object(requests.Session, "send", send):
        yield seen


def exports(seen: list[tuple[requests.PreparedRequest, int]], path: str) -> list[dict[str, Any]]:
    """The watched requests to one incremental export, query parsed, oldest first."""
    out = []
    for request, status in seen:
        url = urlsplit(str(request.url))
        if url.path.endswith(path):
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            out.append({"status": status, "query": query})
    return out


def api(sandbox: SandboxServer) -> Any:
    """A plain client on the sandbox's Zendesk API (for changes "made in Zendesk")."""
    import httpx

    return httpx.Client(
        base_url=sandbox.base_url("zendesk") + "/api/v2",
        auth=(f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN),
        timeout=30,
    )
