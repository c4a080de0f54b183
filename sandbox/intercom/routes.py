"""Intercom REST API 2.16 over HTTP: contacts (list, search, CRUD, merge), companies,
conversations (list, search, retrieve, close/open/snooze).

Mounted under ``/intercom`` (standing in for ``https://api.intercom.io``); the official
``python-intercom`` SDK works against it with only ``base_url`` changed. The spec
(``shared/vendor-specs/intercom.yaml``) is Intercom's own. A gate checks the bearer token and
the ``Intercom-Version`` header (echoed back; unknown versions are a 400), and counts requests
in 10-second windows, stamping ``X-RateLimit-Limit/-Remaining/-Reset`` on every answer.
"""

from __future__ import annotations

import base64
import math
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.gate import Gate, guard, json_object
from sandbox.intercom.errors import intercom_error_body
from sandbox.intercom.metadata import metadata_routes
from sandbox.intercom.store import (
    CONVERSATION_DATE_FIELDS,
    IntercomData,
    IntercomError,
    matches,
    validate_query,
)
from sandbox.ratelimit import WindowLimiter
from sandbox.state import SandboxState

__all__ = [
    "DEFAULT_VERSION",
    "KNOWN_VERSIONS",
    "intercom_app",
    "intercom_error_renderer",
]

DEFAULT_VERSION = "2.16"
KNOWN_VERSIONS = frozenset(
    {f"1.{i}" for i in range(5)} | {f"2.{i}" for i in range(17)} | {"Unstable", "Preview"}
)
CONTACTS_DEFAULT_PAGE = 50
CONTACTS_MAX_PAGE = 150
COMPANIES_DEFAULT_PAGE = 20
COMPANIES_MAX_PAGE = 60
SCROLL_PAGE = 15
CONVERSATIONS_DEFAULT_PAGE = 20
CONVERSATIONS_MAX_PAGE = 150


