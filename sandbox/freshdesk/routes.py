"""Freshdesk API v2 over HTTP: contacts, companies (and their name autocomplete), tickets,
search, merge, bulk update.

Mounted under ``/freshdesk`` (standing in for ``https://{domain}.freshdesk.com``), API under
``/api/v2``. The saved spec (``shared/vendor-specs/freshdesk.yaml``) is a THIRD-PARTY
RECONSTRUCTION from the public docs (API Evangelist), not a Freshworks file; where it and the
documented behaviour differ (204 on contact merge, ``_updated_since``), the docs win and the
Quirks section of ``sandbox/README.md`` says so. A gate checks basic auth (API key as username,
any password) and the per-minute budget, stamping ``X-RateLimit-*`` on every answer.
"""

from __future__ import annotations

import base64
import bisect
import math
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY
from sandbox.freshdesk.metadata import metadata_routes
from sandbox.freshdesk.store import FieldError, FreshdeskData, FreshdeskError, parse_since
from sandbox.gate import Gate, guard, json_object
from sandbox.ratelimit import WindowLimiter
from sandbox.state import SandboxState

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "freshdesk_app",
    "freshdesk_error_renderer",
]

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
SEARCH_PAGE = 30
SEARCH_MAX_PAGES = 10
AUTOCOMPLETE_MAX = 25  # chosen: Freshdesk documents no cap on the name autocomplete
_RECENT_MS = 30 * 86_400_000
_AUTH = {
    "code": "invalid_credentials",
    "message": "You have to be logged in to perform this action.",
}


def freshdesk_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Freshdesk-shaped bodies for injected faults."""
    if status == 429:
        return {"code": "too_many_requests", "message": message}, {}
    return {"code": "internal_error", "message": message}, {}


def _json_error(err: FreshdeskError) -> Response:
    body = err.body()
    if body is None:
        return Response(status_code=err.status)
    return JSONResponse(body, err.status)


def _api_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
    except ValueError:
        return None
    return decoded.split(":", 1)[0]


class _Gate(Gate):
    """Basic auth, then the per-minute window; every answer carries `X-RateLimit-*`."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _api_key(dict(scope["headers"]))
        if key != SANDBOX_FRESHDESK_API_KEY:
            await self.reply(scope, receive, send, JSONResponse(_AUTH, 401))
            return
        limiter: WindowLimiter = self.state.limits["freshdesk"]
        decision = limiter.hit(key)
        headers = [
            (b"x-ratelimit-total", str(decision.max).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-used-currentrequest", b"1" if decision.allowed else b"0"),
        ]
        if not decision.allowed:
            retry = max(1, math.ceil(decision.interval_ms / 1000))
            body = {
                "code": "too_many_requests",
                "message": f"You have exceeded the limit of {decision.max} requests per minute",
            }
            await self.reply(
                scope,
                receive,
                send,
                JSONResponse(body, 429),
                [*headers, (b"retry-after", str(retry).encode())],
            )
            return

        await self.forward(scope, receive, send, headers)


_guard = guard(FreshdeskError, _json_error)


def _invalid(field: str, message: str, code: str = "invalid_value") -> FreshdeskError:
    return FreshdeskError(400, [FieldError(field, message, code)])


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        lambda _exc: FreshdeskError(
            400, code="invalid_json", message="Request body has invalid json format"
        ),
    )


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        bound = f" less than or equal to {maximum}" if maximum is not None else ""
        raise _invalid(name, f"It should be a Positive Integer{bound}")
    return int(raw)


def _paging(request: Request) -> tuple[int, int]:
    return (
        _int_param(request, "page", 1),
        _int_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    )


def _page_response(request: Request, items: list[dict[str, Any]], has_more: bool) -> Response:
    response = JSONResponse(items)
    if has_more:
        page = int(request.query_params.get("page") or 1)
        url = str(request.url.include_query_params(page=page + 1))
        response.headers["link"] = f'<{url}>; rel="next"'
    return response


