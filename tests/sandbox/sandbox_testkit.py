"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN, SANDBOX_MAILCHIMP_KEY
from sandbox.server import SandboxServer

HS_AUTH = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
MC_AUTH = ("anystring", SANDBOX_MAILCHIMP_KEY)


def control(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{server.url}/_sandbox{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def fresh(server: SandboxServer) -> None:
    control(server, "POST", "/reset")
