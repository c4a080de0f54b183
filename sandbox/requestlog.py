"""Which tool a request is for, and the log of recent requests tests read back.

The router middleware maps the mount prefix (``/hubspot``, ``/mailchimp/3.0``) to a tool name
and the vendor-relative path, which faults match against and the log reports.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TOOL_PREFIXES", "RequestLog", "RequestLogMiddleware", "tool_of"]

TOOL_PREFIXES: dict[str, str] = {
    "/hubspot": "hubspot",
    "/salesforce": "salesforce",
    "/pipedrive": "pipedrive",
    "/freshdesk": "freshdesk",
    "/intercom": "intercom",
    "/aircall": "aircall",
    "/mailchimp/3.0": "mailchimp",
    "/brevo/v3": "brevo",
    "/zendesk": "zendesk",
}
_BODY_LIMIT = 64_000


def tool_of(path: str) -> tuple[str, str] | None:
    """(tool, vendor-relative path) for a sandbox path, None for the control plane."""
    for prefix, tool in TOOL_PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return tool, path[len(prefix) :] or "/"
    return None


class RequestLog:
    """The last `maxlen` vendor requests, thread-safe."""

    def __init__(self, maxlen: int = 2000) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._items.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def list(self, tool: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._items if tool is None or e["tool"] == tool]


class RequestLogMiddleware:
    """Tags the scope with tool and vendor path, and logs each vendor request with its status."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = tool_of(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        tool, vendor_path = found
        scope["sandbox.tool"] = tool
        scope["sandbox.vendor_path"] = vendor_path
        scope["sandbox.raw_send"] = send  # the server's own send, for connection-level faults
        body_parts: list[bytes] = []
        size = 0

        async def logged_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request" and size < _BODY_LIMIT:
                chunk = message.get("body", b"")
                body_parts.append(chunk)
                size += len(chunk)
            return message

        entry: dict[str, Any] = {
            "tool": tool,
            "method": scope["method"],
            "path": unquote(vendor_path),
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        }

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, logged_receive, logged_send)
        finally:
            entry["body"] = b"".join(body_parts)[:_BODY_LIMIT].decode("utf-8", "replace")
            self.log.add(entry)
