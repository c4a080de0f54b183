"""Connector exceptions and the one error classifier.

Every failure is classified by what to do next, once, here; readers and writers use the same
:func:`classify` so a 429 means the same thing on both sides::

    ConnectorError              carries tool / stream / request ("POST /path") / key, never secrets
    ├── ConfigError             auth, scope or configuration: fatal, the message says what to fix
    ├── RateLimited             the vendor said slow down (429) and retries ran out
    ├── Retriable               transient (408, 5xx, timeout, reset) and retries ran out
    ├── RecordRejected          one record refused (400/404/409/422): record it, go on
    ├── ReadFailed              a stream read stopped; records yielded before it are good
    └── WriteFailed             a whole write call failed after retries

``ReadFailed`` and ``WriteFailed`` keep the underlying :class:`ErrorClass` in ``error_class`` so
an orchestrator can tell "fix the token" from "try again later".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConfigError",
    "ConnectorError",
    "ErrorClass",
    "ErrorRules",
    "RateLimited",
    "ReadFailed",
    "RecordRejected",
    "Retriable",
    "WriteFailed",
    "classify",
    "classify_response",
    "describe_request",
    "read_advice",
    "scrub",
    "vendor_message",
]


class ErrorClass(StrEnum):
    """What to do next about a response."""

    OK = "ok"
    FATAL = "fatal"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    SKIP = "skip"


class ConnectorError(Exception):
    """Base of every connector failure; the context fields are safe to log."""

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        stream: str | None = None,
        request: str | None = None,
        key: str | None = None,
        status: int | None = None,
        error_class: ErrorClass | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.tool = tool
        self.stream = stream
        self.request = request
        self.key = key
        self.status = status
        self.error_class = error_class

    def __str__(self) -> str:
        where = [
            f"{name}={value}"
            for name, value in (
                ("tool", self.tool),
                ("stream", self.stream),
                ("request", self.request),
                ("key", self.key),
                ("status", self.status),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(where)})" if where else self.message


class ConfigError(ConnectorError):
    """Authentication, scope or configuration problem: stop and tell the operator."""


class RateLimited(ConnectorError):
    """The vendor kept answering 429 after every retry."""


class Retriable(ConnectorError):
    """A transient failure that outlived the retry policy."""


class RecordRejected(ConnectorError):
    """The vendor refused one record; the run goes on."""


class ReadFailed(ConnectorError):
    """A stream read stopped; what was yielded before is valid."""


class WriteFailed(ConnectorError):
    """A whole write call failed after retries."""


class ErrorRules(BaseModel):
    """How one vendor's error bodies read (``connector.yaml`` ``errors:``): which fields hold
    the message, and which body says "rate limited" whatever the status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit_body: dict[str, Any] = Field(default_factory=dict)
    message_fields: tuple[str, ...] = ("message", "detail", "title", "error")

    def body_says_rate_limit(self, body: Any) -> bool:
        if not self.rate_limit_body or not isinstance(body, dict):
            return False
        return all(body.get(k) == v for k, v in self.rate_limit_body.items())


_DEFAULT_RULES = ErrorRules()

_SKIP_STATUSES = frozenset({400, 404, 409, 410, 422})
_FATAL_STATUSES = frozenset({401, 403, 405, 407})


def classify(
    status_code: int,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    rules: ErrorRules | None = None,
) -> ErrorClass:
    """Decide what to do about one response.

    408/5xx retry, 429 (or a body the connector declares a rate limit) is rate limited, 401/403
    are fatal configuration problems, record-level 4xx are skippable, any other 4xx is fatal
    because repeating it cannot help.
    """
    del headers  # the status and body decide today; headers kept for vendors that need them
    if status_code < 400:
        return ErrorClass.OK
    if status_code == 429 or (rules is not None and rules.body_says_rate_limit(body)):
        return ErrorClass.RATE_LIMITED
    if status_code == 408 or status_code >= 500:
        return ErrorClass.RETRY
    if status_code in _FATAL_STATUSES:
        return ErrorClass.FATAL
    if status_code in _SKIP_STATUSES:
        return ErrorClass.SKIP
    return ErrorClass.FATAL


def read_advice(status: int | None, error_class: ErrorClass, base_url_var: str) -> str:
    """What to do when a whole stream read stopped, by the one classification above.

    A 404 on a read is not one missing record: the endpoint itself is not there, so the base
    URL is wrong (a typo, a path missing, another region); re-running cannot help."""
    if status == 404:
        return f"check the base URL ({base_url_var}), then re-run"
    if error_class is ErrorClass.FATAL:
        return "fix the configuration, then re-run"
    return "re-run later; it resumes from the last checkpoint"


def classify_response(response: httpx.Response, rules: ErrorRules | None = None) -> ErrorClass:
    """:func:`classify` for an httpx response (reads the body only when it is an error)."""
    body: Any = None
    if response.status_code >= 400:
        body = _json_or_none(response)
    return classify(response.status_code, response.headers, body, rules)


def describe_request(request: httpx.Request) -> str:
    """``METHOD /path`` without query string or host: safe for messages and logs."""
    return f"{request.method} {request.url.path}"


def vendor_message(
    response: httpx.Response, limit: int = 300, rules: ErrorRules | None = None
) -> str:
    """The vendor's own error text, from the body fields the connector declares, trimmed.

    A body that is a list of error objects (some vendors answer ``[{"message": ...}]``), or that
    holds one under ``errors``, is read from its first object."""
    body = _json_or_none(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        fields = (rules or _DEFAULT_RULES).message_fields
        # ... or from the first object of an ``errors`` list ({"errors": [{"message": ...}]}).
        listed = body.get("errors")
        first = listed[0] if isinstance(listed, list) and listed else None
        for node in (body, first):
            if not isinstance(node, dict):
                continue
            for field in fields:
                value = node.get(field)
                if isinstance(value, str) and value:
                    return value[:limit]
    return (response.text or response.reason_phrase)[:limit]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Mask every secret in ``text``: vendors sometimes echo a credential in an error body.

    Values shorter than 6 characters are left alone: masking them would garble the message
    and no real token is that short.
    """
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, "**********")
    return text


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None
