"""Credentials as ``httpx.Auth``, chosen by name from a registry, so writers never touch tokens.

A connector's ``connector.yaml`` names its kind (``auth: {kind: bearer, token: access_token}``)
and which connection fields feed it; :func:`build_auth` looks the kind up in :data:`AUTH_KINDS`.
A new vendor with an unusual scheme adds one kind here with :func:`auth_kind`, never a branch
elsewhere. Secrets stay ``SecretStr`` until a header is built; no object's repr shows them.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Generator, Mapping

import httpx
from pydantic import SecretStr

from connectors.connections import fill_template
from connectors.errors import ConfigError

__all__ = [
    "AUTH_KINDS",
    "ApiKeyBasicAuth",
    "ApiKeyHeaderAuth",
    "ApiKeyQueryAuth",
    "AuthFactory",
    "BearerAuth",
    "KeyUsernameBasicAuth",
    "OAuth2RefreshAuth",
    "auth_kind",
    "build_auth",
]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` (private-app and OAuth access tokens)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=**********)"


class ApiKeyBasicAuth(httpx.Auth):
    """HTTP Basic with a key or token as password and a declared username."""

    def __init__(self, api_key: SecretStr, username: str = "revsync") -> None:
        self._api_key = api_key
        self._username = username

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw = f"{self._username}:{self._api_key.get_secret_value()}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(raw).decode('ascii')}"
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyBasicAuth(username={self._username!r}, api_key=**********)"


class KeyUsernameBasicAuth(httpx.Auth):
    """HTTP Basic with the key as username and a fixed, meaningless password (vendors that
    ignore the password and identify the caller by the key alone)."""

    def __init__(self, api_key: SecretStr, password: str = "X") -> None:
        self._api_key = api_key
        self._password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw = f"{self._api_key.get_secret_value()}:{self._password}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(raw).decode('ascii')}"
        yield request

    def __repr__(self) -> str:
        return "KeyUsernameBasicAuth(api_key=**********)"


class ApiKeyHeaderAuth(httpx.Auth):
    """The key in a named header (``x-api-token: …``, ``api-key: …``), with an optional prefix."""

    def __init__(self, header: str, key: SecretStr, prefix: str = "") -> None:
        self._header = header
        self._key = key
        self._prefix = prefix

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = f"{self._prefix}{self._key.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyHeaderAuth(header={self._header!r}, key=**********)"


class ApiKeyQueryAuth(httpx.Auth):
    """The key as a query parameter; query strings are never logged (``describe_request``)."""

    def __init__(self, param: str, key: SecretStr) -> None:
        self._param = param
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({self._param: self._key.get_secret_value()})
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyQueryAuth(param={self._param!r}, key=**********)"


class OAuth2RefreshAuth(httpx.Auth):
    """OAuth2 refresh-token grant: fetch an access token, refresh once on 401, then give up.

    The second 401 in a row is handed back to the caller, whose classifier makes it a
    configuration error ("reconnect the tool"): a revoked refresh token cannot heal itself.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: SecretStr,
        client_secret: SecretStr,
        refresh_token: SecretStr,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._access: str | None = None
        self._lock = threading.Lock()

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": self._client_id.get_secret_value(),
                "client_secret": self._client_secret.get_secret_value(),
                "refresh_token": self._refresh_token.get_secret_value(),
            },
            headers={"Accept": "application/json"},
        )

    def _take_token(self, response: httpx.Response) -> bool:
        if response.status_code >= 400:
            return False
        try:
            token = response.json().get("access_token")
        except ValueError:
            return False
        if not isinstance(token, str) or not token:
            return False
        with self._lock:
            self._access = token
        return True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._access is None:
            token_response = yield self._token_request()
            if not self._take_token(token_response):
                yield _refused(request, token_response)
                return
        request.headers["Authorization"] = f"Bearer {self._access}"
        response = yield request
        if response.status_code != 401:
            return
        token_response = yield self._token_request()
        if not self._take_token(token_response):
            return
        request.headers["Authorization"] = f"Bearer {self._access}"
        yield request

    def __repr__(self) -> str:
        return f"OAuth2RefreshAuth(token_url={self._token_url!r}, tokens=**********)"


