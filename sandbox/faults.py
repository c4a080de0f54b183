"""The fault switchboard: make any tool misbehave on demand, the way real APIs do.

A fault matches a tool, an optional method and a path regex (searched in the vendor-relative
path), fires `count` times (None: until cleared), and is one of:

- ``429`` / ``500`` / ``503``: answer with that status and the tool's own error body
  (``retry_after`` adds a ``Retry-After`` header; ``count`` makes it a burst);
- ``reject``: refuse the request as invalid with ``status`` (default 422) and the tool's own
  error body, the way a vendor refuses a record it will not take (with ``body_contains``,
  only the requests that carry that record);
- ``slow``: wait ``delay`` seconds, then serve normally;
- ``timeout``: hold the response ``delay`` seconds (default 30, longer than any client timeout),
  then answer 504;
- ``reset``: drop the TCP connection (RST) without a response;
- ``malformed_json``: serve the whole body, but syntactically broken (a stray trailing comma);
- ``truncated_json``: serve only the first half of the body (as a cutting proxy would);
- ``partial_batch``: serve normally but tell batch handlers to fail every ``every``-th item
  (they read :func:`partial_batch_every` from the ASGI scope);
- ``expired_cursor``: the next matching request that carries a cursor / page token gets the
  vendor's expired-cursor error (requests without one pass untouched);
- ``deleted_between_reads`` / ``merged_between_reads``: serve normally, then remove (or merge
  into another record) ``record`` — or the first record of the body when ``record`` is None —
  right after it was served; fires only once a response actually contained the record;
- ``schema_drift``: every record object of matching 2xx JSON bodies gets ``add`` fields
  (``{"field": value}``, dotted paths allowed) and loses ``remove`` fields.

The middleware is generic: a tool plugs in an :data:`ErrorRenderer` for its error bodies and,
optionally, :class:`ToolFaultHooks` (module ``sandbox/<tool>/faults.py`` with
``fault_hooks(state) -> ToolFaultHooks``, found by :func:`discover_hooks`) for cursors and
record-level faults.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_CURSOR_PARAMS",
    "FAULT_KINDS",
    "ErrorRenderer",
    "Fault",
    "FaultBoard",
    "FaultMiddleware",
    "ToolFaultHooks",
    "apply_drift",
    "default_carries_cursor",
    "default_records",
    "discover_hooks",
    "fault_from_json",
    "partial_batch_every",
]

logger = logging.getLogger(__name__)

FAULT_KINDS = frozenset(
    {
        "429",
        "500",
        "503",
        "reject",
        "slow",
        "timeout",
        "reset",
        "malformed_json",
        "truncated_json",
        "partial_batch",
        "expired_cursor",
        "deleted_between_reads",
        "merged_between_reads",
        "schema_drift",
    }
)
_RECORD_KINDS = frozenset({"deleted_between_reads", "merged_between_reads"})

ErrorRenderer = Callable[[int, str], tuple[dict[str, Any], dict[str, str]]]
"""(status, message) -> (JSON body, extra headers) in the tool's own error format."""

DEFAULT_CURSOR_PARAMS = frozenset(
    {
        "after",
        "cursor",
        "starting_after",
        "page_token",
        "pageToken",
        "next_page_token",
        "page[after]",
        "nextPageToken",
        "continuation",
    }
)
"""Query parameters that carry a page token in most APIs (offset/page > first page count too)."""
_NUMERIC_PAGE_PARAMS = {"offset": 0, "start": 0, "page": 1}
_SALESFORCE_LOCATOR = re.compile(r"/query(All)?/[0-9A-Za-z]+-\d+/?$")
_LIST_KEYS = (
    "results", "members", "records", "data", "contacts", "users", "tickets", "organizations",
    "companies", "persons", "deals", "calls", "items", "leads", "conversations",
)  # fmt: skip

_SCOPE_TOOL = "sandbox.tool"
_SCOPE_PATH = "sandbox.vendor_path"
_SCOPE_PARTIAL = "sandbox.partial_batch_every"


