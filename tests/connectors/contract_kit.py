"""What the live contract suite needs, for any connector found: a sandbox world in the past,
connections from the connector's declared sandbox values, reads, and synthetic writes.

Nothing here names a tool: a connector gets the suite by existing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
from pydantic import SecretStr

from connectors import retry
from connectors.connections import Connection, build_connection
from connectors.http import build_client
from connectors.providers import providers
from connectors.registry import writer_for
from connectors.retry import RetrySettings
from connectors.runner import Checkpoint, Record, cdk_sleep, read_stream
from connectors.writer import WriteItem, WriteOutcome
from mappings.errors import MappingError
from mappings.spec import (
    MAPPINGS_DIR,
    UNIFIED_ID_KEY,
    MappedRecord,
    external_id_payload,
    from_unified,
    is_gone,
    is_included,
    load_mappings,
    requested_fields,
    to_unified,
)
from mappings.spec import Mapping as ToolMapping
from sandbox import credentials
from sandbox.server import SandboxServer
from sandbox.world import generate_world, load_world

__all__ = [
    "CASES",
    "PastClock",
    "SentBodies",
    "Sleeps",
    "connection",
    "dig",
    "live",
    "mapped",
    "past_world",
    "read_all",
    "synthetic_items",
    "write",
]

PEOPLE = 120
SEEDED_HOURS_AGO = 3

# every (tool, entity) a connector declares sandbox values for and a mapping maps
CASES: list[tuple[str, str]] = sorted(
    (tool, entity)
    for tool, provider in providers().items()
    if provider.sandbox
    if (MAPPINGS_DIR / f"{tool}.yaml").exists()
    for entity in load_mappings(tool)
)


class PastClock:
    """The sandbox's clock, running ``behind`` real time: writes land in the past, so a tool
    that withholds its most recent minute from reads still shows them, with no waiting."""

    def __init__(self, behind: timedelta) -> None:
        self.behind = behind

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.behind


class Sleeps(list[float]):
    """Records the waits asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@contextmanager
def past_world(sandbox: SandboxServer, tool: str) -> Iterator[PastClock]:
    """The sandbox reset to a small world seeded hours ago, its clock an hour behind."""
    state = sandbox.state
    saved = state.clock
    clock = PastClock(timedelta(hours=1))
    state.reset()
    state.clock = clock
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=SEEDED_HOURS_AGO)
    load_world(state, generate_world(PEOPLE, 7, tools=(tool,), now=now))
    state.requests.clear()
    try:
        yield clock
    finally:
        state.faults.clear()
        state.clock = saved
        state.reset()


def connection(sandbox: SandboxServer, tool: str) -> Connection:
    """The connector's declared sandbox values, pointed at this sandbox."""
    provider = providers()[tool]
    values = {name: str(getattr(credentials, const)) for name, const in provider.sandbox.items()}
    secrets = {
        f.name: SecretStr(values[f.name]) for f in provider.secret_fields if f.name in values
    }
    options = {f.name: values[f.name] for f in provider.option_fields if f.name in values}
    return build_connection(tool, secrets, options, base_url=sandbox.base_url(tool))


def read_all(
    conn: Connection,
    stream: str,
    state: dict[str, Any] | None = None,
    *,
    sleeps: Sleeps | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every record of one read and its last checkpoint (CDK backoffs are recorded, not slept).

    The read asks for the fields the tool's mapping reads from ``stream``, as a sync does."""
    records: list[dict[str, Any]] = []
    checkpoint: dict[str, Any] | None = None
    sections = [k for m in load_mappings(conn.tool).values() for k in m.all_types()]
    fields = dict.fromkeys(f for k in sections if k.stream == stream for f in requested_fields(k))
    with cdk_sleep(sleeps if sleeps is not None else Sleeps()):
        for item in read_stream(conn, stream, state, tuple(fields)):
            if isinstance(item, Record):
                records.append(item.data)
            elif isinstance(item, Checkpoint):
                checkpoint = item.state
    return records, checkpoint


def mapped(m: ToolMapping, records: list[dict[str, Any]]) -> list[MappedRecord]:
    """The records that map (the seeded world is messy: the rest would be dead letters)."""
    out = []
    for raw in records:
        try:
            out.append(to_unified(m, raw))
        except MappingError:
            continue
    return out


def live(m: ToolMapping, records: list[dict[str, Any]]) -> list[MappedRecord]:
    """The mapped records that are this entity's and still exist for the tool's users."""
    return mapped(m, [r for r in records if is_included(m, r) and not is_gone(m, r)])


def dig(record: Any, path: str) -> tuple[bool, Any]:
    """``(present, value)`` of a dotted path."""
    node = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _synthetic_values(entity: str, n: int) -> dict[str, str]:
    if entity == "person":
        return {
            "email": f"contract.probe{n}@revsync-contract.io",
            "first_name": "Ada",
            "last_name": f"Probe{n}",
        }
    if entity == "deal":
        return {
            "name": f"Contract Probe {n} - renewal",
            "amount": str(1000 + n),
            "stage": "qualified",
            "close_date": "2027-01-31",
        }
    return {"name": f"Contract Probe {n} Ltd", "domain": f"contract-probe{n}.io"}


_PROBES: dict[str, Callable[[int], str]] = {"phone": lambda n: f"+1415555{n % 10_000:04d}"}
"""Values for fields a tool cannot create without (its natural key, a ``required`` field)."""


def synthetic_items(m: ToolMapping, count: int, start: int = 0) -> list[WriteItem]:
    """``count`` new records, shaped by the mapping as the planner shapes creates."""
    items = []
    needed = {f.unified for f in m.fields if f.required} | {m.natural_key}
    for n in range(start, start + count):
        values = _synthetic_values(m.entity, n)
        for name in sorted(needed & set(_PROBES)):
            values.setdefault(name, _PROBES[name](n))
        unified_id = hashlib.sha1(f"contract-{m.entity}-{n}".encode()).hexdigest()[:20]
        payload = from_unified(m, values, create=True)
        for key, value in external_id_payload(m, unified_id).items():
            if isinstance(value, dict) and isinstance(payload.get(key), dict):
                payload[key] = {**payload[key], **value}
            else:
                payload[key] = value
        key = unified_id if m.natural_key == UNIFIED_ID_KEY else values[m.natural_key]
        items.append(WriteItem(key=key, record_id=None, properties=payload))
    return items


class SentBodies(httpx.HTTPTransport):
    """Real HTTP that keeps each request's method and JSON body (whole, unlike the sandbox's
    request log, which truncates large batches)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content) if request.content else None
        except ValueError:
            body = None
        self.sent.append((request.method, body))
        return super().handle_request(request)


def write(
    conn: Connection,
    entity: str,
    items: list[WriteItem],
    sleeps: Sleeps | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[WriteOutcome]:
    """Through the connector's own writer and the shared client; waits are recorded."""
    waits = sleeps if sleeps is not None else Sleeps()
    client = build_client(conn, transport=transport, retry=RetrySettings(jitter=False, sleep=waits))
    writer = writer_for(conn, client)
    try:
        with mock.patch.object(retry, "sleeper", waits):  # async-job polling waits too
            return writer.upsert(entity, items)
    finally:
        writer.close()
        client.close()
