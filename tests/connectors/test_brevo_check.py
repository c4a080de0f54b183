"""Reaching Brevo: `revsync check` reads contacts and proves the key may write them with an
import of no rows (refused by validation, so nothing is written)."""

from __future__ import annotations

from contract_kit import connection, past_world
from pydantic import SecretStr

from connectors.check import check_connection
from connectors.providers import provider_for
from sandbox.server import SandboxServer


def test_check_reads_and_probes_the_write_permission_writing_nothing(
    sandbox: SandboxServer,
) -> None:
    with past_world(sandbox, "brevo"):
        before = len(list(sandbox.state.brevo.contacts.iter_keys()))
        processes = dict(sandbox.state.brevo.processes)
        result = check_connection(connection(sandbox, "brevo"))
        after = len(list(sandbox.state.brevo.contacts.iter_keys()))
    assert result.ok, result.lines()
    declared = provider_for("brevo").check
    assert declared.write_probe is not None
    assert [p.name for p in result.probes] == [declared.read, declared.write_probe.name]
    assert after == before, "the write probe created a contact"
    assert sandbox.state.brevo.processes == processes, "the write probe started an import"


def test_check_with_a_wrong_key_says_what_to_fix(sandbox: SandboxServer) -> None:
    with past_world(sandbox, "brevo"):
        conn = connection(sandbox, "brevo")
        wrong = "xkeysib-" + "f" * 64 + "-wrongwrongwrong0"
        bad = conn.model_copy(update={"secrets": {"api_key": SecretStr(wrong)}})
        result = check_connection(bad)
    assert not result.ok
    assert "401" in result.probes[0].detail
    assert "REVSYNC_BREVO_API_KEY" in result.probes[0].detail
    assert wrong not in "\n".join(result.lines())
