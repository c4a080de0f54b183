"""The fault switchboard: make any tool misbehave on demand, the way real APIs do.

A fault matches a tool, an optional method and a path regex (searched in the vendor-relative
path), fires `count` times (None: until cleared), and is one of:

- ``429`` / ``500`` / ``503``: answer with that status and the tool's own error body
  (``retry_after`` adds a ``Retry-After`` header);
- ``slow``: wait ``delay`` seconds, then serve normally;
- ``timeout``: hold the response ``delay`` seconds (default 30, longer than any client timeout),
  then answer 504;
- ``reset``: drop the TCP connection (RST) without a response;
- ``malformed_json``: serve normally but cut the JSON body in half;
- ``partial_batch``: serve normally but tell batch handlers to fail every ``every``-th item
  (they read :func:`partial_batch_every` from the ASGI scope).

The middleware is generic: a tool plugs in an :data:`ErrorRenderer` for its error bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "FAULT_KINDS",
    "ErrorRenderer",
    "Fault",
    "FaultBoard",
    "FaultMiddleware",
    "partial_batch_every",
]

logger = logging.getLogger(__name__)

FAULT_KINDS = frozenset(
    {"429", "500", "503", "slow", "timeout", "reset", "malformed_json", "partial_batch"}
)

ErrorRenderer = Callable[[int, str], tuple[dict[str, Any], dict[str, str]]]
"""(status, message) -> (JSON body, extra headers) in the tool's own error format."""

_SCOPE_TOOL = "sandbox.tool"
_SCOPE_PATH = "sandbox.vendor_path"
_SCOPE_PARTIAL = "sandbox.partial_batch_every"


@dataclass
class Fault:
    """One armed fault; `remaining` None means it fires until cleared."""

    tool: str
    kind: str
    path: str = ".*"
    method: str | None = None
    count: int | None = 1
    retry_after: int | None = None
    delay: float | None = None
    every: int = 2
    status: int | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        self._regex = re.compile(self.path)
        if self.method is not None:
            self.method = self.method.upper()
        if self.every < 1:
            raise ValueError("every must be >= 1")

    def matches(self, tool: str, method: str, path: str) -> bool:
        return (
            self.tool == tool
            and (self.method is None or self.method == method)
            and self._regex.search(path) is not None
        )

    def describe(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "count": self.count,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "every": self.every,
        }


class FaultBoard:
    """Thread-safe list of armed faults; the first match wins and is consumed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(self, tool: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(tool, method, path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            del self._faults[i]
                    return fault
        return None


def partial_batch_every(scope: Scope) -> int | None:
    """For batch handlers: fail every n-th item when a ``partial_batch`` fault fired."""
    value = scope.get(_SCOPE_PARTIAL)
    return int(value) if value else None


def _default_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    return {"status": status, "message": message}, {}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str]
) -> None:
    raw = json.dumps(body).encode()
    given = {k.lower(): v for k, v in headers.items()}
    given.setdefault("content-type", "application/json;charset=utf-8")
    given["content-length"] = str(len(raw))
    hdrs = [(k.encode(), v.encode()) for k, v in given.items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


def _abort_connection(send: Send) -> bool:
    """Reset the TCP connection under uvicorn (the send callable is bound to its cycle)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            logger.debug("could not set SO_LINGER for reset fault", exc_info=True)
    transport.abort()
    return True


class FaultMiddleware:
    """ASGI middleware applying the first matching fault for the request's tool and path.

    Expects ``scope["sandbox.tool"]`` and ``scope["sandbox.vendor_path"]`` set by the router.
    """

    def __init__(
        self,
        app: ASGIApp,
        board: FaultBoard,
        renderers: Mapping[str, ErrorRenderer] | None = None,
    ) -> None:
        self.app = app
        self.board = board
        self.renderers: Mapping[str, ErrorRenderer] = renderers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tool = scope.get(_SCOPE_TOOL)
        if scope["type"] != "http" or not tool:
            await self.app(scope, receive, send)
            return
        fault = self.board.take(tool, scope["method"], scope.get(_SCOPE_PATH, scope["path"]))
        if fault is None:
            await self.app(scope, receive, send)
            return
        logger.info("injecting %s fault on %s %s", fault.kind, scope["method"], scope["path"])
        render = self.renderers.get(tool, _default_renderer)
        kind = fault.kind
        if kind in {"429", "500", "503"}:
            status = int(kind)
            message = {
                429: "You have reached your secondly limit.",
                500: "Internal server error",
                503: "Service unavailable",
            }[status]
            body, headers = render(status, message)
            headers = dict(headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            await _send_json(send, status, body, headers)
        elif kind == "slow":
            await asyncio.sleep(fault.delay or 1.0)
            await self.app(scope, receive, send)
        elif kind == "timeout":
            await asyncio.sleep(fault.delay if fault.delay is not None else 30.0)
            body, headers = render(504, "Gateway timeout")
            await _send_json(send, 504, body, headers)
        elif kind == "reset":
            if not _abort_connection(scope.get("sandbox.raw_send", send)):
                body, headers = render(502, "Connection reset")
                await _send_json(send, 502, body, headers)
        elif kind == "malformed_json":
            await self._truncated(scope, receive, send)
        else:  # partial_batch
            scope[_SCOPE_PARTIAL] = fault.every
            await self.app(scope, receive, send)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        raw = b"".join(chunks)
        cut = raw[: max(1, len(raw) // 2)]
        assert start is not None
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": cut})