def _path_id(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not raw.isdigit():
        raise FreshdeskError(404)
    return int(raw)


_CLAUSE = re.compile(r"\s*(\w+)\s*:\s*([<>]?)\s*('(?:[^']*)'|-?\d+|null|true|false)\s*")


def _parse_query(raw: str) -> list[list[tuple[str, str, Any]]]:
    """Freshdesk search query: `"field:'v' AND field:>'2024-01-01' OR ..."` → OR of ANDs."""
    text = raw.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise _invalid(
            "query", "It should be a valid search query wrapped in double quotes", "invalid_value"
        )
    text = text[1:-1]
    if len(text) > 512:
        raise _invalid("query", "It should not be more than 512 characters")
    groups: list[list[tuple[str, str, Any]]] = []
    for part in re.split(r"\s+OR\s+", text):
        clauses = []
        for piece in re.split(r"\s+AND\s+", part.strip("() ")):
            m = _CLAUSE.fullmatch(piece.strip("() "))
            if m is None:
                raise _invalid("query", f"Invalid query clause: {piece.strip()}", "invalid_value")
            value: Any = m.group(3)
            if value.startswith("'"):
                value = value[1:-1]
            elif value == "null":
                value = None
            elif value in ("true", "false"):
                value = value == "true"
            else:
                value = int(value)
            clauses.append((m.group(1), m.group(2), value))
        groups.append(clauses)
    return groups


def _clause_ok(
    data: FreshdeskData, rec: dict[str, Any], mtime: int, clause: tuple[str, str, Any]
) -> bool:
    name, op, value = clause
    if name in ("created_at", "updated_at"):
        have = rec["_created_ms"] if name == "created_at" else mtime
        try:
            bound = parse_since(str(value))
        except ValueError:
            return False
        if op == ">":
            return have >= bound
        if op == "<":
            return have <= bound + 86_399_999
        return bound <= have <= bound + 86_399_999
    if name == "email":
        emails = [rec.get("email") or "", *rec.get("other_emails", [])]
        return str(value).lower() in [e.lower() for e in emails if e]
    have_value = rec.get(name, rec.get("custom_fields", {}).get(name))
    if isinstance(have_value, list):
        return value in have_value
    if isinstance(have_value, str) and isinstance(value, str):
        return have_value.lower() == value.lower()
    return bool(have_value == value)


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> FreshdeskData:
        return self.state.freshdesk

    # -- contacts --------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        page, per_page = _paging(request)
        q = request.query_params
        data = self.data
        with self.state.lock:
            store = data.contacts
            if q.get("email"):
                rec = data.contact_by_email(q["email"])
                return JSONResponse([data.to_json(store, rec)] if rec and page == 1 else [])
            since = q.get("_updated_since")
            state_filter = q.get("state")
            filters = {k: q[k] for k in ("phone", "mobile", "company_id") if q.get(k)}
            if since is not None:
                try:
                    low = parse_since(since)
                except ValueError as exc:
                    raise _invalid(
                        "_updated_since",
                        "It should be in the 'combined date and time ISO8601' format",
                    ) from exc
                lo, hi = store.mtime_range(low, None)
                keys = store.keys_by_mtime(lo, hi)
            else:
                keys = list(store.iter_keys()) if filters or state_filter else []
            if since is None and not filters and not state_filter:
                start = (page - 1) * per_page
                if data.deleted_contacts == 0:
                    window = store.page_by_creation(start, per_page + 1)
                else:  # soft-deleted contacts are rare; skip them with a scan
                    visible = [k for k in store.iter_keys() if not store.get(k)["deleted"]]  # type: ignore[index]
                    window = visible[start : start + per_page + 1]
                items: list[dict[str, Any] | None] = [store.get(k) for k in window]
            else:
                rows: list[dict[str, Any]] = []
                for k in keys:
                    rec = store.get(k)
                    if rec is None:
                        continue
                    if state_filter == "deleted" and not rec["deleted"]:
                        continue
                    if state_filter != "deleted" and rec["deleted"]:
                        continue
                    if any(str(rec.get(f)) != v for f, v in filters.items()):
                        continue
                    rows.append(rec)
                start = (page - 1) * per_page
                items = list(rows[start : start + per_page + 1])
            out = [data.to_json(store, r) for r in items[:per_page] if r is not None]
        return _page_response(request, out, len(items) > per_page)

    async def get_contact(self, request: Request) -> Response:
        key = _path_id(request, "contact_id")
        with self.state.lock:
            rec = self.data.contacts.get(key)
            if rec is None:
                raise FreshdeskError(404)
            return JSONResponse(self.data.to_json(self.data.contacts, rec))

    async def create_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.create_contact(body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.contacts, rec), 201)

    async def update_contact(self, request: Request) -> Response:
        key = _path_id(request, "contact_id")
        body = await _body(request)
        with self.state.lock:
            rec = self.data.contacts.get(key)
            if rec is None or rec["deleted"]:
                raise FreshdeskError(404)
            self.data.update_contact(rec, body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.contacts, rec))

    async def delete_contact(self, request: Request) -> Response:
        key = _path_id(request, "contact_id")
        with self.state.lock:
            rec = self.data.contacts.get(key)
            if rec is None or rec["deleted"]:
                raise FreshdeskError(404)
            self.data.delete_contact(rec, self.state.now_ms())
        return Response(status_code=204)

    async def merge_contacts(self, request: Request) -> Response:
        body = await _body(request)
        primary_id = body.get("primary_contact_id")
        secondary_ids = body.get("secondary_contact_ids")
        if not isinstance(primary_id, int):
            raise _invalid(
                "primary_contact_id", "It should be a/an Positive Integer", "missing_field"
            )
        if not isinstance(secondary_ids, list) or not secondary_ids:
            raise _invalid("secondary_contact_ids", "It should be a/an Array", "missing_field")
        with self.state.lock:
            primary = self.data.contacts.get(primary_id)
            if primary is None or primary["deleted"]:
                raise _invalid(
                    "primary_contact_id",
                    "There is no contact matching the given primary_contact_id",
                )
            secondaries = []
            for sid in secondary_ids:
                sec = self.data.contacts.get(sid) if isinstance(sid, int) else None
                if sec is None or sid == primary_id:
                    raise _invalid(
                        "secondary_contact_ids", f"There is no contact matching the given id {sid}"
                    )
                secondaries.append(sec)
            self.data.merge_contacts(primary, secondaries, self.state.now_ms())
        return Response(status_code=204)

    async def search_contacts(self, request: Request) -> Response:
        return await self._search(request, "contacts")

    async def search_companies(self, request: Request) -> Response:
        return await self._search(request, "companies")

    async def search_tickets(self, request: Request) -> Response:
        return await self._search(request, "tickets")

    async def _search(self, request: Request, kind: str) -> Response:
        raw = request.query_params.get("query")
        if raw is None:
            raise _invalid(
                "query", "It should not be blank as this is a mandatory field", "missing_field"
            )
        page = _int_param(request, "page", 1)
        if page > SEARCH_MAX_PAGES:
            raise _invalid(
                "page", f"It should be a Positive Integer less than or equal to {SEARCH_MAX_PAGES}"
            )
        groups = _parse_query(raw)
        data = self.data
        store = {"contacts": data.contacts, "companies": data.companies, "tickets": data.tickets}[
            kind
        ]
        with self.state.lock:
            only_email = [c for g in groups for c in g]
            if kind == "contacts" and all(c[0] == "email" and not c[1] for c in only_email):
                recs = [data.contact_by_email(str(c[2])) for c in only_email]
                seen: dict[int, dict[str, Any]] = {r["id"]: r for r in recs if r is not None}
                matched = list(seen.values())
            else:
                matched = []
                for key in store.iter_keys():
                    rec = store.get(key)
                    if rec is None or rec.get("deleted"):
                        continue
                    mtime = store.mtime(key)
                    if any(all(_clause_ok(data, rec, mtime, c) for c in g) for g in groups):
                        matched.append(rec)
            total = len(matched)
            start = (page - 1) * SEARCH_PAGE
            results = [data.to_json(store, r) for r in matched[start : start + SEARCH_PAGE]]
        return JSONResponse({"results": results, "total": total})

    # -- companies -------------------------------------------------------------------------

    async def list_companies(self, request: Request) -> Response:
        page, per_page = _paging(request)
        with self.state.lock:
            store = self.data.companies
            keys = store.page_by_creation((page - 1) * per_page, per_page + 1)
            out = [self.data.to_json(store, store.get(k)) for k in keys[:per_page]]  # type: ignore[arg-type]
        return _page_response(request, out, len(keys) > per_page)

    async def autocomplete_companies(self, request: Request) -> Response:
        """Companies whose name, or a word of it, starts with ``name`` (case-blind; "Acme
        Corporation" for "ac" or "corp", not for "cme"), as ``{companies: [{id, name}]}``:
        Freshdesk's name search, the only company lookup by name."""
        name = (request.query_params.get("name") or "").strip().lower()
        if not name:
            raise _invalid(
                "name", "It should not be blank as this is a mandatory field", "missing_field"
            )
        with self.state.lock:
            store = self.data.companies
            found = []
            for key in store.iter_keys():
                rec = store.get(key)
                if rec is not None and _name_matches(str(rec["name"]), name):
                    found.append({"id": rec["id"], "name": rec["name"]})
        return JSONResponse({"companies": found[:AUTOCOMPLETE_MAX]})

    async def get_company(self, request: Request) -> Response:
        key = _path_id(request, "company_id")
        with self.state.lock:
            rec = self.data.companies.get(key)
            if rec is None:
                raise FreshdeskError(404)
            return JSONResponse(self.data.to_json(self.data.companies, rec))

    async def create_company(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.create_company(body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.companies, rec), 201)

    async def update_company(self, request: Request) -> Response:
        key = _path_id(request, "company_id")
        body = await _body(request)
        with self.state.lock:
            rec = self.data.companies.get(key)
            if rec is None:
                raise FreshdeskError(404)
            self.data.update_company(rec, body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.companies, rec))

    async def delete_company(self, request: Request) -> Response:
        key = _path_id(request, "company_id")
        with self.state.lock:
            rec = self.data.companies.get(key)
            if rec is None:
                raise FreshdeskError(404)
            self.data.delete_company(rec)
        return Response(status_code=204)

    # -- tickets ---------------------------------------------------------------------------

    async def list_tickets(self, request: Request) -> Response:
        page, per_page = _paging(request)
        q = request.query_params
        order_by = q.get("order_by", "created_at")
        order_type = q.get("order_type", "desc")
        if order_by not in ("created_at", "due_by", "updated_at", "status"):
            raise _invalid(
                "order_by",
                "It should be one of these values: 'created_at,due_by,updated_at,status'",
            )
        if order_type not in ("asc", "desc"):
            raise _invalid("order_type", "It should be one of these values: 'asc,desc'")
        data = self.data
        store = data.tickets
        start = (page - 1) * per_page
        with self.state.lock:
            if q.get("updated_since") is not None:
                try:
                    low = parse_since(q["updated_since"])
                except ValueError as exc:
                    raise _invalid(
                        "updated_since",
                        "It should be in the 'combined date and time ISO8601' format",
                    ) from exc
            else:
                low = None
            requester = q.get("requester_id")
            email = q.get("email")
            if email:
                found = data.contact_by_email(email)
                requester = str(found["id"]) if found else "-1"
            if low is not None and order_by == "updated_at" and not requester:
                lo, hi = store.mtime_range(low, None)
                if order_type == "asc":
                    keys = store.keys_by_mtime(lo + start, min(hi, lo + start + per_page + 1))
                else:
                    top = hi - start
                    keys = store.keys_by_mtime(
                        max(lo, top - per_page - 1), max(lo, top), descending=True
                    )
                rows: list[dict[str, Any] | None] = [store.get(k) for k in keys]
            elif low is None and order_by == "created_at" and not requester:
                cutoff = self.state.now_ms() - _RECENT_MS
                idx = data.ticket_created.items
                first = _first_at_or_after(idx, cutoff)
                if order_type == "desc":
                    top = len(idx) - start
                    part = idx[max(first, top - per_page - 1) : max(first, top)][::-1]
                else:
                    part = idx[first + start : first + start + per_page + 1]
                rows = [store.get(k) for _, k in part]
            else:
                scanned = self._scan_tickets(low, requester, order_by, order_type)
                rows = list(scanned[start : start + per_page + 1])
            stats = "stats" in q.get("include", "").split(",")
            out = [data.to_json(store, r, stats=stats) for r in rows[:per_page] if r is not None]
        return _page_response(request, out, len(rows) > per_page)

    def _scan_tickets(
        self, low: int | None, requester: str | None, order_by: str, order_type: str
    ) -> list[dict[str, Any]]:
        store = self.data.tickets
        cutoff = self.state.now_ms() - _RECENT_MS
        rows = []
        for key in store.iter_keys():
            rec = store.get(key)
            if rec is None:
                continue
            if requester and str(rec["requester_id"]) != requester:
                continue
            if low is not None and store.mtime(key) < low:
                continue
            if low is None and rec["_created_ms"] < cutoff:
                continue
            rows.append(rec)

        def sort_key(rec: dict[str, Any]) -> Any:
            if order_by == "updated_at":
                return (store.mtime(rec["id"]), rec["id"])
            if order_by == "created_at":
                return (rec["_created_ms"], rec["id"])
            return (rec[order_by], rec["id"])

        rows.sort(key=sort_key, reverse=order_type == "desc")
        return rows

    async def get_ticket(self, request: Request) -> Response:
        key = _path_id(request, "ticket_id")
        include = request.query_params.get("include", "")
        with self.state.lock:
            rec = self.data.tickets.get(key)
            if rec is None:
                raise FreshdeskError(404)
            out = self.data.to_json(self.data.tickets, rec, stats="stats" in include.split(","))
            if "requester" in include.split(","):
                who = self.data.contacts.get(rec["requester_id"]) or {}
                out["requester"] = {
                    k: who.get(k) for k in ("id", "name", "email", "mobile", "phone")
                }
            return JSONResponse(out)

    async def create_ticket(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.create_ticket(body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.tickets, rec), 201)

    async def update_ticket(self, request: Request) -> Response:
        key = _path_id(request, "ticket_id")
        body = await _body(request)
        with self.state.lock:
            rec = self.data.tickets.get(key)
            if rec is None:
                raise FreshdeskError(404)
            self.data.update_ticket(rec, body, self.state.now_ms())
            return JSONResponse(self.data.to_json(self.data.tickets, rec))

    async def delete_ticket(self, request: Request) -> Response:
        key = _path_id(request, "ticket_id")
        with self.state.lock:
            rec = self.data.tickets.get(key)
            if rec is None:
                raise FreshdeskError(404)
            self.data.delete_ticket(rec)
        return Response(status_code=204)

    async def bulk_update(self, request: Request) -> Response:
        body = await _body(request)
        action = body.get("bulk_action")
        source: dict[str, Any] = action if isinstance(action, dict) else body
        ids = source.get("ids")
        props = source.get("properties")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            raise _invalid("ids", "It should be a/an Array of Positive Integers", "missing_field")
        if len(ids) > MAX_PER_PAGE:
            raise _invalid("ids", f"It should contain at most {MAX_PER_PAGE} elements")
        if not isinstance(props, dict) or not props:
            raise _invalid("properties", "It should be a/an key/value pair", "missing_field")
        job_id = uuid.uuid4().hex
        with self.state.lock:
            for tid in ids:
                rec = self.data.tickets.get(tid)
                if rec is not None:
                    self.data.update_ticket(rec, props, self.state.now_ms())
            self.data.jobs[job_id] = {
                "id": job_id,
                "status": "completed",
                "data": [{"id": tid, "success": tid in self.data.tickets} for tid in ids],
            }
        return JSONResponse({"job_id": job_id}, 202)

    async def get_job(self, request: Request) -> Response:
        with self.state.lock:
            job = self.data.jobs.get(request.path_params["job_id"])
        if job is None:
            raise FreshdeskError(404)
        return JSONResponse(job)


