"""Auth kinds chosen by name: each builds the header or query its vendors expect, and the
OAuth2 refresh kind refreshes exactly once on a 401."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from connectors.auth import AUTH_KINDS, build_auth
from connectors.errors import ConfigError

TOKEN_URL = "https://login.example.test/services/oauth2/token"


def _auth(kind: str, spec: dict[str, str | None], **secrets: str) -> httpx.Auth:
    return build_auth(
        "acme",
        kind,
        spec,
        secrets={k: SecretStr(v) for k, v in secrets.items()},
        options={"email": "agent@acme.io"},
        base_url="https://acme.example.test",
    )


def test_every_declared_kind_is_registered() -> None:
    assert {"bearer", "basic", "api_key_header", "api_key_query", "oauth2_refresh"} <= set(
        AUTH_KINDS
    )


def test_api_key_header_and_query() -> None:
    header = _auth("api_key_header", {"header": "x-api-token", "key": "tok"}, tok="k-123456")
    sent = next(header.auth_flow(httpx.Request("GET", "https://x.test/v1/persons")))
    assert sent.headers["x-api-token"] == "k-123456"
    query = _auth("api_key_query", {"param": "api_token", "key": "tok"}, tok="k-123456")
    sent = next(query.auth_flow(httpx.Request("GET", "https://x.test/v1/persons?limit=1")))
    assert sent.url.params["api_token"] == "k-123456"
    assert sent.url.params["limit"] == "1"
    assert "k-123456" not in repr(header) + repr(query)


def test_basic_username_is_a_template_over_the_options() -> None:
    auth = _auth("basic", {"username": "{email}/token", "password": "tok"}, tok="t-123456")
    sent = next(auth.auth_flow(httpx.Request("GET", "https://x.test/api/v2/users")))
    expected = httpx.BasicAuth("agent@acme.io/token", "t-123456")
    probe = next(expected.auth_flow(httpx.Request("GET", "https://x.test/")))
    assert sent.headers["Authorization"] == probe.headers["Authorization"]


def test_unknown_kind_and_missing_secret_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown auth kind 'kerberos'"):
        _auth("kerberos", {})
    with pytest.raises(ConfigError, match="REVSYNC_ACME_TOK"):
        _auth("bearer", {"token": "tok"})


class _Vendor:
    """A token endpoint and an API that accepts only the current access token."""

    def __init__(self, valid: str) -> None:
        self.valid = valid
        self.issued = 0
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.issued += 1
            assert b"grant_type=refresh_token" in request.content
            return httpx.Response(200, json={"access_token": f"access-{self.issued}"})
        self.calls.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") == f"Bearer {self.valid}":
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json=[{"errorCode": "INVALID_SESSION_ID"}])


def _oauth_client(vendor: _Vendor) -> httpx.Client:
    auth = _auth(
        "oauth2_refresh",
        {
            "token_url": "https://login.example.test/services/oauth2/token",
            "client_id": "cid",
            "client_secret": "cs",
            "refresh_token": "rt",
        },
        cid="client-1",
        cs="secret-1",
        rt="refresh-1",
    )
    return httpx.Client(auth=auth, transport=httpx.MockTransport(vendor))


def test_oauth2_fetches_a_token_then_refreshes_once_when_it_expires() -> None:
    vendor = _Vendor(valid="access-1")
    with _oauth_client(vendor) as client:
        assert client.get("https://api.example.test/a").status_code == 200
        assert client.get("https://api.example.test/b").status_code == 200
        assert vendor.issued == 1, "the token is reused while it works"
        vendor.valid = "access-2"  # the access token expired
        assert client.get("https://api.example.test/c").status_code == 200
    assert vendor.issued == 2
    assert vendor.calls[-2:] == ["Bearer access-1", "Bearer access-2"]


def test_oauth2_gives_up_after_one_refresh() -> None:
    vendor = _Vendor(valid="never-issued")
    with _oauth_client(vendor) as client:
        response = client.get("https://api.example.test/a")
    assert response.status_code == 401, "a revoked grant is the caller's config error"
    assert vendor.issued == 2, "one token at first, one refresh on the 401, no loop"
