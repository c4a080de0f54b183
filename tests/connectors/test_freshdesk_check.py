"""Reaching Freshdesk: the helpdesk domain makes the base URL, and `revsync check` proves the
API key reads and may write contacts without writing anything."""

from __future__ import annotations

import pytest
from contract_kit import connection, past_world
from pydantic import SecretStr

from connectors.check import check_connection
from connectors.connections import connection_from_env
from connectors.errors import ConfigError
from connectors.providers import provider_for
from sandbox.server import SandboxServer


def test_the_domain_makes_the_real_base_url_and_the_key_is_required() -> None:
    env = {"REVSYNC_FRESHDESK_API_KEY": "fd-key-123456", "REVSYNC_FRESHDESK_DOMAIN": "acme"}
    assert connection_from_env("freshdesk", env).base_url == "https://acme.freshdesk.com"
    with pytest.raises(ConfigError, match="REVSYNC_FRESHDESK_API_KEY"):
        connection_from_env("freshdesk", {"REVSYNC_FRESHDESK_DOMAIN": "acme"})


def test_check_reads_and_probes_the_write_permission_writing_nothing(
    sandbox: SandboxServer,
) -> None:
    with past_world(sandbox, "freshdesk"):
        before = len(list(sandbox.state.freshdesk.contacts.iter_keys()))
        result = check_connection(connection(sandbox, "freshdesk"))
        after = len(list(sandbox.state.freshdesk.contacts.iter_keys()))
    assert result.ok, result.lines()
    declared = provider_for("freshdesk").check
    assert declared.write_probe is not None
    assert [p.name for p in result.probes] == [declared.read, declared.write_probe.name]
    assert "per minute" in str(result.headroom)
    assert after == before, "the write probe created a contact"


def test_check_with_a_wrong_key_says_what_to_fix(sandbox: SandboxServer) -> None:
    with past_world(sandbox, "freshdesk"):
        conn = connection(sandbox, "freshdesk")
        wrong = conn.model_copy(update={"secrets": {"api_key": SecretStr("wrongFreshdeskKey999")}})
        result = check_connection(wrong)
    assert not result.ok
    assert "401" in result.probes[0].detail
    assert "REVSYNC_FRESHDESK_API_KEY" in result.probes[0].detail
    assert "wrongFreshdeskKey999" not in "\n".join(result.lines())
