"""Zendesk Support API v2 over HTTP: users, organizations, tickets, incremental exports, jobs.

Mounted under ``/zendesk`` (standing in for ``https://{subdomain}.zendesk.com``), API under
``/api/v2``; a trailing ``.json`` on any path is accepted, as Zendesk does (zenpy sends it).
Contract: ``../shared/vendor-specs/zendesk-support.yaml`` (Zendesk's own OAS, via a third-party
repository copy; it needs a YAML 1.2-tolerant load). A gate checks basic auth
``{email}/token:{api_token}`` or an OAuth bearer, counts the account's per-minute budget (and the
10/minute incremental-export budget), and stamps ``X-Rate-Limit``/``ratelimit-*`` headers.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_ZENDESK_API_TOKEN, SANDBOX_ZENDESK_OAUTH_TOKEN
from sandbox.faults import partial_batch_every
from sandbox.gate import Gate, guard, json_body
from sandbox.ratelimit import LimitDecision, WindowLimiter
from sandbox.state import SandboxState
from sandbox.store import RecordStore
from sandbox.zendesk.jobs import JobStep
from sandbox.zendesk.metadata import metadata_routes
from sandbox.zendesk.store import ZendeskData, ZendeskError, not_found, record_invalid, zd_time

__all__ = ["BULK_MAX", "PAGE_MAX", "zendesk_app", "zendesk_error_renderer"]

BULK_MAX = 100
PAGE_MAX = 100
INCREMENTAL_PAGE_MAX = 1000
OFFSET_RECORDS_MAX = 10_000
_AUTH_BODY = {"error": "Couldn't authenticate you"}


def zendesk_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Zendesk-shaped bodies for injected faults."""
    if status == 429:
        body = {
            "error": "APIRateLimitExceeded",
            "description": "Number of allowed API requests per minute exceeded",
        }
        return body, {}
    return {"error": {"title": message, "message": message}}, {}


def _rate_headers(decision: LimitDecision) -> list[tuple[bytes, bytes]]:
    reset = str(max(1, math.ceil(decision.interval_ms / 1000))).encode()
    return [
        (b"x-rate-limit", str(decision.max).encode()),
        (b"x-rate-limit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-limit", str(decision.max).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", reset),
    ]


def _basic_user(auth: str) -> str | None:
    """The agent email of ``Basic base64(email/token:secret)``; ``None`` for other schemes."""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0].partition("/")[0] or None


def _authorized(headers: dict[bytes, bytes]) -> bool:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() == SANDBOX_ZENDESK_OAUTH_TOKEN
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, secret = decoded.partition(":")
    email, _, marker = user.partition("/")
    return "@" in email and marker == "token" and secret == SANDBOX_ZENDESK_API_TOKEN


