"""The one HTTP client factory: auth, retry policy and rate limiter wired once.

Retries and limiting live in a transport wrapper, so every call made with the client (reads,
batch writes, single PUTs) gets the same 429/Retry-After handling without decorators at call
sites. Only ``METHOD /path`` and the status are ever logged: no headers, no query strings.
"""

from __future__ import annotations

import logging

import httpx

from connectors.auth import build_auth as build_declared_auth
from connectors.connections import Connection
from connectors.errors import describe_request
from connectors.providers import Provider, provider_for
from connectors.ratelimit import RateLimiter
from connectors.retry import RetrySettings, build_retrying

__all__ = ["ResilientTransport", "build_auth", "build_client"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ResilientTransport(httpx.BaseTransport):
    """Wraps a transport with the retry policy and the limiter; reads every body eagerly."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        retry: RetrySettings,
        limiter: RateLimiter | None,
        tool: str,
    ) -> None:
        self._inner = inner
        self._retry = retry
        self._limiter = limiter
        self._tool = tool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retrying = build_retrying(self._retry)
        response = retrying(self._attempt, request)
        assert isinstance(response, httpx.Response)
        return response

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            response = self._inner.handle_request(request)
            try:
                content = response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            logger.warning(
                "%s %s failed: %s", self._tool, describe_request(request), type(exc).__name__
            )
            raise
        finally:
            if self._limiter is not None:
                self._limiter.release()
        if self._limiter is not None:
            self._limiter.observe(response.status_code, response.headers)
        logger.debug("%s %s -> %s", self._tool, describe_request(request), response.status_code)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            content=content,
            request=request,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


def build_auth(conn: Connection, provider: Provider) -> httpx.Auth:
    """The ``httpx.Auth`` of the kind the provider declares, fed from the connection."""
    spec = provider.auth.model_dump(exclude={"kind"})
    return build_declared_auth(
        conn.tool,
        provider.auth.kind,
        spec,
        secrets=conn.secrets,
        options=conn.options,
        base_url=conn.base_url,
    )


def build_client(
    conn: Connection,
    provider: Provider | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    retry: RetrySettings | None = None,
    limiter: RateLimiter | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> httpx.Client:
    """An ``httpx.Client`` for one tool: base URL, auth, retries and rate limiting included.

    Pass ``transport`` (e.g. ``httpx.MockTransport``) in tests, ``retry`` with zero waits, and a
    ``limiter`` with a fake clock; by default the limiter follows the provider's policy.
    """
    provider = provider or provider_for(conn.tool)
    limiter = limiter if limiter is not None else RateLimiter(provider.rate_limit)
    wrapped = ResilientTransport(
        transport or httpx.HTTPTransport(),
        retry=retry or RetrySettings(),
        limiter=limiter,
        tool=conn.tool,
    )
    return httpx.Client(
        base_url=conn.base_url.rstrip("/") + "/",
        auth=build_auth(conn, provider),
        transport=wrapped,
        timeout=timeout,
        headers={"Accept": "application/json", "User-Agent": "revsync/0.1", **provider.headers},
    )