@dataclass
class ToolFaultHooks:
    """What a tool plugs in so generic faults speak its language; every field is optional.

    - ``expired_cursor() -> (status, body, headers)``: the vendor's expired-cursor error;
    - ``carries_cursor(path, query, body) -> bool``: does this request continue a pagination
      (default: :func:`default_carries_cursor`; ``body`` is the raw request body, for APIs such
      as HubSpot search that send the cursor in a POST body);
    - ``records(json_body) -> list[dict]``: the record objects in a response body (default:
      :func:`default_records`), and ``record_id(record) -> str | None`` (default ``id``);
    - ``delete_record(path, record_id) -> bool``: remove a record as if deleted in the tool;
    - ``merge_record(path, record_id, into_id | None) -> str | None``: merge it into another
      record (the tool picks one when ``into_id`` is None); returns the survivor's id;
    - ``exempt(path) -> bool``: requests a fault aimed at no path in particular (``path``
      left ``.*``) passes over, such as an OAuth token endpoint, a service apart from the API
      the faults imitate; a fault whose ``path`` names it still fires there.
    """

    expired_cursor: Callable[[], tuple[int, dict[str, Any], dict[str, str]]] | None = None
    carries_cursor: Callable[[str, str, bytes], bool] | None = None
    records: Callable[[Any], list[dict[str, Any]]] | None = None
    record_id: Callable[[dict[str, Any]], str | None] | None = None
    delete_record: Callable[[str, str], bool] | None = None
    merge_record: Callable[[str, str, str | None], str | None] | None = None
    exempt: Callable[[str], bool] | None = None


@dataclass
class Fault:
    """One armed fault; `count` None means it fires until cleared."""

    tool: str
    kind: str
    path: str = ".*"
    method: str | None = None
    count: int | None = 1
    retry_after: int | None = None
    delay: float | None = None
    every: int = 2
    status: int | None = None
    record: str | None = None
    into: str | None = None
    add: dict[str, Any] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    body_contains: str | None = None
    """Only requests whose body holds this text (one record's email in a batch)."""
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        self._regex = re.compile(self.path)
        if self.method is not None:
            self.method = self.method.upper()
        if self.every < 1:
            raise ValueError("every must be >= 1")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1 or null")
        if not isinstance(self.add, dict) or not isinstance(self.remove, list):
            raise ValueError("add must be an object and remove a list of field names")
        if self.kind == "reject" and self.status is not None and not 400 <= self.status < 500:
            raise ValueError("a reject answers a 4xx status")
        if self.kind == "schema_drift" and not (self.add or self.remove):
            raise ValueError("schema_drift needs add and/or remove")

    def matches(
        self,
        tool: str,
        method: str,
        path: str,
        *,
        carries_cursor: bool = False,
        body: bytes = b"",
        exempt: bool = False,
    ) -> bool:
        return (
            self.tool == tool
            and not (exempt and self.path == ".*")
            and (self.method is None or self.method == method)
            and self._regex.search(path) is not None
            and (self.kind != "expired_cursor" or carries_cursor)
            and (self.body_contains is None or self.body_contains.encode() in body)
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": self.tool,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "count": self.count,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "every": self.every,
        }
        if self.kind in _RECORD_KINDS:
            out.update(record=self.record, into=self.into)
        if self.kind == "reject":
            out.update(status=self.status or 422)
        if self.body_contains is not None:
            out.update(body_contains=self.body_contains)
        if self.kind == "schema_drift":
            out.update(add=self.add, remove=self.remove)
        return out


