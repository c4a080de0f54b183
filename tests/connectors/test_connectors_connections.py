"""Connections from the environment, and the Mailchimp data-center rule."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.connections import Connection, base_url_from_secret, connection_from_env
from connectors.errors import ConfigError


def test_hubspot_from_env_defaults_to_the_real_host() -> None:
    conn = connection_from_env("hubspot", {"REVSYNC_HUBSPOT_ACCESS_TOKEN": "pat-1"})
    assert conn.base_url == "https://api.hubapi.com"
    assert conn.cdk_config() == {"base_url": "https://api.hubapi.com", "access_token": "pat-1"}


def test_mailchimp_base_url_comes_from_the_key_suffix() -> None:
    env = {"REVSYNC_MAILCHIMP_API_KEY": "abcdef-us21", "REVSYNC_MAILCHIMP_LIST_ID": "L9"}
    conn = connection_from_env("mailchimp", env)
    assert conn.base_url == "https://us21.api.mailchimp.com/3.0"
    assert conn.options == {"list_id": "L9"}
    assert conn.cdk_config()["api_key"] == "abcdef-us21"


def test_explicit_base_url_wins_and_loses_its_trailing_slash() -> None:
    env = {
        "REVSYNC_MAILCHIMP_API_KEY": "abcdef-us21",
        "REVSYNC_MAILCHIMP_LIST_ID": "L9",
        "REVSYNC_MAILCHIMP_BASE_URL": "http://127.0.0.1:9999/mailchimp/3.0/",
    }
    assert connection_from_env("mailchimp", env).base_url == "http://127.0.0.1:9999/mailchimp/3.0"


@pytest.mark.parametrize(
    ("tool", "env", "names"),
    [
        ("hubspot", {}, "REVSYNC_HUBSPOT_ACCESS_TOKEN"),
        ("mailchimp", {"REVSYNC_MAILCHIMP_API_KEY": "x-us1"}, "REVSYNC_MAILCHIMP_LIST_ID"),
        ("mailchimp", {"REVSYNC_MAILCHIMP_LIST_ID": "L"}, "REVSYNC_MAILCHIMP_API_KEY"),
    ],
)
def test_missing_settings_name_the_variable(tool: str, env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        connection_from_env(tool, env)


def test_key_without_data_center_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="data-center") as caught:
        base_url_from_secret("mailchimp", {"api_key": SecretStr("nodatacenterkey")})
    assert "nodatacenterkey" not in str(caught.value)


def test_unknown_tool() -> None:
    with pytest.raises(KeyError):
        connection_from_env("nosuchtool", {})


def test_connection_repr_hides_secrets() -> None:
    conn = connection_from_env("hubspot", {"REVSYNC_HUBSPOT_ACCESS_TOKEN": "pat-hidden"})
    assert "pat-hidden" not in repr(conn)
    assert "pat-hidden" not in str(conn)
    assert "pat-hidden" not in conn.model_dump_json()
    assert isinstance(conn, Connection)
