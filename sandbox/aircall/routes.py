"""Aircall Public API v1 over HTTP: calls, contacts, users, numbers.

Mounted under ``/aircall`` (standing in for ``https://api.aircall.io``), API under ``/v1``.
Aircall publishes no OpenAPI spec and no official Python SDK; the saved
``shared/vendor-specs/aircall.yaml`` is a THIRD-PARTY, ROUTES-ONLY SKELETON (no schemas), so
shapes here follow Aircall's public API reference. Where the skeleton disagrees (it lists
``PUT /contacts/{id}``; Aircall documents ``POST``), both are served. A gate checks basic auth
(``api_id:api_token``) or an OAuth bearer token and a per-minute budget, stamping
``X-AircallApi-Limit/-Remaining/-Reset`` on every answer.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.aircall.metadata import metadata_routes
from sandbox.aircall.store import API_ROOT, AircallData, AircallError, digits
from sandbox.credentials import (
    SANDBOX_AIRCALL_API_ID,
    SANDBOX_AIRCALL_API_TOKEN,
    SANDBOX_AIRCALL_OAUTH_TOKEN,
)
from sandbox.gate import Gate, guard, json_object
from sandbox.ratelimit import WindowLimiter
from sandbox.state import SandboxState
from sandbox.store import RecordStore

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "MAX_RECORDS",
    "aircall_app",
    "aircall_error_renderer",
]

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 50
MAX_RECORDS = 10_000


def aircall_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Aircall-shaped bodies for injected faults."""
    return {"error": message, "troubleshoot": "Retry later; contact support if it persists"}, {}


def _error(err: AircallError) -> JSONResponse:
    return JSONResponse({"error": err.error, "troubleshoot": err.troubleshoot}, err.status)


