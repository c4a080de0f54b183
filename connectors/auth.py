"""Credentials as ``httpx.Auth`` so writers and readers never touch tokens themselves.

The secret stays a ``SecretStr`` until the moment a header is built; the objects' reprs never
show it.
"""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx
from pydantic import SecretStr

__all__ = ["ApiKeyBasicAuth", "BearerAuth"]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` (HubSpot private-app and OAuth access tokens)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=**********)"


class ApiKeyBasicAuth(httpx.Auth):
    """HTTP Basic with the API key as password and any username (Mailchimp)."""

    def __init__(self, api_key: SecretStr, username: str = "revsync") -> None:
        self._api_key = api_key
        self._username = username

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw = f"{self._username}:{self._api_key.get_secret_value()}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(raw).decode('ascii')}"
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyBasicAuth(username={self._username!r}, api_key=**********)"