def _refused(request: httpx.Request, token_response: httpx.Response) -> httpx.Request:
    """Send the call without a token so the vendor's own 401 reaches the classifier."""
    del token_response
    request.headers.pop("Authorization", None)
    return request


# -- the registry ----------------------------------------------------------------------------

AuthFactory = Callable[["AuthInputs"], httpx.Auth]


class AuthInputs:
    """What a factory may use: the declared field references, the connection's secrets and
    options, and the base URL (for token URLs relative to an instance)."""

    def __init__(
        self,
        tool: str,
        spec: Mapping[str, str | None],
        secrets: Mapping[str, SecretStr],
        options: Mapping[str, str],
        base_url: str,
    ) -> None:
        self.tool = tool
        self.spec = spec
        self.secrets = secrets
        self.options = options
        self.base_url = base_url

    def ref(self, key: str) -> str:
        name = self.spec.get(key)
        if not name:
            raise ConfigError(f"{self.tool}: auth needs {key!r} in connector.yaml", tool=self.tool)
        return name

    def secret(self, key: str) -> SecretStr:
        name = self.ref(key)
        if name in self.secrets:
            return self.secrets[name]
        if self.options.get(name):  # an OAuth client id may be declared a plain option
            return SecretStr(self.options[name])
        raise ConfigError(
            f"missing secret {name!r}; set REVSYNC_{self.tool.upper()}_{name.upper()}",
            tool=self.tool,
        )

    def template(self, key: str, default: str = "") -> str:
        """A declared template filled from the options and the base URL."""
        text = self.spec.get(key) or default
        return fill_template(
            text, self.tool, {"base_url": self.base_url.rstrip("/"), **self.options}
        )


AUTH_KINDS: dict[str, AuthFactory] = {}
"""Auth kind name (``connector.yaml`` ``auth.kind``) -> factory."""


def auth_kind(name: str) -> Callable[[AuthFactory], AuthFactory]:
    """Register a factory under ``name``."""

    def register(factory: AuthFactory) -> AuthFactory:
        AUTH_KINDS[name] = factory
        return factory

    return register


@auth_kind("bearer")
def _bearer(inputs: AuthInputs) -> httpx.Auth:
    return BearerAuth(inputs.secret("token"))


@auth_kind("basic")
def _basic(inputs: AuthInputs) -> httpx.Auth:
    return ApiKeyBasicAuth(inputs.secret("password"), username=inputs.template("username"))


@auth_kind("basic_key_username")
def _basic_key_username(inputs: AuthInputs) -> httpx.Auth:
    return KeyUsernameBasicAuth(
        inputs.secret("username"), password=inputs.spec.get("password") or "X"
    )


@auth_kind("api_key_header")
def _api_key_header(inputs: AuthInputs) -> httpx.Auth:
    return ApiKeyHeaderAuth(
        inputs.ref("header"), inputs.secret("key"), prefix=inputs.spec.get("prefix") or ""
    )


@auth_kind("api_key_query")
def _api_key_query(inputs: AuthInputs) -> httpx.Auth:
    return ApiKeyQueryAuth(inputs.ref("param"), inputs.secret("key"))


@auth_kind("oauth2_refresh")
def _oauth2_refresh(inputs: AuthInputs) -> httpx.Auth:
    return OAuth2RefreshAuth(
        inputs.template("token_url"),
        inputs.secret("client_id"),
        inputs.secret("client_secret"),
        inputs.secret("refresh_token"),
    )


def build_auth(
    tool: str,
    kind: str,
    spec: Mapping[str, str | None],
    *,
    secrets: Mapping[str, SecretStr],
    options: Mapping[str, str],
    base_url: str,
) -> httpx.Auth:
    """The ``httpx.Auth`` of the declared ``kind``; an unknown kind names the known ones."""
    factory = AUTH_KINDS.get(kind)
    if factory is None:
        raise ConfigError(
            f"{tool}: unknown auth kind {kind!r}; known: {', '.join(sorted(AUTH_KINDS))}",
            tool=tool,
        )
    return factory(AuthInputs(tool, spec, secrets, options, base_url))
