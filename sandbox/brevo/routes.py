"""Brevo API v3 over HTTP: contacts (with JSON imports and their processes), lists, CRM
companies and deals.

Mounted under ``/brevo/v3`` (standing in for ``https://api.brevo.com/v3``). Contract:
``../shared/vendor-specs/brevo.yaml`` (Brevo's own OpenAPI 3.0.1, believed unmodified, via a
third-party repository copy). A gate checks the ``api-key`` header and the per-key rolling
window (``/contacts*`` 10 RPS by default) and stamps ``x-sib-ratelimit-*`` on every answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.brevo.metadata import metadata_routes
from sandbox.brevo.store import BrevoData, BrevoError, CrmObjects
from sandbox.credentials import SANDBOX_BREVO_KEY
from sandbox.faults import partial_batch_every
from sandbox.gate import Gate, guard, json_object
from sandbox.ratelimit import LimitDecision, WindowLimiter
from sandbox.state import SandboxState
from sandbox.timefmt import parse_instant_ms

__all__ = [
    "BATCH_MAX",
    "LIST_ADD_MAX",
    "brevo_app",
    "brevo_error_renderer",
]

BATCH_MAX = 100
LIST_ADD_MAX = 150
CONTACTS_LIMIT_MAX = 1000
LIST_CONTACTS_LIMIT_MAX = 500
LISTS_LIMIT_MAX = 50
CRM_LIMIT_MAX = 100
_RATE_MESSAGE = "Too many requests, please retry after x-sib-ratelimit-reset seconds"


def brevo_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Brevo ``errorModel`` bodies for injected faults (429 uses a spec enum code)."""
    code = {401: "unauthorized", 404: "document_not_found"}.get(status, "bad_request")
    if status >= 500:
        code = "internal_error"
    return {"code": code, "message": message}, {}


def _err(err: BrevoError) -> JSONResponse:
    return JSONResponse({"code": err.code, "message": err.message}, err.status)


def _rate_headers(decision: LimitDecision) -> list[tuple[bytes, bytes]]:
    reset = max(1, math.ceil(decision.interval_ms / 1000))
    return [
        (b"x-sib-ratelimit-limit", str(decision.max).encode()),
        (b"x-sib-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-sib-ratelimit-reset", str(reset).encode()),
    ]