class _Gate(Gate):
    """Strip ``.json``, authenticate, count the budgets; 401/429 in Zendesk's shapes."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].endswith(".json"):
            scope = dict(scope)
            scope["path"] = scope["path"][: -len(".json")]
        if not _authorized(dict(scope["headers"])):
            await self.reply(scope, receive, send, JSONResponse(_AUTH_BODY, 401))
            return
        account: WindowLimiter = self.state.limits["zendesk"]
        decision = account.hit("account")
        description = "Number of allowed API requests per minute exceeded"
        if decision.allowed and "/incremental/" in scope["path"]:
            incremental: WindowLimiter = self.state.limits["zendesk-incremental"]
            found = incremental.hit("account")
            if not found.allowed:
                decision = found
                description = (
                    "Number of allowed incremental export API requests per minute exceeded"
                )
        extra = _rate_headers(decision)
        if not decision.allowed:
            body = {"error": "APIRateLimitExceeded", "description": description}
            retry = str(max(1, math.ceil(decision.interval_ms / 1000)))
            headers = [*extra, (b"retry-after", retry.encode())]
            await self.reply(scope, receive, send, JSONResponse(body, 429), headers)
            return

        await self.forward(scope, receive, send, extra)


def _error(err: ZendeskError) -> Response:
    return JSONResponse(err.body, err.status)


_guard = guard(ZendeskError, _error)


async def _body(request: Request, key: str) -> Any:
    body = await json_body(
        request,
        lambda _exc: ZendeskError(
            400, {"error": "Unprocessable Entity", "description": "Invalid JSON"}
        ),
    )
    if not isinstance(body, dict) or key not in body:
        raise ZendeskError(
            400,
            {"error": "InvalidEndpoint", "description": f"Parameter {key} is required"},
        )
    return body[key]


def _int(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise ZendeskError(
            400, {"error": "InvalidValue", "description": f"{name} must be an integer"}
        ) from exc


def _encode_cursor(*parts: int) -> str:
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = [int(p) for p in raw.split(":")]
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if len(parts) != size:
        raise _bad_cursor()
    return parts


def _bad_cursor() -> ZendeskError:
    return ZendeskError(
        400, {"error": "InvalidPaginationParameter", "description": "cursor is invalid or expired"}
    )


def _includes(request: Request) -> set[str]:
    """The sideloads asked for (``include=a,b``)."""
    raw = request.query_params.get("include") or ""
    return {part.strip() for part in raw.split(",") if part.strip()}


class _ZendeskRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> ZendeskData:
        return self.state.zendesk

    def _base(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

    def _url(self, request: Request, kind: str, rid: Any) -> str:
        return f"{self._base(request)}/api/v2/{kind}/{rid}.json"

    def _json(self, request: Request, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        out = {**rec, "url": self._url(request, kind, rec["id"])}
        if kind == "users":
            out["user_fields"] = self.data.user_fields.render(rec.get("user_fields") or {})
        return out

    # -- generic paging ------------------------------------------------------------------

    def _list(
        self,
        request: Request,
        kind: str,
        store: RecordStore[int],
        keep: Callable[[dict[str, Any]], bool],
    ) -> Response:
        """Cursor pages (``page[size]``/``page[after]``) or offset pages (``page``/``per_page``)."""
        params = request.query_params
        if "page[size]" in params or "page[after]" in params:
            size = min(_int(params.get("page[size]"), PAGE_MAX, "page[size]"), PAGE_MAX)
            after = params.get("page[after]")
            start = _decode_cursor(after, 1)[0] + 1 if after else 0
            with self.state.lock:
                page, last_seq, more = self._scan(store, start, size, keep)
                items = [self._json(request, kind, r) for r in page]
            meta: dict[str, Any] = {
                "has_more": more,
                "after_cursor": _encode_cursor(last_seq) if page else None,
                "before_cursor": _encode_cursor(store.seq_of(page[0]["id"])) if page else None,
            }
            links = {
                "next": str(
                    request.url.include_query_params(**{"page[after]": meta["after_cursor"]})
                )
                if more
                else None,
                "prev": None,
            }
            return JSONResponse({kind: items, "meta": meta, "links": links})
        per_page = min(_int(params.get("per_page"), PAGE_MAX, "per_page"), PAGE_MAX)
        page_no = max(1, _int(params.get("page"), 1, "page"))
        offset = (page_no - 1) * per_page
        if offset >= OFFSET_RECORDS_MAX:
            raise ZendeskError(
                400,
                {
                    "error": "InvalidPaginationParameter",
                    "description": "Offset pagination is limited to the first 100 pages. "
                    "Use cursor based pagination instead.",
                },
            )
        with self.state.lock:
            keys = store.page_by_creation(offset, per_page)
            records = [r for r in (store.get(k) for k in keys) if r is not None and keep(r)]
            items = [self._json(request, kind, r) for r in records]
            total = self._count(kind, store)
        next_page = (
            str(request.url.include_query_params(page=page_no + 1, per_page=per_page))
            if offset + per_page < len(store)
            else None
        )
        prev_page = (
            str(request.url.include_query_params(page=page_no - 1, per_page=per_page))
            if page_no > 1
            else None
        )
        return JSONResponse(
            {kind: items, "next_page": next_page, "previous_page": prev_page, "count": total}
        )

    def _count(self, kind: str, store: RecordStore[int]) -> int:
        return len(store) - (len(self.data.inactive) if kind == "users" else 0)

    def _scan(
        self,
        store: RecordStore[int],
        start_seq: int,
        size: int,
        keep: Callable[[dict[str, Any]], bool],
    ) -> tuple[list[dict[str, Any]], int, bool]:
        page: list[dict[str, Any]] = []
        last_seq = start_seq - 1
        cursor = start_seq
        while True:
            chunk = store.page_after_seq(cursor, size + 1)
            if not chunk:
                return page, last_seq, False
            for seq, key in chunk:
                rec = store.get(key)
                if rec is None or not keep(rec):
                    continue
                if len(page) == size:
                    return page, last_seq, True
                page.append(rec)
                last_seq = seq
            cursor = chunk[-1][0] + 1

    # -- users ---------------------------------------------------------------------------

    def _user(self, request: Request) -> dict[str, Any]:
        found = self.data.find_user(request.path_params["user_id"])
        if found is None:
            raise not_found()
        return found

    async def list_users(self, request: Request) -> Response:
        roles = request.query_params.getlist("role") or request.query_params.getlist("role[]")
        ext = request.query_params.get("external_id")
        # GET /organizations/{id}/users: the organization's members.
        org = request.path_params.get("org_id")

        def keep(rec: dict[str, Any]) -> bool:
            return (
                bool(rec["active"])
                and (not roles or rec["role"] in roles)
                and (ext is None or str(rec.get("external_id") or "").lower() == ext.lower())
                and (org is None or rec.get("organization_id") == org)
            )

        return self._list(request, "users", self.data.users, keep)

    async def me(self, request: Request) -> Response:
        """``GET /users/me``: the agent the token belongs to (the sandbox's agent is an admin)."""
        email = _basic_user(request.headers.get("authorization", ""))
        with self.state.lock:
            found = self.data.user_by_email(email) if email else None
            if found is not None:
                return JSONResponse({"user": self._json(request, "users", found)})
        user = {"id": 1, "name": "Sandbox Agent", "email": email, "role": "admin", "active": True}
        return JSONResponse({"user": user})

    async def show_user(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse({"user": self._json(request, "users", self._user(request))})

    async def create_user(self, request: Request) -> Response:
        body = await _body(request, "user")
        with self.state.lock:
            rec = self.data.create_user(_obj(body, "user"), self.state.now_ms())
            return JSONResponse({"user": self._json(request, "users", rec)}, 201)

    async def update_user(self, request: Request) -> Response:
        body = await _body(request, "user")
        with self.state.lock:
            rec = self._user(request)
            self.data.update_user(rec, _obj(body, "user"), self.state.now_ms())
            return JSONResponse({"user": self._json(request, "users", rec)})

    async def delete_user(self, request: Request) -> Response:
        with self.state.lock:
            rec = self._user(request)
            self.data.deactivate(rec, self.state.now_ms())
            return JSONResponse({"user": self._json(request, "users", rec)})

    async def create_or_update_user(self, request: Request) -> Response:
        body = await _body(request, "user")
        with self.state.lock:
            rec, created = self.data.create_or_update_user(_obj(body, "user"), self.state.now_ms())
            url = self._url(request, "users", rec["id"])
            return JSONResponse(
                {"user": self._json(request, "users", rec)},
                201 if created else 200,
                headers={"Location": url},
            )

    async def merge_user(self, request: Request) -> Response:
        body = _obj(await _body(request, "user"), "user")
        with self.state.lock:
            source = self._user(request)
            target = self.data.find_user(body.get("id")) if body.get("id") else None
            if target is None and body.get("email"):
                target = self.data.user_by_email(str(body["email"]))
            if target is None:
                raise not_found()
            self.data.merge_users(source, target, self.state.now_ms())
            return JSONResponse({"user": self._json(request, "users", target)})

    async def search_users(self, request: Request) -> Response:
        params = request.query_params
        per_page = min(_int(params.get("per_page"), PAGE_MAX, "per_page"), PAGE_MAX)
        page_no = max(1, _int(params.get("page"), 1, "page"))
        with self.state.lock:
            matches = self._search(params.get("query"), params.get("external_id"))
            offset = (page_no - 1) * per_page
            if offset >= OFFSET_RECORDS_MAX:
                raise ZendeskError(
                    422,
                    {"error": "invalid", "description": "Search is limited to 10000 results"},
                )
            page = [self._json(request, "users", r) for r in matches[offset : offset + per_page]]
        next_page = (
            str(request.url.include_query_params(page=page_no + 1))
            if offset + per_page < len(matches)
            else None
        )
        prev_page = str(request.url.include_query_params(page=page_no - 1)) if page_no > 1 else None
        return JSONResponse(
            {
                "users": page,
                "next_page": next_page,
                "previous_page": prev_page,
                "count": len(matches),
            }
        )

    def _search(self, query: str | None, external_id: str | None) -> list[dict[str, Any]]:
        """``email:``/``external_id:`` are index lookups; other terms scan names and emails."""
        data = self.data
        if external_id:
            found = data.user_by_external(external_id)
            return [found] if found and found["active"] else []
        terms = (query or "").split()
        exact: list[dict[str, Any]] | None = None
        free: list[str] = []
        for term in terms:
            key, sep, value = term.partition(":")
            value = value.strip('"')
            if sep and key == "email":
                hit = data.user_by_email(value)
                found_list = [hit] if hit else []
            elif sep and key == "external_id":
                hit = data.user_by_external(value)
                found_list = [hit] if hit else []
            elif sep and key in {"type", "role"}:
                continue
            else:
                free.append(term.lower())
                continue
            exact = found_list if exact is None else [r for r in exact if r in found_list]
        pool: Iterable[dict[str, Any]] = exact if exact is not None else data.users.values()
        out = []
        for rec in pool:
            if not rec["active"]:
                continue
            hay = f"{rec.get('name') or ''} {rec.get('email') or ''}".lower()
            if all(t in hay for t in free):
                out.append(rec)
        return out

    async def show_many_users(self, request: Request) -> Response:
        params = request.query_params
        with self.state.lock:
            if params.get("external_ids"):
                refs = params["external_ids"].split(",")[:BULK_MAX]
                found = [self.data.user_by_external(r) for r in refs]
            else:
                refs = (params.get("ids") or "").split(",")[:BULK_MAX]
                found = [self.data.find_user(r) for r in refs if r.strip()]
            users = [self._json(request, "users", r) for r in found if r is not None]
        return JSONResponse({"users": users})

    # -- bulk jobs -----------------------------------------------------------------------

    async def bulk(self, request: Request) -> Response:
        path = request.url.path.removesuffix(".json")
        kind = (
            "users"
            if "/users/" in path
            else "organizations"
            if "/organizations/" in path
            else "tickets"
        )
        upsert = path.endswith("create_or_update_many")
        items = await _body(request, kind)
        if not isinstance(items, list):
            raise ZendeskError(
                400, {"error": "InvalidEndpoint", "description": f"{kind} must be an array"}
            )
        if len(items) > BULK_MAX:
            raise ZendeskError(
                400,
                {
                    "error": "TooManyValues",
                    "description": f"You can only create {BULK_MAX} {kind} at a time",
                },
            )
        every = partial_batch_every(request.scope)
        steps = [self._step(kind, upsert, i, item, every) for i, item in enumerate(items)]
        job_type = ("Bulk Create Or Update " if upsert else "Bulk Create ") + kind.title()
        with self.state.lock:
            job = self.data.jobs.submit(job_type, steps)
            body = job.to_json(f"{self._base(request)}/api/v2/job_statuses/{job.id}.json")
        return JSONResponse({"job_status": body})

    def _step(self, kind: str, upsert: bool, index: int, item: Any, every: int | None) -> JobStep:
        def run() -> dict[str, Any]:
            action = "create"
            try:
                if every and (index + 1) % every == 0:
                    raise record_invalid("base", "Injected partial batch failure (sandbox fault)")
                if not isinstance(item, dict):
                    raise record_invalid("base", "Item is not an object")
                now = self.state.now_ms()
                if kind == "users" and upsert:
                    rec, created = self.data.create_or_update_user(item, now)
                    action = "create" if created else "update"
                    if not created:
                        return {
                            "id": rec["id"],
                            "action": "update",
                            "success": True,
                            "status": "Updated",
                        }
                elif kind == "users":
                    rec = self.data.create_user(item, now)
                elif kind == "organizations":
                    rec = self.data.create_org(item, now)
                else:
                    rec = self.data.create_ticket(item, now)
                return {"id": rec["id"], "index": index}
            except ZendeskError as err:
                details = err.body.get("details") or {}
                text = "; ".join(d["description"] for v in details.values() for d in v)
                return {
                    "index": index,
                    "action": action,
                    "success": False,
                    "status": "Failed",
                    "error": str(err.body.get("error")),
                    "details": text or str(err.body.get("description", "")),
                }

        return run

    async def job_status(self, request: Request) -> Response:
        with self.state.lock:
            job = self.data.jobs.get(request.path_params["job_id"])
            if job is None:
                raise not_found()
            job.advance()
            url = f"{self._base(request)}/api/v2/job_statuses/{job.id}.json"
            return JSONResponse({"job_status": job.to_json(url)})

    # -- organizations -------------------------------------------------------------------

    def _org(self, request: Request) -> dict[str, Any]:
        found = self.data.find_org(request.path_params["org_id"])
        if found is None:
            raise not_found()
        return found

    async def list_orgs(self, request: Request) -> Response:
        return self._list(request, "organizations", self.data.organizations, lambda r: True)

    # -- user fields (account configuration) ---------------------------------------------

    async def list_user_fields(self, request: Request) -> Response:
        with self.state.lock:
            defined = self.data.user_fields.fields.values()
            fields = [self._json(request, "user_fields", dict(f)) for f in defined]
        return JSONResponse(
            {"user_fields": fields, "next_page": None, "previous_page": None, "count": len(fields)}
        )

    async def create_user_field(self, request: Request) -> Response:
        body = _obj(await _body(request, "user_field"), "user_field")
        with self.state.lock:
            field = self.data.user_fields.add(body, zd_time(self.state.now_ms()))
            return JSONResponse({"user_field": self._json(request, "user_fields", field)}, 201)

    async def show_user_field(self, request: Request) -> Response:
        with self.state.lock:
            field = self.data.user_fields.find(int(request.path_params["field_id"]))
            return JSONResponse({"user_field": self._json(request, "user_fields", field)})

    async def show_org(self, request: Request) -> Response:
        with self.state.lock:
            rec = self._org(request)
            return JSONResponse({"organization": self._json(request, "organizations", rec)})

    async def create_org(self, request: Request) -> Response:
        body = _obj(await _body(request, "organization"), "organization")
        with self.state.lock:
            rec = self.data.create_org(body, self.state.now_ms())
            return JSONResponse({"organization": self._json(request, "organizations", rec)}, 201)

    async def create_or_update_org(self, request: Request) -> Response:
        body = _obj(await _body(request, "organization"), "organization")
        with self.state.lock:
            rec, created = self.data.create_or_update_org(body, self.state.now_ms())
            out = {"organization": self._json(request, "organizations", rec)}
            return JSONResponse(out, 201 if created else 200)

    async def update_org(self, request: Request) -> Response:
        body = _obj(await _body(request, "organization"), "organization")
        with self.state.lock:
            rec = self._org(request)
            self.data.update_org(rec, body, self.state.now_ms())
            return JSONResponse({"organization": self._json(request, "organizations", rec)})

    async def delete_org(self, request: Request) -> Response:
        with self.state.lock:
            self.data.delete_org(self._org(request))
        return Response(status_code=204)

    # -- tickets -------------------------------------------------------------------------

    def _ticket(self, request: Request) -> dict[str, Any]:
        found = self.data.tickets.get(_int(request.path_params["ticket_id"], 0, "ticket_id"))
        if found is None or found.get("status") == "deleted":
            raise not_found()
        return found

    async def list_tickets(self, request: Request) -> Response:
        ext = request.query_params.get("external_id")
        return self._list(
            request,
            "tickets",
            self.data.tickets,
            lambda r: r.get("status") != "deleted" and (ext is None or r.get("external_id") == ext),
        )

    async def show_ticket(self, request: Request) -> Response:
        with self.state.lock:
            return JSONResponse({"ticket": self._json(request, "tickets", self._ticket(request))})

    async def ticket_metrics(self, request: Request) -> Response:
        with self.state.lock:
            metric = self.data.metric_set(self._ticket(request))
            url = self._url(request, "ticket_metrics", metric["id"])
            return JSONResponse({"ticket_metric": {**metric, "url": url}})

    async def create_ticket(self, request: Request) -> Response:
        body = _obj(await _body(request, "ticket"), "ticket")
        with self.state.lock:
            rec = self.data.create_ticket(body, self.state.now_ms())
            url = self._url(request, "tickets", rec["id"])
            body = {"ticket": self._json(request, "tickets", rec), "audit": _audit(rec)}
            return JSONResponse(body, 201, headers={"Location": url})

    async def update_ticket(self, request: Request) -> Response:
        body = _obj(await _body(request, "ticket"), "ticket")
        with self.state.lock:
            rec = self._ticket(request)
            self.data.update_ticket(rec, body, self.state.now_ms())
            out = {"ticket": self._json(request, "tickets", rec), "audit": _audit(rec)}
            return JSONResponse(out)

    async def delete_ticket(self, request: Request) -> Response:
        with self.state.lock:
            self.data.delete_ticket(self._ticket(request), self.state.now_ms())
        return Response(status_code=204)

    # -- incremental exports -------------------------------------------------------------

    def _start_time(self, request: Request) -> int:
        raw = request.query_params.get("start_time")
        if raw in (None, ""):
            raise ZendeskError(
                400, {"error": "InvalidValue", "description": "start_time is required"}
            )
        start = _int(raw, 0, "start_time")
        if start > self.state.now_ms() // 1000 - 60:
            raise ZendeskError(
                400,
                {
                    "error": "InvalidValue",
                    "description": "Too recent start_time. Use a start_time older than 1 minute",
                },
            )
        return start

    def _cutoff_ms(self) -> int:
        return self.state.now_ms() - self.data.recent_exclusion_s * 1000

    async def incremental_cursor(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in {"users", "tickets"}:
            raise not_found()
        store = self.data.users if kind == "users" else self.data.tickets
        per_page = min(
            _int(request.query_params.get("per_page"), INCREMENTAL_PAGE_MAX, "per_page"),
            INCREMENTAL_PAGE_MAX,
        )
        cursor = request.query_params.get("cursor")
        with self.state.lock:
            cutoff = self._cutoff_ms()
            if cursor:
                after_m, after_s = _decode_cursor(cursor, 2)
                lo, hi = store.mtime_range(after_m, cutoff)
            else:
                start = self._start_time(request)
                after_m, after_s = start * 1000, -1
                lo, hi = store.mtime_range(after_m, cutoff)
            page: list[dict[str, Any]] = []
            last = (after_m, after_s)
            more = False
            pos = lo
            while pos < hi:
                keys = store.keys_by_mtime(pos, min(hi, pos + per_page + 1))
                for key in keys:
                    pos += 1
                    mark = (store.mtime(key), store.seq_of(key))
                    if mark <= (after_m, after_s):
                        continue
                    if len(page) == per_page:
                        more = True
                        break
                    rec = store.get(key)
                    assert rec is not None
                    page.append(self._json(request, kind, rec))
                    last = mark
                if more:
                    break
            after = _encode_cursor(*last)
            sideloads = _includes(request)
            metric_sets = (
                [self.data.metric_set(self.data.tickets.get(t["id"]) or t) for t in page]
                if kind == "tickets" and "metric_sets" in sideloads
                else None
            )
        base = f"{self._base(request)}/api/v2/incremental/{kind}/cursor.json"
        extra = {} if metric_sets is None else {"metric_sets": metric_sets}
        return JSONResponse(
            {
                kind: page,
                **extra,
                "after_cursor": after,
                "after_url": f"{base}?cursor={after}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": not more,
            }
        )

    async def incremental_orgs(self, request: Request) -> Response:
        store = self.data.organizations
        per_page = min(
            _int(request.query_params.get("per_page"), INCREMENTAL_PAGE_MAX, "per_page"),
            INCREMENTAL_PAGE_MAX,
        )
        start = self._start_time(request)
        with self.state.lock:
            lo, hi = store.mtime_range(start * 1000, self._cutoff_ms())
            keys = store.keys_by_mtime(lo, min(hi, lo + per_page))
            page = [self._json(request, "organizations", store.get(k) or {}) for k in keys]
            end_time = store.mtime(keys[-1]) // 1000 if keys else start
        base = f"{self._base(request)}/api/v2/incremental/organizations.json"
        return JSONResponse(
            {
                "organizations": page,
                "count": len(page),
                "end_time": end_time,
                "next_page": f"{base}?start_time={end_time}",
                "end_of_stream": len(page) < per_page,
            }
        )


def _audit(ticket: dict[str, Any]) -> dict[str, Any]:
    """The audit Zendesk returns next to a written ticket (zenpy reads it as TicketAudit)."""
    return {
        "id": ticket["generated_timestamp"] * 1000 + ticket["id"] % 1000,
        "ticket_id": ticket["id"],
        "created_at": ticket["updated_at"],
        "author_id": ticket["submitter_id"],
        "metadata": {"system": {}, "custom": {}},
        "via": ticket["via"],
        "events": [],
    }


def _obj(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ZendeskError(
            400, {"error": "InvalidEndpoint", "description": f"Parameter {key} must be an object"}
        )
    return value


def zendesk_app(state: SandboxState) -> ASGIApp:
    """The Zendesk router behind its auth and rate-limit gate, to mount at ``/zendesk``."""
    r = _ZendeskRoutes(state)
    api = "/api/v2"
    routes = [
        Route(api + "/users", _guard(r.list_users), methods=["GET"]),
        Route(api + "/users", _guard(r.create_user), methods=["POST"]),
        Route(api + "/users/me", _guard(r.me), methods=["GET"]),
        Route(api + "/users/search", _guard(r.search_users), methods=["GET"]),
        Route(api + "/users/show_many", _guard(r.show_many_users), methods=["GET"]),
        Route(api + "/users/create_or_update", _guard(r.create_or_update_user), methods=["POST"]),
        Route(api + "/users/create_many", _guard(r.bulk), methods=["POST"]),
        Route(api + "/users/create_or_update_many", _guard(r.bulk), methods=["POST"]),
        Route(api + "/users/{user_id:int}", _guard(r.show_user), methods=["GET"]),
        Route(api + "/users/{user_id:int}", _guard(r.update_user), methods=["PUT"]),
        Route(api + "/users/{user_id:int}", _guard(r.delete_user), methods=["DELETE"]),
        Route(api + "/users/{user_id:int}/merge", _guard(r.merge_user), methods=["PUT"]),
        Route(api + "/user_fields", _guard(r.list_user_fields), methods=["GET"]),
        Route(api + "/user_fields", _guard(r.create_user_field), methods=["POST"]),
        Route(api + "/user_fields/{field_id:int}", _guard(r.show_user_field), methods=["GET"]),
        Route(api + "/organizations", _guard(r.list_orgs), methods=["GET"]),
        Route(api + "/organizations", _guard(r.create_org), methods=["POST"]),
        Route(api + "/organizations/create_many", _guard(r.bulk), methods=["POST"]),
        Route(
            api + "/organizations/create_or_update",
            _guard(r.create_or_update_org),
            methods=["POST"],
        ),
        Route(api + "/organizations/{org_id:int}", _guard(r.show_org), methods=["GET"]),
        Route(api + "/organizations/{org_id:int}/users", _guard(r.list_users), methods=["GET"]),
        Route(api + "/organizations/{org_id:int}", _guard(r.update_org), methods=["PUT"]),
        Route(api + "/organizations/{org_id:int}", _guard(r.delete_org), methods=["DELETE"]),
        Route(api + "/tickets", _guard(r.list_tickets), methods=["GET"]),
        Route(api + "/tickets", _guard(r.create_ticket), methods=["POST"]),
        Route(api + "/tickets/create_many", _guard(r.bulk), methods=["POST"]),
        Route(api + "/tickets/{ticket_id:int}", _guard(r.show_ticket), methods=["GET"]),
        Route(api + "/tickets/{ticket_id:int}", _guard(r.update_ticket), methods=["PUT"]),
        Route(api + "/tickets/{ticket_id:int}", _guard(r.delete_ticket), methods=["DELETE"]),
        Route(api + "/tickets/{ticket_id:int}/metrics", _guard(r.ticket_metrics), methods=["GET"]),
        Route(api + "/job_statuses/{job_id}", _guard(r.job_status), methods=["GET"]),
        Route(api + "/incremental/{kind}/cursor", _guard(r.incremental_cursor), methods=["GET"]),
        Route(api + "/incremental/organizations", _guard(r.incremental_orgs), methods=["GET"]),
        *metadata_routes(state, api, r._json, _guard),
    ]
    return _Gate(Router(routes=routes), state)
