"""The contract every connector meets against the sandbox, parametrized by discovery.

Meltano SDK's standard tests are the model: a connector folder with a mapping file and declared
sandbox values gets every check here by existing. The static half (manifest schema, writer
protocol, README sections) is ``test_connectors_contract.py``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from contract_kit import (
    CASES,
    SentBodies,
    Sleeps,
    connection,
    dig,
    live,
    mapped,
    past_world,
    read_all,
    synthetic_items,
    write,
)
from prefect import flow
from sqlmodel import Session

from connectors.providers import providers
from connectors.writer import WriteItem
from flows.apply import apply_writes
from flows.demo import sandbox_environment
from mappings.consent import CONSENT_FIELDS, OPTED_OUT
from mappings.spec import (
    FieldMap,
    from_unified,
    load_mappings,
    mapped_fields,
    read_back,
)
from mappings.spec import Mapping as ToolMapping
from reconcile.plan import PlannedWrite
from sandbox.faults import Fault
from sandbox.server import SandboxServer
from state.db import engine_from_url, init_schema
from state.dead_letters import dead_letters_for_run
from state.runs import start_run

pytestmark = pytest.mark.parametrize(("tool", "entity"), CASES, ids=[f"{t}-{e}" for t, e in CASES])

_EDITABLE = ("text", "name", "full_name")


def _mapping(tool: str, entity: str) -> ToolMapping:
    return load_mappings(tool)[entity]


def _written(tool: str, entity: str) -> ToolMapping:
    """The mapping of an entity revsync writes; a read-only one (tickets) has no write side
    to check."""
    m = _mapping(tool, entity)
    if not mapped_fields(m, "out"):
        pytest.skip(f"{tool} {entity} is read only: revsync writes none of its fields")
    return m


def _editable(m: ToolMapping) -> FieldMap:
    for f in m.fields:
        plain = f.writes and f.reads and not f.identity and f.transform in _EDITABLE
        if plain and f.unified != m.natural_key:
            return f
    raise AssertionError(f"{m.tool} {m.entity}: no plain text field to edit")


def _key(m: ToolMapping, values: dict[str, Any], external_id: str | None, record_id: str) -> str:
    return str(values.get(m.natural_key) or external_id or record_id)


def test_an_incremental_read_returns_state_and_resumes_from_it(
    sandbox: SandboxServer, tool: str, entity: str
) -> None:
    m = _mapping(tool, entity)
    with past_world(sandbox, tool) as clock:
        conn = connection(sandbox, tool)
        first, state = read_all(conn, m.stream)
        mine = live(m, first)
        assert mine, f"{tool} {m.stream}: the seeded world read back empty"
        assert state, f"{tool} {m.stream}: no state after a full read"
        newest = max(r.updated_at for r in mapped(m, first))
        if not mapped_fields(m, "out"):
            # Read only: nothing to edit through revsync; the read from state must still
            # bring nothing older than the state and not start over.
            clock.behind = timedelta(minutes=55)
            second, _ = read_all(conn, m.stream, state)
            assert len(second) < len(first), "the read from state started over"
            assert all(r.updated_at >= newest for r in mapped(m, second))
            return

        target, field = mine[0], _editable(m)
        changed = {**target.values, field.unified: "Probe"}
        item = WriteItem(
            key=_key(m, target.values, target.external_id, target.record_id),
            record_id=target.record_id,
            properties=from_unified(m, changed, create=False),
        )
        (outcome,) = write(conn, entity, [item])
        assert outcome.ok, outcome.error
        clock.behind = timedelta(minutes=55)  # the edit is now older than any withheld minute

        second, _ = read_all(conn, m.stream, state)
    again = {r.record_id for r in mapped(m, second)}
    assert target.record_id in again, "the record changed after the state was not read again"
    assert len(second) < len(first), "the read from state started over"
    older = [r for r in mapped(m, second) if r.updated_at < newest]
    assert not older, f"{len(older)} records older than the state came back"


def test_every_mapped_field_exists_in_the_records(
    sandbox: SandboxServer, tool: str, entity: str
) -> None:
    m = _mapping(tool, entity)
    with past_world(sandbox, tool):
        records, _ = read_all(connection(sandbox, tool), m.stream)
    assert records
    updated = [m.updated_field] if isinstance(m.updated_field, str) else list(m.updated_field)
    paths = [m.id_field, *updated] + [f.tool for f in m.fields if f.reads]
    missing = [p for p in paths if not any(dig(r, p)[0] for r in records)]
    assert not missing, f"{tool} {m.stream}: mapped fields never present in a record: {missing}"


def _same_consent(field: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A consent state a tool holds as another of the same kind (a bounce kept as an opt-out):
    both opted out, or neither; the plan writes nothing for it (``reconcile.plan``)."""
    if field not in CONSENT_FIELDS:
        return False
    return (before.get(field) in OPTED_OUT) == (after.get(field) in OPTED_OUT)