class _Gate(Gate):
    """``api-key`` auth, then the contacts or CRM limiter; 401/429 in Brevo's shape."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = dict(scope["headers"]).get(b"api-key", b"").decode("latin-1")
        if key != SANDBOX_BREVO_KEY:
            body = {"code": "unauthorized", "message": "Key not found"}
            await self.reply(scope, receive, send, JSONResponse(body, 401))
            return
        path = scope.get("sandbox.vendor_path") or scope["path"]
        name = "brevo" if path.startswith("/contacts") else "brevo-crm"
        limiter: WindowLimiter = self.state.limits[name]
        decision = limiter.hit(key)
        # A limiter switched off (the CRM's, whose published 100/hour is unverified) claims no
        # window: no x-sib-ratelimit-* headers rather than counts nothing enforces.
        extra = _rate_headers(decision) if limiter.enabled else []
        if not decision.allowed:
            await self.reply(
                scope,
                receive,
                send,
                JSONResponse({"code": "bad_request", "message": _RATE_MESSAGE}, 429),
                extra,
            )
            return

        await self.forward(scope, receive, send, extra)


_guard = guard(BrevoError, _err)


async def _body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        lambda _exc: BrevoError(400, "bad_request", "Input must be a valid JSON object"),
        empty=b"null",
    )


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BrevoError(400, "invalid_parameter", f"{name} should be an integer") from exc
    if value < 0 or (maximum is not None and value > maximum):
        raise BrevoError(400, "out_of_range", f"{name} should be between 0 and {maximum}")
    return value


def _instant_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_instant_ms(raw.replace(" ", "+"))
    except ValueError as exc:
        raise BrevoError(
            400, "invalid_parameter", f"{name} should be a date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)"
        ) from exc


def _sort(request: Request) -> str:
    sort = request.query_params.get("sort", "desc")
    if sort not in {"asc", "desc"}:
        raise BrevoError(400, "invalid_parameter", "sort should be asc or desc")
    return sort


def _page(keys: list[Any], offset: int, limit: int, sort: str) -> list[Any]:
    if sort == "asc":
        return keys[offset : offset + limit]
    end = len(keys) - offset
    return list(reversed(keys[max(0, end - limit) : max(0, end)]))


class _BrevoRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> BrevoData:
        return self.state.brevo

    def _contact(self, request: Request) -> dict[str, Any]:
        ref = request.path_params["identifier"]
        kind = request.query_params.get("identifierType")
        found = self.data.find(ref, kind)
        if found is None:
            raise BrevoError(404, "document_not_found", "Contact does not exist")
        return found

    # -- contacts ------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        limit = _int_param(request, "limit", 50, CONTACTS_LIMIT_MAX)
        offset = _int_param(request, "offset", 0)
        sort = _sort(request)
        modified = _instant_param(request, "modifiedSince")
        created = _instant_param(request, "createdSince")
        list_ids = request.query_params.getlist("listIds")
        list_id = int(list_ids[0]) if list_ids and list_ids[0].isdigit() else None
        return self._contacts_page(limit, offset, sort, modified, created, list_id)

    def _contacts_page(
        self,
        limit: int,
        offset: int,
        sort: str,
        modified: int | None,
        created: int | None,
        list_id: int | None,
    ) -> Response:
        data = self.data
        with self.state.lock:
            if modified is None and created is None and list_id is None:
                total = len(data.contacts)
                if sort == "asc":
                    keys = data.contacts.page_by_creation(offset, limit)
                else:
                    end = total - offset
                    start = max(0, end - limit)
                    keys = list(
                        reversed(data.contacts.page_by_creation(start, max(0, end - start)))
                    )
            else:
                matched = data.filtered(modified, created, list_id)
                total = len(matched)
                keys = _page(matched, offset, limit, sort)
            contacts = [dict(data.contacts.get(k) or {}) for k in keys]
        return JSONResponse({"contacts": contacts, "count": total})

    async def get_contact(self, request: Request) -> Response:
        with self.state.lock:
            contact = dict(self._contact(request))
        contact["statistics"] = {}
        return JSONResponse(contact)

    async def create_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            existing = self.data.find_existing(body)
            if existing is not None:
                if body.get("updateEnabled") is not True:
                    raise BrevoError(
                        400,
                        "duplicate_parameter",
                        "Unable to create contact, email is already associated with "
                        "another Contact",
                    )
                self.data.update(existing, _as_update(body, keep_email=True), self.state.now_ms())
                return Response(status_code=204)
            record = self.data.create(body, self.state.now_ms())
        return JSONResponse({"id": record["id"]}, 201)

    async def update_contact(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            self.data.update(self._contact(request), body, self.state.now_ms())
        return Response(status_code=204)

    async def delete_contact(self, request: Request) -> Response:
        with self.state.lock:
            self.data.delete(self._contact(request))
        return Response(status_code=204)

    async def batch(self, request: Request) -> Response:
        body = await _body(request)
        items = body.get("contacts")
        if not isinstance(items, list) or not items:
            raise BrevoError(400, "missing_parameter", "contacts is required")
        if len(items) > BATCH_MAX:
            raise BrevoError(400, "out_of_range", f"contacts should contain at most {BATCH_MAX}")
        every = partial_batch_every(request.scope)
        with self.state.lock:
            targets: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for position, item in enumerate(items):
                if every and (position + 1) % every == 0:
                    raise BrevoError(
                        400, "bad_request", f"contacts[{position}]: injected batch failure"
                    )
                targets.append((self._batch_target(position, item), item))
            # all-or-nothing: validate every item before writing any
            now = self.state.now_ms()
            for position, (record, item) in enumerate(targets):
                try:
                    self.data._prepare(record, _as_update(item), creating=False)
                except BrevoError as err:
                    raise BrevoError(
                        err.status, err.code, f"contacts[{position}]: {err.message}"
                    ) from err
            for record, item in targets:
                self.data.update(record, _as_update(item), now)
        return Response(status_code=204)

    def _batch_target(self, position: int, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise BrevoError(400, "invalid_parameter", f"contacts[{position}] is not an object")
        refs = [
            (item.get("email"), "email_id"),
            (item.get("id"), "contact_id"),
            (item.get("sms"), "phone_id"),
            (item.get("ext_id"), "ext_id"),
        ]
        given = [(str(v), kind) for v, kind in refs if v not in (None, "")]
        if not given:
            raise BrevoError(
                400,
                "missing_parameter",
                f"contacts[{position}]: one of email, id, sms or ext_id is required",
            )
        found = self.data.find(*given[0])
        if found is None:
            raise BrevoError(
                400,
                "document_not_found",
                f"contacts[{position}]: Contact does not exist",
            )
        return found

    # -- lists ---------------------------------------------------------------------------

    async def get_lists(self, request: Request) -> Response:
        limit = _int_param(request, "limit", 10, LISTS_LIMIT_MAX)
        offset = _int_param(request, "offset", 0)
        sort = _sort(request)
        with self.state.lock:
            ids = sorted(self.data.lists)
            page = _page(ids, offset, limit, sort)
            lists = [self.data.list_json(i) for i in page]
        return JSONResponse({"lists": lists, "count": len(ids)})

    def _list_id(self, request: Request) -> int:
        raw = request.path_params["list_id"]
        if not raw.isdigit() or int(raw) not in self.data.lists:
            raise BrevoError(404, "document_not_found", "List ID does not exist")
        return int(raw)

    async def list_contacts_of_list(self, request: Request) -> Response:
        with self.state.lock:
            list_id = self._list_id(request)
        limit = _int_param(request, "limit", 50, LIST_CONTACTS_LIMIT_MAX)
        offset = _int_param(request, "offset", 0)
        modified = _instant_param(request, "modifiedSince")
        return self._contacts_page(limit, offset, _sort(request), modified, None, list_id)

    async def list_membership(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in {"add", "remove"}:
            raise BrevoError(404, "document_not_found", "Not found")
        body = await _body(request)
        adding = action == "add"
        refs: list[Any]
        if isinstance(body.get("emails"), list):
            refs, kind = body["emails"], "email_id"
        elif isinstance(body.get("ids"), list):
            refs, kind = body["ids"], "contact_id"
        elif isinstance(body.get("extIds"), list):
            refs, kind = body["extIds"], "ext_id"
        elif not adding and body.get("all") is True:
            return await self._remove_all(request)
        else:
            raise BrevoError(400, "missing_parameter", "emails, ids or extIds is required")
        if len(refs) > LIST_ADD_MAX:
            raise BrevoError(
                400, "out_of_range", f"You can pass at most {LIST_ADD_MAX} contacts at a time"
            )
        success: list[Any] = []
        failure: list[Any] = []
        with self.state.lock:
            list_id = self._list_id(request)
            now = self.state.now_ms()
            for ref in refs:
                contact = self.data.find(str(ref), kind)
                if contact is None:
                    failure.append(ref)
                elif adding:
                    self.data.add_to_list(list_id, contact, now)
                    success.append(ref)
                elif self.data.remove_from_list(list_id, contact, now):
                    success.append(ref)
                else:
                    failure.append(ref)
        return JSONResponse({"contacts": {"success": success, "failure": failure}}, 201)

    async def _remove_all(self, request: Request) -> Response:
        with self.state.lock:
            list_id = self._list_id(request)
            members = sorted(self.data.members.get(list_id, set()))
            now = self.state.now_ms()
            for cid in members:
                contact = self.data.contacts.get(cid)
                if contact is not None:
                    self.data.remove_from_list(list_id, contact, now)
        return JSONResponse({"contacts": {"total": len(members), "processId": 1}}, 201)

    # -- CRM companies and deals --------------------------------------------------------

    def _crm(self, request: Request) -> CrmObjects:
        return self.data.deals if "/deals" in request.url.path else self.data.companies

    def _crm_record(self, request: Request) -> dict[str, Any]:
        found = self._crm(request).store.get(request.path_params["crm_id"])
        if found is None:
            raise BrevoError(404, "document_not_found", "Document not found")
        return found

    async def crm_list(self, request: Request) -> Response:
        objects = self._crm(request)
        limit = _int_param(request, "limit", 50, CRM_LIMIT_MAX)
        if objects.kind == "companies":
            page = max(1, _int_param(request, "page", 1))
            offset = (page - 1) * limit
        else:
            offset = _int_param(request, "offset", 0)
        sort = _sort(request)
        modified = _instant_param(request, "modifiedSince")
        created = _instant_param(request, "createdSince")
        wanted = _filters(request)
        with self.state.lock:
            keys = objects.filtered(modified, created)
            if wanted:
                keys = [k for k in keys if _matches(objects.store.get(k) or {}, wanted)]
            items = [objects.store.get(k) for k in _page(keys, offset, limit, sort)]
        return JSONResponse({"items": items})

    async def link_unlink(self, request: Request) -> Response:
        body = await _body(request)
        with self.state.lock:
            record = self._crm_record(request)
            self.data.companies.link_unlink(record, body, self.state.now_ms())
        return Response(status_code=204)

    # -- imports and processes ------------------------------------------------------------

    async def import_contacts(self, request: Request) -> Response:
        body = await _body(request)
        if body.get("fileUrl") or body.get("fileBody"):
            raise BrevoError(400, "invalid_parameter", "only jsonBody imports are imitated")
        with self.state.lock:
            pid = self.data.queue_import(body)
        return JSONResponse({"processId": pid}, 202)

    async def get_process(self, request: Request) -> Response:
        raw = request.path_params["process_id"]
        if not raw.isdigit():
            raise BrevoError(400, "invalid_parameter", "processId should be an integer")
        with self.state.lock:
            return JSONResponse(self.data.advance_process(int(raw), self.state.now_ms()))

    async def crm_get(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse(self._crm_record(request))

    async def crm_create(self, request: Request) -> Response:
        objects = self._crm(request)
        body = await _body(request)
        with self.state.lock:
            record = objects.create(body, self.state.now_ms())
        # Brevo answers 200 for companies and 201 for deals (as its spec says)
        return JSONResponse({"id": record["id"]}, 200 if objects.kind == "companies" else 201)

    async def crm_update(self, request: Request) -> Response:
        objects = self._crm(request)
        body = await _body(request)
        with self.state.lock:
            record = self._crm_record(request)
            objects.update(record, body, self.state.now_ms())
            if objects.kind == "deals":
                return Response(status_code=204)
            return JSONResponse(record)

    async def crm_delete(self, request: Request) -> Response:
        with self.state.lock:
            self._crm_record(request)
            self._crm(request).delete(request.path_params["crm_id"])
        return Response(status_code=204)


def _filters(request: Request) -> dict[str, Any]:
    """Equality on attributes, in the spec's form (``filters={"attributes.domain": "acme.io"}``)
    or the one the current official client sends (``filters[attributes.name]=Acme``)."""
    wanted: dict[str, Any] = {
        key[len("filters[") : -1]: value
        for key, value in request.query_params.items()
        if key.startswith("filters[") and key.endswith("]")
    }
    raw = request.query_params.get("filters")
    if not raw:
        return wanted
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise BrevoError(400, "invalid_parameter", "filters should be a JSON object") from exc
    if not isinstance(parsed, dict):
        raise BrevoError(400, "invalid_parameter", "filters should be a JSON object")
    return {**wanted, **parsed}


def _matches(record: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for path, value in wanted.items():
        node: Any = record
        for part in str(path).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if str(node).strip().lower() != str(value).strip().lower():
            return False
    return True


def _as_update(body: dict[str, Any], *, keep_email: bool = False) -> dict[str, Any]:
    """A create or batch item as an update body (an upsert's email travels as attribute EMAIL)."""
    out = {k: v for k, v in body.items() if k not in {"email", "updateEnabled", "id", "sms"}}
    if keep_email and isinstance(body.get("email"), str):
        out["attributes"] = {**(body.get("attributes") or {}), "EMAIL": body["email"]}
    return out


def brevo_app(state: SandboxState) -> ASGIApp:
    """The Brevo router behind its auth and rate-limit gate, to mount at ``/brevo/v3``."""
    r = _BrevoRoutes(state)
    routes = [
        *metadata_routes(state, _guard),  # before /contacts/{identifier}
        Route("/contacts", _guard(r.list_contacts), methods=["GET"]),
        Route("/contacts", _guard(r.create_contact), methods=["POST"]),
        Route("/contacts/batch", _guard(r.batch), methods=["POST"]),
        Route("/contacts/import", _guard(r.import_contacts), methods=["POST"]),
        Route("/processes/{process_id}", _guard(r.get_process), methods=["GET"]),
        Route("/companies/link-unlink/{crm_id}", _guard(r.link_unlink), methods=["PATCH"]),
        Route("/contacts/lists", _guard(r.get_lists), methods=["GET"]),
        Route(
            "/contacts/lists/{list_id}/contacts", _guard(r.list_contacts_of_list), methods=["GET"]
        ),
        Route(
            "/contacts/lists/{list_id}/contacts/{action}",
            _guard(r.list_membership),
            methods=["POST"],
        ),
        Route("/contacts/{identifier}", _guard(r.get_contact), methods=["GET"]),
        Route("/contacts/{identifier}", _guard(r.update_contact), methods=["PUT"]),
        Route("/contacts/{identifier}", _guard(r.delete_contact), methods=["DELETE"]),
    ]
    for base in ("/companies", "/crm/deals"):
        routes += [
            Route(base, _guard(r.crm_list), methods=["GET"]),
            Route(base, _guard(r.crm_create), methods=["POST"]),
            Route(base + "/{crm_id}", _guard(r.crm_get), methods=["GET"]),
            Route(base + "/{crm_id}", _guard(r.crm_update), methods=["PATCH"]),
            Route(base + "/{crm_id}", _guard(r.crm_delete), methods=["DELETE"]),
        ]
    return _Gate(Router(routes=routes), state)
