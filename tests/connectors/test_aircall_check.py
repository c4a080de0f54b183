"""Reaching Aircall: the API ID and token are both required, and `revsync check` proves the
key reads and may write contacts without writing anything."""

from __future__ import annotations

import pytest
from contract_kit import connection, past_world
from pydantic import SecretStr

from connectors.check import check_connection
from connectors.connections import connection_from_env
from connectors.errors import ConfigError
from connectors.providers import provider_for
from sandbox.server import SandboxServer


def test_the_production_base_url_and_both_halves_of_the_key_are_required() -> None:
    env = {"REVSYNC_AIRCALL_API_ID": "id-123", "REVSYNC_AIRCALL_API_TOKEN": "token-123456"}
    assert connection_from_env("aircall", env).base_url == "https://api.aircall.io"
    with pytest.raises(ConfigError, match="REVSYNC_AIRCALL_API_TOKEN"):
        connection_from_env("aircall", {"REVSYNC_AIRCALL_API_ID": "id-123"})
    with pytest.raises(ConfigError, match="REVSYNC_AIRCALL_API_ID"):
        connection_from_env("aircall", {"REVSYNC_AIRCALL_API_TOKEN": "token-123456"})


def test_check_reads_and_probes_the_write_permission_writing_nothing(
    sandbox: SandboxServer,
) -> None:
    with past_world(sandbox, "aircall"):
        before = len(list(sandbox.state.aircall.contacts.iter_keys()))
        result = check_connection(connection(sandbox, "aircall"))
        after = len(list(sandbox.state.aircall.contacts.iter_keys()))
    assert result.ok, result.lines()
    declared = provider_for("aircall").check
    assert declared.write_probe is not None
    assert [p.name for p in result.probes] == [declared.read, declared.write_probe.name]
    assert after == before, "the write probe created a contact"


def test_check_with_a_wrong_token_says_what_to_fix(sandbox: SandboxServer) -> None:
    with past_world(sandbox, "aircall"):
        conn = connection(sandbox, "aircall")
        wrong = conn.model_copy(update={"secrets": {"api_token": SecretStr("wrongAircallToken99")}})
        result = check_connection(wrong)
    assert not result.ok
    assert "401" in result.probes[0].detail
    assert "REVSYNC_AIRCALL_API_TOKEN" in result.probes[0].detail
    assert "wrongAircallToken99" not in "\n".join(result.lines())