def _name_matches(name: str, typed: str) -> bool:
    lowered = name.lower()
    return lowered.startswith(typed) or any(w.startswith(typed) for w in lowered.split())


def _first_at_or_after(idx: list[tuple[int, int]], cutoff: int) -> int:
    return bisect.bisect_left(idx, (cutoff,))


def freshdesk_app(state: SandboxState) -> ASGIApp:
    """The Freshdesk sub-application, to mount at ``/freshdesk``."""
    r = _Routes(state)
    b = "/api/v2"
    router = Router(
        routes=[
            Route(b + "/contacts", _guard(r.list_contacts), methods=["GET"]),
            Route(b + "/contacts", _guard(r.create_contact), methods=["POST"]),
            Route(b + "/contacts/merge", _guard(r.merge_contacts), methods=["POST"]),
            Route(b + "/contacts/{contact_id}", _guard(r.get_contact), methods=["GET"]),
            Route(b + "/contacts/{contact_id}", _guard(r.update_contact), methods=["PUT"]),
            Route(b + "/contacts/{contact_id}", _guard(r.delete_contact), methods=["DELETE"]),
            Route(b + "/companies", _guard(r.list_companies), methods=["GET"]),
            Route(b + "/companies", _guard(r.create_company), methods=["POST"]),
            Route(b + "/companies/autocomplete", _guard(r.autocomplete_companies), methods=["GET"]),
            Route(b + "/companies/{company_id}", _guard(r.get_company), methods=["GET"]),
            Route(b + "/companies/{company_id}", _guard(r.update_company), methods=["PUT"]),
            Route(b + "/companies/{company_id}", _guard(r.delete_company), methods=["DELETE"]),
            Route(b + "/tickets", _guard(r.list_tickets), methods=["GET"]),
            Route(b + "/tickets", _guard(r.create_ticket), methods=["POST"]),
            Route(b + "/tickets/bulk_update", _guard(r.bulk_update), methods=["POST"]),
            Route(b + "/tickets/{ticket_id}", _guard(r.get_ticket), methods=["GET"]),
            Route(b + "/tickets/{ticket_id}", _guard(r.update_ticket), methods=["PUT"]),
            Route(b + "/tickets/{ticket_id}", _guard(r.delete_ticket), methods=["DELETE"]),
            Route(b + "/jobs/{job_id}", _guard(r.get_job), methods=["GET"]),
            Route(b + "/search/contacts", _guard(r.search_contacts), methods=["GET"]),
            Route(b + "/search/companies", _guard(r.search_companies), methods=["GET"]),
            Route(b + "/search/tickets", _guard(r.search_tickets), methods=["GET"]),
            *metadata_routes(b, _guard),
        ]
    )
    return _Gate(router, state)