def fault_from_json(body: Mapping[str, Any]) -> Fault:
    """A :class:`Fault` from the control plane's / CLI's JSON; ValueError/TypeError if bad."""
    if "tool" not in body or "kind" not in body:
        raise ValueError("fault needs at least tool and kind")

    def opt(name: str, cast: Callable[[Any], Any]) -> Any:
        return None if body.get(name) is None else cast(body[name])

    count = body.get("count", 1)
    return Fault(
        tool=str(body["tool"]),
        kind=str(body["kind"]),
        path=str(body.get("path") or ".*"),
        method=body.get("method"),
        count=None if count is None else int(count),
        retry_after=opt("retry_after", int),
        delay=opt("delay", float),
        every=int(body.get("every", 2)),
        status=opt("status", int),
        body_contains=opt("body_contains", str),
        record=opt("record", str),
        into=opt("into", str),
        add=dict(body.get("add") or {}),
        remove=[str(f) for f in body.get("remove") or []],
    )


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

    def armed(self, tool: str, kind: str) -> bool:
        with self._lock:
            return any(f.tool == tool and f.kind == kind for f in self._faults)

    def needs_body(self, tool: str) -> bool:
        """Whether matching a request of ``tool`` has to look at its body."""
        with self._lock:
            return any(
                f.tool == tool and (f.kind == "expired_cursor" or f.body_contains is not None)
                for f in self._faults
            )

    def take(
        self,
        tool: str,
        method: str,
        path: str,
        *,
        carries_cursor: bool = False,
        body: bytes = b"",
        exempt: bool = False,
    ) -> Fault | None:
        """The first matching fault; consumed now, except record faults (see :meth:`consume`).
        ``exempt``: the request is one only faults naming its path touch."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(
                    tool, method, path, carries_cursor=carries_cursor, body=body, exempt=exempt
                ):
                    if fault.kind not in _RECORD_KINDS:
                        self._use(fault)
                    return fault
        return None

    def consume(self, fault: Fault) -> None:
        """Count one firing of a fault that only fires once it actually applied."""
        with self._lock:
            self._use(fault)

    def _use(self, fault: Fault) -> None:
        if fault.count is None:
            return
        fault.count -= 1
        if fault.count <= 0 and fault in self._faults:
            self._faults.remove(fault)


def partial_batch_every(scope: Scope) -> int | None:
    """For batch handlers: fail every n-th item when a ``partial_batch`` fault fired."""
    value = scope.get(_SCOPE_PARTIAL)
    return int(value) if value else None


def default_carries_cursor(path: str, query: str, body: bytes) -> bool:
    """A page token in the query (`after`, `cursor`, ...), offset/start > 0, page > 1, or a
    Salesforce query locator path (`/query/01g...-2000`)."""
    if _SALESFORCE_LOCATOR.search(path):
        return True
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name in DEFAULT_CURSOR_PARAMS and value:
            return True
        first = _NUMERIC_PAGE_PARAMS.get(name)
        if first is not None and value.isdigit() and int(value) > first:
            return True
    return False


def default_records(body: Any) -> list[dict[str, Any]]:
    """Record objects in a JSON body: a top-level list, the first list under a usual key
    (`results`, `members`, `records`, `data`, ...), or the body itself when it has an `id`."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []
    for key in _LIST_KEYS:
        value = body.get(key)
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return list(value)
        if isinstance(value, dict) and "id" in value:
            return [value]
    return [body] if "id" in body else []


def _record_id(record: dict[str, Any]) -> str | None:
    value = record.get("id")
    return None if value is None else str(value)


def apply_drift(record: dict[str, Any], add: Mapping[str, Any], remove: Iterable[str]) -> None:
    """Add and remove (dotted) fields of one record object in place."""
    for dotted, value in add.items():
        *parents, leaf = dotted.split(".")
        node = record
        for name in parents:
            child = node.get(name)
            if not isinstance(child, dict):
                child = node[name] = {}
            node = child
        node[leaf] = value
    for dotted in remove:
        *parents, leaf = dotted.split(".")
        node = record
        for name in parents:
            child = node.get(name)
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.pop(leaf, None)


def discover_hooks(state: Any, tools: Iterable[str]) -> dict[str, ToolFaultHooks]:
    """Each tool's hooks from ``sandbox/<tool>/faults.py::fault_hooks(state)``, when it exists."""
    hooks: dict[str, ToolFaultHooks] = {}
    for tool in tools:
        name = f"sandbox.{tool}.faults"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in (name, f"sandbox.{tool}"):
                raise
            continue
        hooks[tool] = module.fault_hooks(state)
    return hooks


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


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _break_json(raw: bytes) -> bytes:
    """The same JSON with a stray comma before its last closing bracket: complete but invalid."""
    text = raw.rstrip()
    if text[-1:] in (b"}", b"]"):
        return text[:-1] + b"," + text[-1:]
    return raw + b"}"


@dataclass
class _Captured:
    start: Message | None = None
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    def headers(self, length: int) -> list[tuple[bytes, bytes]]:
        assert self.start is not None
        kept = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        return [*kept, (b"content-length", str(length).encode())]


