"""The Intercom connection against the sandbox: `revsync check intercom` passes with the
declared sandbox token and names the variable to fix when refused; every call, read or write,
pins the API version."""

from __future__ import annotations

from contract_kit import connection, past_world, read_all, synthetic_items, write
from pydantic import SecretStr

from connectors.check import check_connection
from connectors.connections import build_connection
from mappings.spec import load_mappings
from sandbox.server import SandboxServer


def test_check_reads_contacts_and_names_the_variable_when_refused(sandbox: SandboxServer) -> None:
    sandbox.state.reset()
    good = check_connection(connection(sandbox, "intercom"))
    assert good.ok, good.lines()
    assert good.lines()[1].startswith("  ok  read contacts")

    wrong = build_connection(
        "intercom",
        {"access_token": SecretStr("not-the-token-0000")},
        {},
        base_url=sandbox.base_url("intercom"),
    )
    refused = check_connection(wrong)
    assert not refused.ok
    (probe,) = refused.probes
    assert "(401)" in probe.detail
    assert "REVSYNC_INTERCOM_ACCESS_TOKEN" in probe.detail
    assert "not-the-token-0000" not in "\n".join(refused.lines())


def test_every_read_and_write_call_pins_the_api_version(sandbox: SandboxServer) -> None:
    with past_world(sandbox, "intercom"):
        conn = connection(sandbox, "intercom")
        for stream in ("contacts", "companies"):
            records, _ = read_all(conn, stream)
            assert records
        (outcome,) = write(conn, "person", synthetic_items(load_mappings("intercom")["person"], 1))
        assert outcome.ok, outcome.error
        calls = sandbox.state.requests.list("intercom")
    assert {c["path"].split("/")[1] for c in calls} >= {"contacts", "companies"}
    versions = {c["headers"].get("intercom-version") for c in calls}
    assert versions == {"2.16"}, versions
