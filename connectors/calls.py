"""Sending one write call and turning whole-call failures into ``WriteFailed``.

Shared by the writers so the wording and the classification of a failed call are the same for
every tool; the retry policy has already run inside the client by the time we look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors.errors import ErrorClass, WriteFailed, classify_response, scrub, vendor_message
from connectors.providers import provider_for

__all__ = ["json_or_none", "send_for_json", "send_json", "write_failed"]


def send_json(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any,
    *,
    tool: str,
    params: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one JSON call; transport failures that outlived retries become ``WriteFailed``.

    ``params`` go in the query string, which never reaches a message or a log (it may hold an
    email address)."""
    try:
        return client.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise WriteFailed(
            f"{tool} did not answer after retries ({type(exc).__name__}); try again later",
            tool=tool,
            request=f"{method} {path}",
            error_class=ErrorClass.RETRY,
        ) from None


def write_failed(
    response: httpx.Response,
    *,
    tool: str,
    hints: Mapping[int, str] | None = None,
    secrets: Sequence[str] = (),
) -> WriteFailed:
    """A ``WriteFailed`` naming what to do, from a response the writer cannot use."""
    rules = provider_for(tool).errors
    error_class = classify_response(response, rules)
    hint = (hints or {}).get(response.status_code)
    if hint is None:
        hint = {
            ErrorClass.RATE_LIMITED: "rate limited after every retry; try again later",
            ErrorClass.RETRY: "the vendor kept failing after every retry; try again later",
        }.get(error_class, "the vendor refused the call")
    return WriteFailed(
        f"{tool} write failed: {hint}: {scrub(vendor_message(response, rules=rules), secrets)}",
        tool=tool,
        request=f"{response.request.method} {response.request.url.path}",
        status=response.status_code,
        error_class=error_class,
    )


def send_for_json(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any,
    *,
    tool: str,
    hints: Mapping[int, str] | None = None,
    secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """One call that must answer 200 with a JSON object; anything else is ``WriteFailed``."""
    response = send_json(client, method, path, body, tool=tool)
    if response.status_code != 200:
        raise write_failed(response, tool=tool, hints=hints, secrets=secrets)
    data: dict[str, Any] = response.json()
    return data


def json_or_none(response: httpx.Response) -> Any:
    """The answer's JSON body, None when it has none or it does not parse."""
    try:
        return response.json()
    except ValueError:
        return None
