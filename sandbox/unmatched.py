"""Vendor-shaped bodies for requests no route matches (unknown path, or a known path with an
unknown method), in place of the router's plain-text "Not Found" / "Method Not Allowed".

Clients parse error bodies in the vendor's format; a plain-text body breaks them before they can
report the vendor's message. Each vendor's shape lives in ``sandbox/<tool>/unmatched.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UnmatchedRenderer", "VendorUnmatched"]

UnmatchedRenderer = Callable[[int, str, str], tuple[Any, dict[str, str]]]
"""(status, method, path) -> (JSON body, extra headers)."""

_ROUTER_STATUSES = frozenset({404, 405})


class VendorUnmatched:
    """Rewrites the router's own plain-text 404/405 into the vendor's JSON error."""

    def __init__(self, app: ASGIApp, render: UnmatchedRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewriting = False

        async def wrapped(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start":
                rewriting = _is_router_reply(message)
                if rewriting:
                    await self._send_vendor(scope, message, send)
                    return
            elif rewriting:
                return  # drop the plain-text body; the vendor's was sent in full
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except HTTPException as exc:  # a bare router raises instead of answering
            if exc.status_code not in _ROUTER_STATUSES:
                raise
            headers = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
            start = {"type": "http.response.start", "status": exc.status_code, "headers": headers}
            await self._send_vendor(scope, start, send)

    async def _send_vendor(self, scope: Scope, start: Message, send: Send) -> None:
        status = int(start["status"])
        body, extra = self.render(status, str(scope["method"]), str(scope["path"]))
        raw = json.dumps(body).encode()
        headers = {"content-type": "application/json; charset=utf-8"}
        allow = _header(start, b"allow")
        if allow is not None:
            headers["allow"] = allow
        headers.update({k.lower(): v for k, v in extra.items()})
        headers["content-length"] = str(len(raw))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": raw})


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_router_reply(message: Message) -> bool:
    if int(message["status"]) not in _ROUTER_STATUSES:
        return False
    return (_header(message, b"content-type") or "").startswith("text/plain")