def test_the_mapping_round_trip_is_stable(sandbox: SandboxServer, tool: str, entity: str) -> None:
    m = _mapping(tool, entity)
    with past_world(sandbox, tool):
        records, _ = read_all(connection(sandbox, tool), m.stream)
    both = [f for f in mapped_fields(m, "out") if f in set(mapped_fields(m, "in"))]
    unstable = []
    for rec in live(m, records):
        back = read_back(m, rec.values)
        drift = {
            f: (rec.values.get(f), back.get(f))
            for f in both
            if back.get(f) != rec.values.get(f) and not _same_consent(f, rec.values, back)
        }
        if drift:
            unstable.append((rec.record_id, drift))
        assert read_back(m, back) == back, "read_back is not idempotent"
    assert not unstable, f"unified -> {tool} -> unified changed values: {unstable[:3]}"


def test_writes_fill_the_declared_batch_and_never_exceed_it(
    sandbox: SandboxServer, tool: str, entity: str
) -> None:
    m = _written(tool, entity)
    batch_max = providers()[tool].batch_max
    with past_world(sandbox, tool):
        sent = SentBodies()
        outcomes = write(
            connection(sandbox, tool), entity, synthetic_items(m, batch_max + 1), transport=sent
        )
        sizes = [_items_in(method, body) for method, body in sent.sent]
    failed = [o.error for o in outcomes if not o.ok]
    assert len(outcomes) == batch_max + 1
    assert not failed, failed[:3]
    assert max(sizes) <= batch_max, f"a request carried {max(sizes)} records"
    if max(sizes) > 1:  # a batch endpoint: the writer fills it to the vendor's limit
        assert max(sizes) == batch_max


def _items_in(method: str, body: Any) -> int:
    """The longest list in a request body: the records a batch call carried."""
    if method not in ("POST", "PUT", "PATCH") or not isinstance(body, dict | list):
        return 0
    best = 0
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            best = max(best, len(node))
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return best


def test_a_429_with_retry_after_is_honoured_by_reads_and_writes(
    sandbox: SandboxServer, tool: str, entity: str
) -> None:
    m = _written(tool, entity)
    with past_world(sandbox, tool):
        conn = connection(sandbox, tool)
        sandbox.state.faults.add(Fault(tool=tool, kind="429", retry_after=7, count=1))
        read_sleeps = Sleeps()
        records, _ = read_all(conn, m.stream, sleeps=read_sleeps)
        assert records, "the read gave up instead of retrying"
        sandbox.state.faults.add(Fault(tool=tool, kind="429", retry_after=5, count=1))
        write_sleeps = Sleeps()
        (outcome,) = write(conn, entity, synthetic_items(m, 1), write_sleeps)
    assert outcome.ok, outcome.error
    assert any(7 <= s <= 8 for s in read_sleeps), f"read waited {read_sleeps}, not Retry-After 7"
    assert any(5 <= s <= 6 for s in write_sleeps), f"write waited {write_sleeps}, not 5"


def test_a_rejected_record_reaches_the_dead_letters(
    sandbox: SandboxServer,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tool: str,
    entity: str,
) -> None:
    """The vendor refuses every call that carries one record (its batch, then its own call):
    that record becomes a dead letter with the vendor's reason, the others are applied."""
    m = _written(tool, entity)
    engine = engine_from_url(f"sqlite:///{tmp_path / 'state.db'}")
    init_schema(engine)
    run_id = f"contract-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        start_run(session, run_id, None, dry_run=False)
        session.commit()
    items = synthetic_items(m, 4, start=1000)
    writes = [
        PlannedWrite(
            tool=tool,
            entity=entity,
            unified_id=f"u{n}",
            op="create",
            record_id=None,
            natural_key=item.key,
            changes={},
            payload=item.properties,
        )
        for n, item in enumerate(items)
    ]

    @flow(name="contract-apply")
    def run() -> tuple[int, int]:
        applied = apply_writes(tool, m, writes, {}, engine, run_id)
        return applied.failed, applied.created + applied.updated

    with past_world(sandbox, tool):
        for name, value in sandbox_environment(sandbox).items():
            monkeypatch.setenv(name, value)
        refused = Fault(tool=tool, kind="reject", count=None, body_contains=items[1].key)
        sandbox.state.faults.add(refused)
        failed, applied = run()
    with Session(engine) as session:
        letters = dead_letters_for_run(session, run_id)
    assert (failed, applied) == (1, len(writes) - 1)
    (letter,) = letters
    assert letter.stage == "apply"
    assert letter.payload["unified_id"] == "u1"
    assert "rejected" in letter.reason or "422" in letter.reason, letter.reason


def test_no_secret_reaches_the_logs(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture, tool: str, entity: str
) -> None:
    m = _written(tool, entity)
    with past_world(sandbox, tool):
        conn = connection(sandbox, tool)
        secrets = [s.get_secret_value() for s in conn.secrets.values()]
        sandbox.state.faults.add(Fault(tool=tool, kind="500", count=1))
        with caplog.at_level(logging.DEBUG):
            read_all(conn, m.stream)
            write(conn, entity, synthetic_items(m, 2, start=2000))
    text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{tool}: a secret was logged"