class FaultMiddleware:
    """ASGI middleware applying the first matching fault for the request's tool and path.

    Expects ``scope["sandbox.tool"]`` and ``scope["sandbox.vendor_path"]`` set by the router.
    """

    def __init__(
        self,
        app: ASGIApp,
        board: FaultBoard,
        renderers: Mapping[str, ErrorRenderer] | None = None,
        hooks: Mapping[str, ToolFaultHooks] | None = None,
    ) -> None:
        self.app = app
        self.board = board
        self.renderers: Mapping[str, ErrorRenderer] = renderers or {}
        self.hooks: Mapping[str, ToolFaultHooks] = hooks or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tool = scope.get(_SCOPE_TOOL)
        if scope["type"] != "http" or not tool:
            await self.app(scope, receive, send)
            return
        path = scope.get(_SCOPE_PATH, scope["path"])
        hooks = self.hooks.get(tool, ToolFaultHooks())
        carries = False
        body = b""
        if self.board.needs_body(tool):
            body = await _read_body(receive)
            receive = _replay(body, receive)
        if self.board.armed(tool, "expired_cursor"):
            query = scope.get("query_string", b"").decode("latin-1")
            carries = (hooks.carries_cursor or default_carries_cursor)(path, query, body)
        exempt = hooks.exempt is not None and hooks.exempt(path)
        fault = self.board.take(
            tool, scope["method"], path, carries_cursor=carries, body=body, exempt=exempt
        )
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
            body_json, headers = render(status, message)
            headers = dict(headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            await _send_json(send, status, body_json, headers)
        elif kind == "reject":
            status = fault.status or 422
            body_json, headers = render(status, "The record was rejected: a field is invalid.")
            await _send_json(send, status, body_json, headers)
        elif kind == "slow":
            await asyncio.sleep(fault.delay or 1.0)
            await self.app(scope, receive, send)
        elif kind == "timeout":
            await asyncio.sleep(fault.delay if fault.delay is not None else 30.0)
            body_json, headers = render(504, "Gateway timeout")
            await _send_json(send, 504, body_json, headers)
        elif kind == "reset":
            if not _abort_connection(scope.get("sandbox.raw_send", send)):
                body_json, headers = render(502, "Connection reset")
                await _send_json(send, 502, body_json, headers)
        elif kind in ("malformed_json", "truncated_json", "schema_drift"):
            await self._rewrite(scope, receive, send, fault, hooks)
        elif kind == "expired_cursor":
            if hooks.expired_cursor is not None:
                status, body_json, headers = hooks.expired_cursor()
            else:
                status = 400
                body_json, headers = render(400, "The pagination cursor has expired.")
            await _send_json(send, status, body_json, headers)
        elif kind in _RECORD_KINDS:
            await self._between_reads(scope, receive, send, fault, hooks, path)
        else:  # partial_batch
            scope[_SCOPE_PARTIAL] = fault.every
            await self.app(scope, receive, send)

    async def _capture(self, scope: Scope, receive: Receive, forward: Send | None) -> _Captured:
        captured = _Captured()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.start = message
            elif message["type"] == "http.response.body":
                captured.chunks.append(message.get("body", b""))
            if forward is not None:
                await forward(message)

        await self.app(scope, receive, capture)
        return captured

    async def _rewrite(
        self, scope: Scope, receive: Receive, send: Send, fault: Fault, hooks: ToolFaultHooks
    ) -> None:
        captured = await self._capture(scope, receive, None)
        raw = captured.body
        if fault.kind == "truncated_json":
            raw = raw[: max(1, len(raw) // 2)]
        elif fault.kind == "malformed_json":
            raw = _break_json(raw)
        elif 200 <= captured.status < 300 and raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if parsed is not None:
                for record in (hooks.records or default_records)(parsed):
                    apply_drift(record, fault.add, fault.remove)
                raw = json.dumps(parsed).encode()
        start = {
            "type": "http.response.start",
            "status": captured.status,
            "headers": captured.headers(len(raw)),
        }
        await send(start)
        await send({"type": "http.response.body", "body": raw})

    async def _between_reads(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        fault: Fault,
        hooks: ToolFaultHooks,
        path: str,
    ) -> None:
        captured = await self._capture(scope, receive, send)
        if not 200 <= captured.status < 300:
            return
        try:
            parsed = json.loads(captured.body or b"null")
        except ValueError:
            return
        id_of = hooks.record_id or _record_id
        ids = [i for r in (hooks.records or default_records)(parsed) if (i := id_of(r))]
        target = fault.record if fault.record in ids else None
        if fault.record is None and ids:
            target = ids[0]
        if target is None:
            return
        if fault.kind == "deleted_between_reads":
            if hooks.delete_record is None:
                logger.warning("%s has no delete hook: deleted_between_reads ignored", fault.tool)
                return
            done = hooks.delete_record(path, target)
            logger.info("deleted %s record %s between reads: %s", fault.tool, target, done)
        else:
            if hooks.merge_record is None:
                logger.warning("%s has no merge hook: merged_between_reads ignored", fault.tool)
                return
            survivor = hooks.merge_record(path, target, fault.into)
            logger.info("merged %s record %s into %s between reads", fault.tool, target, survivor)
        self.board.consume(fault)
