"""What every tool's HTTP front shares: the gate skeleton, its replies, the handler guard and
JSON body parsing. Each vendor differs only in *what* it checks and *how* errors look, so
those stay in the tool module and are passed in here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from sandbox.state import SandboxState

__all__ = ["Gate", "Handler", "RawHeaders", "guard", "json_body", "json_object"]

Handler = Callable[[Request], Awaitable[Response]]
RawHeaders = Sequence[tuple[bytes, bytes]]


class Gate:
    """ASGI front of one tool: non-HTTP scopes pass; HTTP ones go to :meth:`admit`, which
    answers itself (:meth:`reply`: 401, 429…) or serves (:meth:`forward`, stamping the
    rate-limit headers the vendor puts on every response)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.admit(scope, receive, send)

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    @staticmethod
    async def reply(
        scope: Scope, receive: Receive, send: Send, response: Response, headers: RawHeaders = ()
    ) -> None:
        response.raw_headers.extend(headers)
        await response(scope, receive, send)

    async def forward(
        self, scope: Scope, receive: Receive, send: Send, headers: RawHeaders = ()
    ) -> None:
        extra = list(headers)

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, stamped if extra else send)


def guard(
    error_type: type[Exception] | tuple[type[Exception], ...], render: Callable[[Any], Response]
) -> Callable[[Handler], Handler]:
    """Decorator: the vendor's own exception(s) become the vendor's error response
    (`render` takes an instance of `error_type`)."""

    def wrap(fn: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except error_type as err:
                return render(err)

        return wrapped

    return wrap


async def json_body(
    request: Request, invalid: Callable[[ValueError], Exception], *, empty: bytes = b"null"
) -> Any:
    """The parsed body (`empty` stands in for no body); `invalid(exc)` is raised on bad JSON."""
    raw = await request.body()
    try:
        return json.loads(raw or empty)
    except ValueError as exc:
        raise invalid(exc) from exc


async def json_object(
    request: Request,
    invalid: Callable[[ValueError], Exception],
    not_object: Callable[[], Exception] | None = None,
    *,
    empty: bytes = b"{}",
) -> dict[str, Any]:
    """A body that must be a JSON object (`not_object()`, default `invalid`, when it is not)."""
    body = await json_body(request, invalid, empty=empty)
    if not isinstance(body, dict):
        if not_object is not None:
            raise not_object()
        raise invalid(ValueError("not a JSON object"))
    return body