def intercom_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Intercom-shaped bodies for injected faults."""
    code = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable"}.get(
        status, "server_error"
    )
    return intercom_error_body(code, message), {}


class _Gate(Gate):
    """Bearer token, `Intercom-Version`, then the 10-second window."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if token != SANDBOX_INTERCOM_TOKEN:
            body = intercom_error_body("unauthorized", "Access Token Invalid")
            await JSONResponse(body, 401)(scope, receive, send)
            return
        version = headers.get(b"intercom-version", DEFAULT_VERSION.encode()).decode("latin-1")
        if version not in KNOWN_VERSIONS:
            body = intercom_error_body(
                "intercom_version_invalid",
                f"The requested version could not be found: {version}",
                "Intercom-Version",
            )
            await JSONResponse(body, 400)(scope, receive, send)
            return
        limiter: WindowLimiter = self.state.limits["intercom"]
        decision = limiter.hit(token)
        reset = math.ceil(self.state.now_ms() / 1000 + decision.interval_ms / 1000)
        extra = [
            (b"x-ratelimit-limit", str(decision.max).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
            (b"intercom-version", version.encode()),
            (b"x-request-id", uuid.uuid4().hex.encode()),
        ]
        if not decision.allowed:
            body = intercom_error_body(
                "rate_limit_exceeded",
                f"Exceeded rate limit of {decision.max} in {decision.interval_ms // 1000} seconds",
            )
            await self.reply(scope, receive, send, JSONResponse(body, 429), extra)
            return

        await self.forward(scope, receive, send, extra)


def _merged(survivor: str) -> Response:
    """What Intercom answers for a contact merged away: 410 and the survivor in ``Link``."""
    body = intercom_error_body(
        "contact_merged",
        "This contact has been merged. See the 'Link' header for the canonical contact.",
    )
    return JSONResponse(body, 410, headers={"Link": f'</contacts/{survivor}>; rel="canonical"'})


def _with_history(request: Request) -> bool:
    return request.query_params.get("include_merge_history", "").lower() == "true"


def _error(err: IntercomError) -> Response:
    return JSONResponse(intercom_error_body(err.code, err.message, err.field), err.status)


_guard = guard(IntercomError, _error)


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        lambda _exc: IntercomError(400, "parameter_invalid", "Invalid JSON body"),
        lambda: IntercomError(400, "parameter_invalid", "Body must be a JSON object"),
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sbx:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, value = text.split(":", 1)
        if tag != "sbx":
            raise ValueError(tag)
        return int(value)
    except ValueError as exc:
        raise IntercomError(
            400, "parameter_invalid", "starting_after is not a valid cursor", "starting_after"
        ) from exc


def _int(raw: Any, name: str, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise IntercomError(400, "parameter_invalid", f"{name} must be an integer", name) from exc
    if value < 1 or value > maximum:
        raise IntercomError(
            400, "parameter_invalid", f"{name} must be between 1 and {maximum}", name
        )
    return value


def _pages(offset: int, per_page: int, total: int) -> dict[str, Any]:
    pages: dict[str, Any] = {
        "type": "pages",
        "page": offset // per_page + 1,
        "per_page": per_page,
        "total_pages": max(1, math.ceil(total / per_page)),
    }
    if offset + per_page < total:
        pages["next"] = {
            "page": offset // per_page + 2,
            "starting_after": _cursor(offset + per_page),
        }
    return pages


def _updated_range(query: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """ms bounds when the query only constrains `updated_at` (single leaf or AND of leaves)."""
    leaves = query["value"] if query.get("operator") == "AND" else [query]
    low: int | None = None
    high: int | None = None
    for leaf in leaves:
        if leaf.get("field") != "updated_at" or leaf.get("operator") not in ("=", ">", "<"):
            return None
        day = int(leaf["value"]) - int(leaf["value"]) % 86_400
        lo, hi = {
            ">": (day + 86_400, None),
            "<": (None, day - 1),
            "=": (day, day + 86_399),
        }[leaf["operator"]]
        if lo is not None:
            low = lo * 1000 if low is None else max(low, lo * 1000)
        if hi is not None:
            top = hi * 1000 + 999
            high = top if high is None else min(high, top)
    return low, high


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> IntercomData:
        return self.state.intercom

    def now_s(self) -> int:
        return self.state.now_ms() // 1000

    def _contact(self, contact_id: str) -> dict[str, Any]:
        rec = self.data.resolve(contact_id)
        if rec is None:
            raise IntercomError(404, "not_found", "User Not Found")
        return rec

    # -- contacts --------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        q = request.query_params
        per_page = _int(q.get("per_page"), "per_page", CONTACTS_DEFAULT_PAGE, CONTACTS_MAX_PAGE)
        offset = _offset(q.get("starting_after"))
        with self.state.lock:
            store = self.data.contacts
            total = len(store)
            keys = store.page_by_creation(offset, per_page)
            history = _with_history(request)
            data = [
                self.data.contact_json(store.get(k), merge_history=history)  # type: ignore[arg-type]
                for k in keys
            ]
        return JSONResponse(
            {
                "type": "list",
                "data": data,
                "total_count": total,
                "pages": _pages(offset, per_page, total),
            }
        )

    async def search_contacts(self, request: Request) -> Response:
        body = await _body(request)
        query = body.get("query")
        validate_query(query)
        assert isinstance(query, dict)
        paging = body.get("pagination") or {}
        per_page = _int(
            paging.get("per_page"), "per_page", CONTACTS_DEFAULT_PAGE, CONTACTS_MAX_PAGE
        )
        offset = _offset(paging.get("starting_after"))
        sort = body.get("sort") or {}
        sort_field = sort.get("field")
        order = sort.get("order", "descending")
        if order not in ("ascending", "descending"):
            raise IntercomError(
                400, "invalid_sort_order", "sort order must be ascending or descending"
            )
        with self.state.lock:
            store = self.data.contacts
            bounds = _updated_range(query)
            if bounds is not None and sort_field == "updated_at":
                lo, hi = store.mtime_range(*bounds)
                total = hi - lo
                if order == "ascending":
                    keys = store.keys_by_mtime(lo + offset, min(hi, lo + offset + per_page))
                else:
                    top = hi - offset
                    keys = store.keys_by_mtime(
                        max(lo, top - per_page), max(lo, top), descending=True
                    )
                recs = [store.get(k) for k in keys]
            else:
                found = [r for r in store.values() if matches(self.data.search_view(r), query)]
                if sort_field:

                    def key(rec: dict[str, Any]) -> Any:
                        value = self.data.contact_json(rec).get(sort_field)
                        return (value is None, value if value is not None else 0)

                    found.sort(key=key, reverse=order == "descending")
                total = len(found)
                recs = list(found[offset : offset + per_page])
            history = _with_history(request)
            data = [self.data.contact_json(r, merge_history=history) for r in recs if r is not None]
        return JSONResponse(
            {
                "type": "list",
                "data": data,
                "total_count": total,
                "pages": _pages(offset, per_page, total),
            }
        )

    async def get_contact(self, request: Request) -> Response:
        contact_id = request.path_params["id"]
        with self.state.lock:
            survivor = self.data.merged_into(contact_id)
            if survivor is not None:
                return _merged(survivor)
            rec = self._contact(contact_id)
            return JSONResponse(self.data.contact_json(rec, merge_history=_with_history(request)))

    async def create_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.create_contact(body, self.now_s())
            return JSONResponse(self.data.contact_json(rec))

    async def update_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self._contact(request.path_params["id"])
            self.data.update_contact(rec, body, self.now_s())
            return JSONResponse(self.data.contact_json(rec))

    async def delete_contact(self, request: Request) -> Response:
        with self.state.lock:
            rec = self._contact(request.path_params["id"])
            self.data.delete_contact(rec)
            return JSONResponse(
                {
                    "type": "contact",
                    "id": rec["id"],
                    "external_id": rec.get("external_id"),
                    "deleted": True,
                }
            )

    async def merge_contacts(self, request: Request) -> Response:
        body = await _body(request)
        source, target = body.get("from"), body.get("into")
        if not isinstance(source, str) or not isinstance(target, str):
            raise IntercomError(400, "parameter_not_found", "from and into are required")
        with self.state.lock:
            lead = self._contact(source)
            user = self._contact(target)
            if lead["role"] != "lead":
                raise IntercomError(400, "parameter_invalid", "Merging from must be a lead", "from")
            if user["role"] != "user":
                raise IntercomError(400, "parameter_invalid", "Merging into must be a user", "into")
            self.data.merge(lead, user, self.now_s())
            return JSONResponse(self.data.contact_json(user))

    async def find_by_external_id(self, request: Request) -> Response:
        external_id = request.path_params["external_id"]
        with self.state.lock:
            key = self.data.external_ids.get(external_id)
            rec = self.data.contacts.get(key) if key else None
            survivor = self.data.merged_external_ids.get(external_id)
            if rec is None and survivor is not None:
                return _merged(survivor)
            if rec is None:
                raise IntercomError(404, "not_found", "User Not Found")
            return JSONResponse(self.data.contact_json(rec))

    async def attach_company(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            contact = self._contact(request.path_params["id"])
            company = self.data.companies.get(str(body.get("id") or ""))
            if company is None:
                raise IntercomError(404, "company_not_found", "Company Not Found")
            self.data.attach(contact, company, self.now_s())
            return JSONResponse(self.data.company_json(company))

    async def detach_company(self, request: Request) -> Response:
        with self.state.lock:
            contact = self._contact(request.path_params["id"])
            company = self.data.companies.get(request.path_params["company_id"])
            if company is None or company["id"] not in contact["_companies"]:
                raise IntercomError(404, "company_not_found", "Company Not Found")
            self.data.detach(contact, company, self.now_s())
            return JSONResponse(self.data.company_json(company))

    async def contact_companies(self, request: Request) -> Response:
        q = request.query_params
        page = _int(q.get("page"), "page", 1, 10**9)
        per_page = _int(q.get("per_page"), "per_page", 15, COMPANIES_MAX_PAGE)
        with self.state.lock:
            contact = self._contact(request.path_params["id"])
            companies = [self.data.company_json(c) for c in self.data.companies_of(contact)]
        total = len(companies)
        return JSONResponse(
            {
                "type": "list",
                "companies": companies[(page - 1) * per_page : page * per_page],
                "total_count": total,
                "pages": {
                    "type": "pages",
                    "page": page,
                    "per_page": per_page,
                    "total_pages": max(1, math.ceil(total / per_page)),
                },
            }
        )

    # -- conversations ---------------------------------------------------------------------

    def _conversation(self, conversation_id: str) -> dict[str, Any]:
        rec = self.data.conversations.get(conversation_id)
        if rec is None:
            raise IntercomError(404, "not_found", "Resource Not Found")
        return rec

    def _conversation_page(
        self, keys: list[str], offset: int, per_page: int, total: int
    ) -> Response:
        store = self.data.conversations
        data = [self.data.conversation_json(store.get(k)) for k in keys if k in store]  # type: ignore[arg-type]
        return JSONResponse(
            {
                "type": "conversation.list",
                "conversations": data,
                "total_count": total,
                "pages": _pages(offset, per_page, total),
            }
        )

    async def list_conversations(self, request: Request) -> Response:
        q = request.query_params
        per_page = _int(
            q.get("per_page"), "per_page", CONVERSATIONS_DEFAULT_PAGE, CONVERSATIONS_MAX_PAGE
        )
        offset = _offset(q.get("starting_after"))
        with self.state.lock:
            store = self.data.conversations
            keys = store.page_by_creation(offset, per_page)
            return self._conversation_page(keys, offset, per_page, len(store))

    async def search_conversations(self, request: Request) -> Response:
        """Matches in the order conversations were created: the spec promises no order, so
        a reader must not rely on one (the sandbox does not sort by ``updated_at``)."""
        body = await _body(request)
        query = body.get("query")
        validate_query(query, date_fields=CONVERSATION_DATE_FIELDS)
        assert isinstance(query, dict)
        paging = body.get("pagination") or {}
        per_page = _int(
            paging.get("per_page"), "per_page", CONVERSATIONS_DEFAULT_PAGE, CONVERSATIONS_MAX_PAGE
        )
        offset = _offset(paging.get("starting_after"))
        with self.state.lock:
            store = self.data.conversations
            found = [
                key
                for key in store.iter_keys()
                if matches(
                    self.data.conversation_view(store.get(key)),  # type: ignore[arg-type]
                    query,
                    CONVERSATION_DATE_FIELDS,
                )
            ]
            part = found[offset : offset + per_page]
            return self._conversation_page(part, offset, per_page, len(found))

    async def get_conversation(self, request: Request) -> Response:
        with self.state.lock:
            rec = self._conversation(request.path_params["id"])
            return JSONResponse(self.data.conversation_json(rec, parts=True))

    async def manage_conversation(self, request: Request) -> Response:
        """``POST /conversations/{id}/parts``: close, open or snooze, as an admin."""
        body = await _body(request)
        kind = body.get("message_type")
        admin_id = body.get("admin_id")
        if kind not in ("close", "open", "snoozed"):
            raise IntercomError(
                400, "parameter_invalid", "message_type must be close, open or snoozed"
            )
        if not admin_id:
            raise IntercomError(400, "parameter_not_found", "admin_id is required", "admin_id")
        until = body.get("snoozed_until")
        if kind == "snoozed" and (isinstance(until, bool) or not isinstance(until, int)):
            raise IntercomError(
                400, "parameter_invalid", "snoozed_until must be a UNIX timestamp", "snoozed_until"
            )
        with self.state.lock:
            rec = self._conversation(request.path_params["id"])
            state = {"close": "closed", "open": "open", "snoozed": "snoozed"}[kind]
            self.data.change_state(rec, state, str(admin_id), self.now_s(), until or 0)
            return JSONResponse(self.data.conversation_json(rec, parts=True))

    # -- companies -------------------------------------------------------------------------

    async def upsert_company(self, request: Request) -> Response:
        body = await _body(request)
        if "name" not in body and "company_id" not in body:
            raise IntercomError(400, "parameter_not_found", "company_id or name is required")
        with self.state.lock:
            rec = self.data.upsert_company(body, self.now_s())
            return JSONResponse(self.data.company_json(rec))

    async def update_company(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            rec = self.data.companies.get(request.path_params["id"])
            if rec is None:
                raise IntercomError(404, "company_not_found", "Company Not Found")
            self.data.update_company(rec, body, self.now_s())
            return JSONResponse(self.data.company_json(rec))

    async def get_company(self, request: Request) -> Response:
        with self.state.lock:
            rec = self.data.companies.get(request.path_params["id"])
            if rec is None:
                raise IntercomError(404, "company_not_found", "Company Not Found")
            return JSONResponse(self.data.company_json(rec))

    async def list_companies(self, request: Request) -> Response:
        q = request.query_params
        with self.state.lock:
            if q.get("company_id") or q.get("name"):
                for key in self.data.companies.iter_keys():
                    rec = self.data.companies.get(key)
                    if rec is not None and (
                        rec["company_id"] == q.get("company_id") or rec["name"] == q.get("name")
                    ):
                        return JSONResponse(self.data.company_json(rec))
                raise IntercomError(404, "company_not_found", "Company Not Found")
        return await self._company_page(request)

    async def _company_page(self, request: Request) -> Response:
        q = request.query_params
        page = _int(q.get("page"), "page", 1, 10**9)
        per_page = _int(q.get("per_page"), "per_page", COMPANIES_DEFAULT_PAGE, COMPANIES_MAX_PAGE)
        with self.state.lock:
            ids = self.data.listed_companies()
            if q.get("order", "desc") == "desc":
                ids.reverse()
            total = len(ids)
            part = ids[(page - 1) * per_page : page * per_page]
            data = [self.data.company_json(self.data.companies.get(i)) for i in part]  # type: ignore[arg-type]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": page,
            "per_page": per_page,
            "total_pages": max(1, math.ceil(total / per_page)),
        }
        return JSONResponse({"type": "list", "data": data, "total_count": total, "pages": pages})

    async def scroll_companies(self, request: Request) -> Response:
        param = request.query_params.get("scroll_param")
        with self.state.lock:
            if param:
                offset = self.data.scrolls.pop(param, None)
                if offset is None:
                    raise IntercomError(
                        404, "scroll_param_not_found", "scroll_param not found or expired"
                    )
            else:
                self.data.scrolls.clear()  # one open scroll per app
                offset = 0
            ids = self.data.listed_companies()
            part = ids[offset : offset + SCROLL_PAGE]
            data = [self.data.company_json(self.data.companies.get(i)) for i in part]  # type: ignore[arg-type]
            new_param = str(uuid.uuid4())
            if part:
                self.data.scrolls[new_param] = offset + len(part)
        return JSONResponse(
            {
                "type": "list",
                "data": data,
                "pages": None,
                "total_count": None,
                "scroll_param": new_param,
            }
        )


def intercom_app(state: SandboxState) -> ASGIApp:
    """The Intercom sub-application, to mount at ``/intercom``."""
    r = _Routes(state)
    router = Router(
        routes=[
            *metadata_routes(state),
            Route("/contacts", _guard(r.list_contacts), methods=["GET"]),
            Route("/contacts", _guard(r.create_contact), methods=["POST"]),
            Route("/contacts/search", _guard(r.search_contacts), methods=["POST"]),
            Route("/contacts/merge", _guard(r.merge_contacts), methods=["POST"]),
            Route(
                "/contacts/find_by_external_id/{external_id}",
                _guard(r.find_by_external_id),
                methods=["GET"],
            ),
            Route("/contacts/{id}/companies", _guard(r.attach_company), methods=["POST"]),
            Route("/contacts/{id}/companies", _guard(r.contact_companies), methods=["GET"]),
            Route(
                "/contacts/{id}/companies/{company_id}",
                _guard(r.detach_company),
                methods=["DELETE"],
            ),
            Route("/contacts/{id}", _guard(r.get_contact), methods=["GET"]),
            Route("/contacts/{id}", _guard(r.update_contact), methods=["PUT"]),
            Route("/contacts/{id}", _guard(r.delete_contact), methods=["DELETE"]),
            Route("/conversations", _guard(r.list_conversations), methods=["GET"]),
            Route("/conversations/search", _guard(r.search_conversations), methods=["POST"]),
            Route("/conversations/{id}", _guard(r.get_conversation), methods=["GET"]),
            Route("/conversations/{id}/parts", _guard(r.manage_conversation), methods=["POST"]),
            Route("/companies", _guard(r.upsert_company), methods=["POST"]),
            Route("/companies", _guard(r.list_companies), methods=["GET"]),
            Route("/companies/list", _guard(r._company_page), methods=["POST"]),
            Route("/companies/scroll", _guard(r.scroll_companies), methods=["GET"]),
            Route("/companies/{id}", _guard(r.get_company), methods=["GET"]),
            Route("/companies/{id}", _guard(r.update_company), methods=["PUT"]),
        ]
    )
    return _Gate(router, state)
