"""`revsync check` against the sandbox, and `revsync connect` storing Prefect blocks."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from ops_server import PrefectServer

from connectors.check import check_connection
from connectors.connections import connection_from_env
from flows.cli import main
from flows.credentials import resolve_connection, secret_block_name, settings_block_name
from flows.demo import sandbox_environment
from sandbox.credentials import SANDBOX_HUBSPOT_READONLY_TOKEN, SANDBOX_HUBSPOT_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def env(sandbox: SandboxServer) -> dict[str, str]:
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{sandbox.url}/_sandbox/seed", json={"people": 5, "seed": 1}).raise_for_status()
    return sandbox_environment(sandbox)


def test_check_passes_with_the_sandbox_credentials_and_reports_headroom(
    env: dict[str, str],
) -> None:
    hubspot = check_connection(connection_from_env("hubspot", env))
    mailchimp = check_connection(connection_from_env("mailchimp", env))
    assert hubspot.ok, hubspot.lines()
    assert mailchimp.ok, mailchimp.lines()
    assert hubspot.headroom is not None
    assert "calls left" in hubspot.headroom
    assert len(hubspot.probes) == 2
    assert len(mailchimp.probes) == 2


def test_a_wrong_token_names_what_to_fix_and_never_the_token(env: dict[str, str]) -> None:
    wrong = {**env, "REVSYNC_HUBSPOT_ACCESS_TOKEN": "pat-na1-not-a-real-token"}
    result = check_connection(connection_from_env("hubspot", wrong))
    assert not result.ok
    text = "\n".join(result.lines())
    assert "401" in text
    assert "REVSYNC_HUBSPOT_ACCESS_TOKEN" in text
    assert "revsync connect hubspot" in text
    assert "pat-na1-not-a-real-token" not in text


def test_a_read_only_token_is_told_which_scope_is_missing(env: dict[str, str]) -> None:
    readonly = {**env, "REVSYNC_HUBSPOT_ACCESS_TOKEN": SANDBOX_HUBSPOT_READONLY_TOKEN}
    result = check_connection(connection_from_env("hubspot", readonly))
    read, write = result.probes
    assert read.ok
    assert not write.ok
    assert "403" in write.detail
    assert "scope" in write.detail.lower()


def test_a_wrong_mailchimp_audience_names_the_setting(env: dict[str, str]) -> None:
    wrong = {**env, "REVSYNC_MAILCHIMP_LIST_ID": "nope000000"}
    result = check_connection(connection_from_env("mailchimp", wrong))
    assert not result.ok
    assert "REVSYNC_MAILCHIMP_LIST_ID" in "\n".join(result.lines())


@pytest.fixture
def no_env_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in ("HUBSPOT", "MAILCHIMP"):
        for suffix in ("ACCESS_TOKEN", "API_KEY", "BASE_URL", "LIST_ID"):
            monkeypatch.delenv(f"REVSYNC_{tool}_{suffix}", raising=False)


@pytest.fixture
def stored_blocks(prefect_server: PrefectServer) -> Iterator[None]:
    yield
    from prefect.client.orchestration import get_client

    with prefect_server.settings(), get_client(sync_client=True) as client:
        for tool in ("hubspot",):
            try:
                doc = client.read_block_document_by_name(secret_block_name(tool), "secret")
                client.delete_block_document(doc.id)
            except Exception:
                pass
            variable = client.read_variable_by_name(settings_block_name(tool))
            if variable is not None:
                client.delete_variable_by_name(settings_block_name(tool))


@pytest.mark.server
def test_connect_stores_secret_blocks_that_the_sync_then_resolves(
    prefect_server: PrefectServer,
    sandbox: SandboxServer,
    env: dict[str, str],
    no_env_connections: None,
    stored_blocks: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SANDBOX_HUBSPOT_TOKEN + "\n"))
    with prefect_server.settings():
        code = main(
            ["connect", "hubspot", "--base-url", sandbox.base_url("hubspot"), "--secret-stdin"]
        )
        out = capsys.readouterr()
        assert code == 0, out
        conn = resolve_connection("hubspot", env={})
        from prefect.blocks.system import Secret

        stored = Secret.load(secret_block_name("hubspot"))
    assert SANDBOX_HUBSPOT_TOKEN not in out.out + out.err
    assert "hubspot: OK" in out.out
    assert conn.base_url == sandbox.base_url("hubspot")
    assert conn.secret("access_token").get_secret_value() == SANDBOX_HUBSPOT_TOKEN
    assert stored.get() == SANDBOX_HUBSPOT_TOKEN
    assert SANDBOX_HUBSPOT_TOKEN not in repr(conn)


def test_only_connected_tools_are_synced_by_default(
    env: dict[str, str], prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.credentials import connected

    for key in list(env):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if not key.startswith("REVSYNC_ZENDESK_"):
            monkeypatch.setenv(key, value)

    assert connected(["hubspot", "mailchimp", "zendesk"]) == ["hubspot", "mailchimp"]
    monkeypatch.setenv("REVSYNC_ZENDESK_API_TOKEN", "t0ken")
    assert connected(["zendesk"]) == [], "an email and a subdomain are needed too"


def test_a_resolved_connection_is_reused_until_its_variables_change(
    env: dict[str, str], prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.credentials as credentials

    for key, value in env.items():
        if key.startswith("REVSYNC_HUBSPOT_"):
            monkeypatch.setenv(key, value)
    asked: list[str] = []
    real = credentials._load_secret
    monkeypatch.setattr(credentials, "_load_secret", lambda name: asked.append(name) or real(name))
    first = resolve_connection("hubspot")
    assert resolve_connection("hubspot") is first
    assert len(asked) == 1, "the blocks were asked again"

    monkeypatch.setenv("REVSYNC_HUBSPOT_BASE_URL", "http://127.0.0.1:1/hubspot")
    moved = resolve_connection("hubspot")
    assert moved.base_url == "http://127.0.0.1:1/hubspot"
    assert len(asked) == 2
    credentials.forget_connections()
    assert resolve_connection("hubspot") is not moved
