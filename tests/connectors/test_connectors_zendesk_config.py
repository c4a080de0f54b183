"""Reaching Zendesk: settings from the environment, the token's basic-auth form, `revsync check`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from zendesk_kit import connection, fresh_world

from connectors.check import check_connection
from connectors.connections import connection_from_env
from connectors.errors import ConfigError
from connectors.http import build_auth
from connectors.providers import provider_for
from sandbox.server import SandboxServer
from sandbox.world import World

ENV = {"REVSYNC_ZENDESK_API_TOKEN": "tok-123456", "REVSYNC_ZENDESK_EMAIL": "agent@acme.io"}


def test_the_subdomain_makes_the_real_base_url() -> None:
    conn = connection_from_env("zendesk", {**ENV, "REVSYNC_ZENDESK_SUBDOMAIN": "acme"})
    assert conn.base_url == "https://acme.zendesk.com"
    assert conn.options == {"email": "agent@acme.io", "subdomain": "acme"}
    assert conn.cdk_config()["api_token"] == "tok-123456"


def test_an_explicit_base_url_needs_no_subdomain() -> None:
    env = {**ENV, "REVSYNC_ZENDESK_BASE_URL": "http://127.0.0.1:9/zendesk/"}
    assert connection_from_env("zendesk", env).base_url == "http://127.0.0.1:9/zendesk"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (ENV, "REVSYNC_ZENDESK_SUBDOMAIN not set (or set REVSYNC_ZENDESK_BASE_URL)"),
        ({"REVSYNC_ZENDESK_API_TOKEN": "t"}, "REVSYNC_ZENDESK_EMAIL"),
        ({"REVSYNC_ZENDESK_EMAIL": "a@b.io"}, "REVSYNC_ZENDESK_API_TOKEN"),
    ],
)
def test_missing_settings_name_their_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        connection_from_env("zendesk", env)
    assert names in str(caught.value)


def test_the_token_goes_as_email_slash_token_basic_auth() -> None:
    conn = connection_from_env("zendesk", {**ENV, "REVSYNC_ZENDESK_SUBDOMAIN": "acme"})
    auth = build_auth(conn, provider_for("zendesk"))
    request = next(auth.auth_flow(httpx.Request("GET", "https://acme.zendesk.com/api/v2/users")))
    expected = httpx.BasicAuth("agent@acme.io/token", "tok-123456")
    assert (
        request.headers["Authorization"]
        == next(expected.auth_flow(request)).headers["Authorization"]
    )
    assert "tok-123456" not in repr(auth)


@pytest.fixture
def world(sandbox: SandboxServer) -> Iterator[World]:
    with fresh_world(sandbox, people=300) as seeded:
        yield seeded


def test_check_reads_a_user_and_the_export(sandbox: SandboxServer, world: World) -> None:
    result = check_connection(connection(sandbox))
    assert result.ok, result.lines()
    declared = provider_for("zendesk").check
    assert declared.write_probe is not None
    assert [p.name for p in result.probes] == [declared.read, declared.write_probe.name]
    assert "signed in as admin" in result.probes[1].detail
    assert "per minute" in str(result.headroom)
    paths = [e["path"] for e in sandbox.state.requests.list("zendesk")]
    assert not any(m in p for p in paths for m in ("create", "merge")), "nothing written"


def test_check_with_a_wrong_token_says_what_to_fix(sandbox: SandboxServer, world: World) -> None:
    result = check_connection(connection(sandbox, token="wrongZendeskToken999"))
    assert not result.ok
    (probe,) = result.probes
    assert "401" in probe.detail
    assert "REVSYNC_ZENDESK_API_TOKEN" in probe.detail
    assert "wrongZendeskToken999" not in "\n".join(result.lines())