def _caller(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return "oauth" if auth[7:].strip() == SANDBOX_AIRCALL_OAUTH_TOKEN else None
    if auth[:6].lower() == "basic ":
        try:
            pair = base64.b64decode(auth[6:].strip()).decode("utf-8")
        except ValueError:
            return None
        if pair == f"{SANDBOX_AIRCALL_API_ID}:{SANDBOX_AIRCALL_API_TOKEN}":
            return "basic"
    return None


class _Gate(Gate):
    """Basic or bearer auth, then the per-minute window (one budget per company)."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _caller(dict(scope["headers"])) is None:
            body = {
                "error": "Unauthorized",
                "troubleshoot": "Check your api_id/api_token pair or your OAuth access token",
            }
            await self.reply(scope, receive, send, JSONResponse(body, 401))
            return
        limiter: WindowLimiter = self.state.limits["aircall"]
        decision = limiter.hit("company")
        reset = math.ceil(self.state.now_ms() / 1000 + decision.interval_ms / 1000)
        extra = [
            (b"x-aircallapi-limit", str(decision.max).encode()),
            (b"x-aircallapi-remaining", str(decision.remaining).encode()),
            (b"x-aircallapi-reset", str(reset).encode()),
        ]
        if not decision.allowed:
            body = {
                "error": "Too Many Requests",
                "troubleshoot": f"Rate limit of {decision.max} requests per minute reached; "
                "wait until X-AircallApi-Reset",
            }
            await self.reply(scope, receive, send, JSONResponse(body, 429), extra)
            return

        await self.forward(scope, receive, send, extra)


_guard = guard(AircallError, _error)


def _int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise AircallError(400, "Invalid parameters", f"{name} must be an integer") from exc


def _paging(request: Request, cap: int = MAX_RECORDS) -> tuple[int, int]:
    """Page and page size; a page reaching past ``cap`` records of the query is refused."""
    page = max(1, _int(request, "page", 1) or 1)
    per_page = min(MAX_PER_PAGE, max(1, _int(request, "per_page", DEFAULT_PER_PAGE) or 1))
    if page * per_page > cap:
        raise AircallError(
            400,
            "Invalid parameters",
            f"You can't fetch more than {cap} records per query. "
            "Use the from and to parameters to narrow down the query.",
        )
    return page, per_page


def _meta(request: Request, page: int, per_page: int, total: int, count: int) -> dict[str, Any]:
    def link(n: int) -> str:
        query = request.url.include_query_params(page=n, per_page=per_page).query
        return f"{API_ROOT}{request.url.path.split('/v1', 1)[1]}?{query}"

    return {
        "count": count,
        "total": total,
        "current_page": page,
        "per_page": per_page,
        "next_page_link": link(page + 1) if page * per_page < total else None,
        "previous_page_link": link(page - 1) if page > 1 else None,
    }


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        lambda _exc: AircallError(400, "Invalid JSON", "The request body must be valid JSON"),
        lambda: AircallError(400, "Invalid JSON", "The request body must be a JSON object"),
    )


def _path_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise AircallError(404, "Not found", f"No resource with id {raw}")
    return int(raw)


def _window(
    request: Request, store: RecordStore[int], page: int, per_page: int
) -> tuple[list[int], int]:
    """Keys for a page filtered by `from`/`to` on creation (UNIX s) and ordered by `order`."""
    low = _int(request, "from", None)
    high = _int(request, "to", None)
    order = request.query_params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise AircallError(400, "Invalid parameters", "order must be asc or desc")
    lo, hi = store.mtime_range(
        None if low is None else low * 1000, None if high is None else high * 1000 + 999
    )
    total = hi - lo
    start = (page - 1) * per_page
    if order == "asc":
        keys = store.keys_by_mtime(lo + start, min(hi, lo + start + per_page))
    else:
        top = hi - start
        keys = store.keys_by_mtime(max(lo, top - per_page), max(lo, top), descending=True)
    return keys, total


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> AircallData:
        return self.state.aircall

    def now_s(self) -> int:
        return self.state.now_ms() // 1000

    def _contact(self, request: Request) -> dict[str, Any]:
        rec = self.data.contacts.get(_path_id(request))
        if rec is None:
            raise AircallError(404, "Not found", "Contact not found")
        return rec

    # -- contacts --------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        page, per_page = _paging(request, self.data.max_records)
        with self.state.lock:
            keys, total = _window(request, self.data.contacts, page, per_page)
            items = [dict(self.data.contacts.get(k) or {}) for k in keys]
        return JSONResponse(
            {"contacts": items, "meta": _meta(request, page, per_page, total, len(items))}
        )

    async def search_contacts(self, request: Request) -> Response:
        page, per_page = _paging(request, self.data.max_records)
        q = request.query_params
        if not q.get("phone_number") and not q.get("email"):
            raise AircallError(400, "Invalid parameters", "phone_number or email is required")
        with self.state.lock:
            ids = self.data.search_contacts(q.get("phone_number"), q.get("email"))
            if request.query_params.get("order") == "desc":
                ids.reverse()
            total = len(ids)
            part = ids[(page - 1) * per_page : page * per_page]
            items = [dict(self.data.contacts.get(k) or {}) for k in part]
        return JSONResponse(
            {"contacts": items, "meta": _meta(request, page, per_page, total, len(items))}
        )

    async def get_contact(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse({"contact": dict(self._contact(request))})

    async def create_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.create_contact(body, self.now_s())
            return JSONResponse({"contact": dict(rec)}, 201)

    async def update_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self._contact(request)
            self.data.update_contact(rec, body, self.now_s())
            return JSONResponse({"contact": dict(rec)})

    async def add_phone(self, request: Request) -> Response:
        return await self._add_detail(request, "phone_numbers")

    async def add_email(self, request: Request) -> Response:
        return await self._add_detail(request, "emails")

    async def _add_detail(self, request: Request, kind: str) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self._contact(request)
            self.data.add_detail(rec, kind, body, self.now_s())
            return JSONResponse({"contact": dict(rec)}, 201)

    async def delete_contact(self, request: Request) -> Response:
        with self.state.lock:
            self.data.delete_contact(self._contact(request))
        return Response(status_code=204)

    # -- calls -----------------------------------------------------------------------------

    async def list_calls(self, request: Request) -> Response:
        page, per_page = _paging(request, self.data.max_records)
        with self.state.lock:
            keys, total = _window(request, self.data.calls, page, per_page)
            items = [self.data.call_json(self.data.calls.get(k) or {}) for k in keys]
        return JSONResponse(
            {"calls": items, "meta": _meta(request, page, per_page, total, len(items))}
        )

    async def search_calls(self, request: Request) -> Response:
        page, per_page = _paging(request, self.data.max_records)
        q = request.query_params
        direction, phone = q.get("direction"), digits(q.get("phone_number") or "")
        user_id = _int(request, "user_id", None)
        low, high = _int(request, "from", None), _int(request, "to", None)
        with self.state.lock:
            store = self.data.calls
            lo, hi = store.mtime_range(
                None if low is None else low * 1000, None if high is None else high * 1000 + 999
            )
            found = []
            for key in store.keys_by_mtime(lo, hi, descending=q.get("order") == "desc"):
                call = store.get(key)
                if call is None:
                    continue
                if direction and call["direction"] != direction:
                    continue
                if phone and digits(call["raw_digits"]) != phone:
                    continue
                if user_id is not None and call.get("_user_id") != user_id:
                    continue
                found.append(call)
            total = len(found)
            items = [self.data.call_json(c) for c in found[(page - 1) * per_page : page * per_page]]
        return JSONResponse(
            {"calls": items, "meta": _meta(request, page, per_page, total, len(items))}
        )

    async def get_call(self, request: Request) -> Response:
        with self.state.lock:
            call = self.data.calls.get(_path_id(request))
            if call is None:
                raise AircallError(404, "Not found", "Call not found")
            return JSONResponse({"call": self.data.call_json(call)})

    # -- users and numbers -----------------------------------------------------------------

    async def list_users(self, request: Request) -> Response:
        return self._list_plain(request, self.data.users, "users")

    async def list_numbers(self, request: Request) -> Response:
        return self._list_plain(request, self.data.numbers, "numbers")

    def _list_plain(
        self, request: Request, table: dict[int, dict[str, Any]], name: str
    ) -> Response:
        page, per_page = _paging(request, self.data.max_records)
        with self.state.lock:
            ids = sorted(table)
            items = [dict(table[i]) for i in ids[(page - 1) * per_page : page * per_page]]
        meta = _meta(request, page, per_page, len(ids), len(items))
        return JSONResponse({name: items, "meta": meta})

    async def get_user(self, request: Request) -> Response:
        with self.state.lock:
            user = self.data.users.get(_path_id(request))
        if user is None:
            raise AircallError(404, "Not found", "User not found")
        return JSONResponse({"user": dict(user)})

    async def get_number(self, request: Request) -> Response:
        with self.state.lock:
            number = self.data.numbers.get(_path_id(request))
        if number is None:
            raise AircallError(404, "Not found", "Number not found")
        return JSONResponse({"number": dict(number)})


def aircall_app(state: SandboxState) -> ASGIApp:
    """The Aircall sub-application, to mount at ``/aircall``."""
    r = _Routes(state)
    v = "/v1"
    router = Router(
        routes=[
            Route(v + "/contacts", _guard(r.list_contacts), methods=["GET"]),
            Route(v + "/contacts", _guard(r.create_contact), methods=["POST"]),
            Route(v + "/contacts/search", _guard(r.search_contacts), methods=["GET"]),
            Route(v + "/contacts/{id}", _guard(r.get_contact), methods=["GET"]),
            Route(v + "/contacts/{id}", _guard(r.update_contact), methods=["POST", "PUT"]),
            Route(v + "/contacts/{id}", _guard(r.delete_contact), methods=["DELETE"]),
            Route(v + "/contacts/{id}/phone_details", _guard(r.add_phone), methods=["POST"]),
            Route(v + "/contacts/{id}/email_details", _guard(r.add_email), methods=["POST"]),
            Route(v + "/calls", _guard(r.list_calls), methods=["GET"]),
            Route(v + "/calls/search", _guard(r.search_calls), methods=["GET"]),
            Route(v + "/calls/{id}", _guard(r.get_call), methods=["GET"]),
            Route(v + "/users", _guard(r.list_users), methods=["GET"]),
            Route(v + "/users/{id}", _guard(r.get_user), methods=["GET"]),
            Route(v + "/numbers", _guard(r.list_numbers), methods=["GET"]),
            Route(v + "/numbers/{id}", _guard(r.get_number), methods=["GET"]),
            *metadata_routes(state, v),
        ]
    )
    return _Gate(router, state)
