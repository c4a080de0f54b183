"""Shared plumbing for the per-tool contract sessions: control plane, deliberate bad requests.

A session records every exchange; requests that are deliberately invalid for the spec (to get
the vendor's 400) are remembered so only their answer is validated.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from openapi_harness import ContractViolation, validate_exchange, validate_response

from sandbox.server import SandboxServer

__all__ = ["Exchanges", "check_all", "control"]

Exchanges = list[tuple[httpx.Request, httpx.Response]]


def control(server: SandboxServer, method: str, path: str, body: object = None) -> object:
    response = httpx.request(method, f"{server.url}/_sandbox{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def check_all(
    spec: str,
    exchanges: Exchanges,
    server_base: str,
    *,
    bad_requests: set[int] = frozenset(),  # type: ignore[assignment]
    validate: Callable[..., None] = validate_exchange,
) -> list[str]:
    """Every violation found in `exchanges` (requests in `bad_requests`: answer only)."""
    failures: list[str] = []
    for request, response in exchanges:
        try:
            if id(request) in bad_requests:
                validate_response(spec, request, response, server_base=server_base)
            else:
                validate(spec, request, response, server_base=server_base)
        except ContractViolation as exc:
            failures.append(str(exc))
    return failures
