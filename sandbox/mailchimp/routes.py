"""Mailchimp Marketing 3.0 over HTTP: the audience and member routes the SDK and connector use.

Mounted under ``/mailchimp/3.0`` (standing in for ``https://us6.api.mailchimp.com/3.0``).
A gate checks the API key (basic auth with any username, or bearer) including its data-center
suffix, and allows at most 10 simultaneous requests per key; the 11th gets a bare 429 (Mailchimp
sends no rate-limit headers). Errors are RFC 9457 problem details.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_MAILCHIMP_DC, SANDBOX_MAILCHIMP_KEY
from sandbox.faults import partial_batch_every
from sandbox.fields import trim_fields
from sandbox.gate import Gate, guard, json_body
from sandbox.mailchimp.metadata import metadata_routes
from sandbox.mailchimp.store import MailchimpError, email_problem, subscriber_hash
from sandbox.ratelimit import ConcurrencyGate
from sandbox.state import SandboxState
from sandbox.timefmt import iso_offset, parse_instant_ms

__all__ = ["BATCH_SUBSCRIBE_MAX", "MEMBERS_MAX_COUNT", "mailchimp_app", "mailchimp_error_renderer"]

BATCH_SUBSCRIBE_MAX = 500
MEMBERS_MAX_COUNT = 1000
_ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
_VALIDATION = (
    "The resource submitted could not be validated. For field-specific details, see the "
    "'errors' array."
)


def _problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": _ERROR_DOCS,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors:
        body["errors"] = errors
    return body


class _ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def _problem_response(err: MailchimpError) -> Response:
    return _ProblemResponse(_problem(err.status, err.title, err.detail, err.errors), err.status)


def mailchimp_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Problem-detail bodies for injected faults."""
    titles = {
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    detail = (
        "You have exceeded the limit of 10 simultaneous connections." if status == 429 else message
    )
    headers = {"Content-Type": "application/problem+json; charset=utf-8"}
    return _problem(status, titles.get(status, "Error"), detail), headers


def _api_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            scheme, _, cred = text.partition(" ")
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(cred.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return ""
                return decoded.partition(":")[2]
            if scheme.lower() in ("bearer", "apikey"):
                return cred.strip()
            return ""
    return None


class _Gate(Gate):
    """API key check, then the 10-connection concurrency limit per key."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _api_key(scope)
        if not key:
            body = _problem(401, "API Key Missing", "Your request did not include an API key.")
            await _ProblemResponse(body, 401)(scope, receive, send)
            return
        _, _, dc = key.rpartition("-")
        if key != SANDBOX_MAILCHIMP_KEY or dc != SANDBOX_MAILCHIMP_DC:
            body = _problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
            await _ProblemResponse(body, 401)(scope, receive, send)
            return
        gate: ConcurrencyGate = self.state.limits["mailchimp"]
        if not gate.acquire(key):
            body, _headers = mailchimp_error_renderer(429, "")
            await _ProblemResponse(body, 429)(scope, receive, send)
            return
        try:
            await self.forward(scope, receive, send)
        finally:
            gate.release(key)


_guard = guard(MailchimpError, _problem_response)


async def _json_body(request: Request) -> Any:
    return await json_body(
        request,
        lambda _exc: MailchimpError(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        ),
        empty=b"{}",
    )


def _trimmed(request: Request, body: dict[str, Any]) -> Response:
    q = request.query_params
    return JSONResponse(trim_fields(body, q.get("fields"), q.get("exclude_fields")))


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise MailchimpError(
            400, "Invalid Resource", _VALIDATION, [{"field": name, "message": "must be an integer"}]
        ) from exc


def _time_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_instant_ms(raw)
    except ValueError as exc:
        raise MailchimpError(
            400,
            "Invalid Resource",
            _VALIDATION,
            [{"field": name, "message": f"{raw} is not a valid ISO 8601 date-time"}],
        ) from exc


class _MailchimpRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _check_list(self, request: Request) -> None:
        if request.path_params["list_id"] != self.state.mailchimp.list_id:
            raise MailchimpError(
                404, "Resource Not Found", "The requested resource could not be found."
            )

    def _list_json(self) -> dict[str, Any]:
        data = self.state.mailchimp
        counts = data.counts()
        return {
            "id": data.list_id,
            "web_id": 424242,
            "name": "Sandbox Newsletter",
            "contact": {
                "company": "Sandbox Inc.",
                "address1": "1 Loopback Way",
                "city": "Localhost",
                "state": "CA",
                "zip": "94000",
                "country": "US",
            },
            "permission_reminder": "You signed up on our website.",
            "use_archive_bar": True,
            "campaign_defaults": {
                "from_name": "Sandbox",
                "from_email": "news@sandbox.revsync.dev",
                "subject": "",
                "language": "en",
            },
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": iso_offset(data.created_ms),
            "list_rating": 3,
            "email_type_option": False,
            "subscribe_url_short": "",
            "subscribe_url_long": "",
            "beamer_address": "",
            "visibility": "prv",
            "double_optin": False,
            "has_welcome": False,
            "marketing_permissions": False,
            "modules": [],
            "stats": {
                "member_count": counts["subscribed"],
                "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"],
                "member_count_since_send": 0,
                "unsubscribe_count_since_send": 0,
                "cleaned_count_since_send": 0,
                "campaign_count": 0,
                "merge_field_count": len(self.state.mailchimp.merge_fields.fields),
                "avg_sub_rate": 0,
                "avg_unsub_rate": 0,
                "target_sub_rate": 0,
                "open_rate": 0,
                "click_rate": 0,
            },
            "_links": [],
        }

    async def root(self, request: Request) -> Response:
        return _trimmed(
            request,
            {
                "account_id": "sandbox0account",
                "login_id": "sandbox0login",
                "account_name": "Sandbox Inc.",
                "email": "owner@sandbox.revsync.dev",
                "role": "owner",
                "total_subscribers": len(self.state.mailchimp.members),
            },
        )

    async def ping(self, request: Request) -> Response:
        return JSONResponse({"health_status": "Everything's Chimpy!"})

    async def lists(self, request: Request) -> Response:
        with self.state.lock:
            body = {"lists": [self._list_json()], "total_items": 1, "_links": []}
        return _trimmed(request, body)

    async def get_list(self, request: Request) -> Response:
        self._check_list(request)
        with self.state.lock:
            return _trimmed(request, self._list_json())

    async def merge_fields(self, request: Request) -> Response:
        self._check_list(request)
        with self.state.lock:
            data = self.state.mailchimp
            fields = [dict(f) for f in data.merge_fields.fields]
        return _trimmed(
            request,
            {
                "merge_fields": fields,
                "list_id": data.list_id,
                "total_items": len(fields),
                "_links": [],
            },
        )

    async def add_merge_field(self, request: Request) -> Response:
        self._check_list(request)
        body = await _json_body(request)
        with self.state.lock:
            field = self.state.mailchimp.add_merge_field(body)
        return JSONResponse(field)

    async def members(self, request: Request) -> Response:
        self._check_list(request)
        count = min(max(_int_param(request, "count", 10), 0), MEMBERS_MAX_COUNT)
        offset = max(_int_param(request, "offset", 0), 0)
        since = _time_param(request, "since_last_changed")
        before = _time_param(request, "before_last_changed")
        status = request.query_params.get("status")
        sort_field = request.query_params.get("sort_field")
        descending = request.query_params.get("sort_dir", "ASC").upper() == "DESC"
        data = self.state.mailchimp
        with self.state.lock:
            store = data.members
            if (
                status is None
                and (sort_field in (None, "last_changed"))
                and (since is not None or before is not None or sort_field == "last_changed")
            ):
                lo, hi = store.mtime_range(since, None if before is None else before - 1)
                total = hi - lo
                if descending:
                    keys = store.keys_by_mtime(
                        max(lo, hi - offset - count), max(lo, hi - offset), descending=True
                    )
                else:
                    keys = store.keys_by_mtime(lo + offset, min(hi, lo + offset + count))
                page = [m for k in keys if (m := store.get(k)) is not None]
            elif status is None and sort_field is None:
                total = len(store)
                page = [m for k in store.page_by_creation(offset, count) if (m := store.get(k))]
            else:
                hits = []
                for key in store.iter_keys():
                    member = store.get(key)
                    if member is None:
                        continue
                    if status and member["status"] != status:
                        continue
                    mtime = store.mtime(key)
                    if since is not None and mtime < since:
                        continue
                    if before is not None and mtime >= before:
                        continue
                    hits.append(member)
                if sort_field:
                    hits.sort(key=lambda m: m.get(sort_field) or "", reverse=descending)
                total = len(hits)
                page = hits[offset : offset + count]
            members = [dict(m) for m in page]
        body = {"members": members, "list_id": data.list_id, "total_items": total, "_links": []}
        return _trimmed(request, body)

    def _member_or_404(self, request: Request) -> dict[str, Any]:
        member = self.state.mailchimp.lookup(request.path_params["subscriber_hash"])
        if member is None:
            raise MailchimpError(
                404, "Resource Not Found", "The requested resource could not be found."
            )
        return member

    async def get_member(self, request: Request) -> Response:
        self._check_list(request)
        with self.state.lock:
            return _trimmed(request, dict(self._member_or_404(request)))

    async def add_member(self, request: Request) -> Response:
        self._check_list(request)
        body = await _json_body(request)
        with self.state.lock:
            member = self.state.mailchimp.add(body, self.state.now_ms())
            return JSONResponse(dict(member))

    async def put_member(self, request: Request) -> Response:
        self._check_list(request)
        body = await _json_body(request)
        ref = request.path_params["subscriber_hash"]
        with self.state.lock:
            data = self.state.mailchimp
            member = data.lookup(ref)
            if member is not None:
                update = {k: v for k, v in body.items() if k != "status_if_new"}
                return JSONResponse(dict(data.update(member, update, self.state.now_ms())))
            email = str(body.get("email_address") or "").strip()
            expected = subscriber_hash(ref) if "@" in ref else ref.lower()
            if email and subscriber_hash(email) != expected:
                raise MailchimpError(
                    400,
                    "Invalid Resource",
                    "The subscriber hash in the URL does not match the email_address provided.",
                )
            create = dict(body)
            create["status"] = body.get("status_if_new") or body.get("status")
            if create["status"] is None:
                raise MailchimpError(
                    400,
                    "Invalid Resource",
                    _VALIDATION,
                    [{"field": "status_if_new", "message": "This value should not be blank."}],
                )
            return JSONResponse(dict(data.add(create, self.state.now_ms())))

    async def patch_member(self, request: Request) -> Response:
        self._check_list(request)
        body = await _json_body(request)
        with self.state.lock:
            member = self._member_or_404(request)
            return JSONResponse(
                dict(self.state.mailchimp.update(member, body, self.state.now_ms()))
            )

    async def delete_member(self, request: Request) -> Response:
        self._check_list(request)
        with self.state.lock:
            member = self._member_or_404(request)
            self.state.mailchimp.members.remove(member["id"])
        return Response(status_code=204)

    async def batch_subscribe(self, request: Request) -> Response:
        self._check_list(request)
        body = await _json_body(request)
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list):
            raise MailchimpError(
                400,
                "Invalid Resource",
                _VALIDATION,
                [{"field": "members", "message": "Schema describes array, NULL found instead"}],
            )
        if len(members) > BATCH_SUBSCRIBE_MAX:
            raise MailchimpError(
                400,
                "Invalid Resource",
                _VALIDATION,
                [
                    {
                        "field": "members",
                        "message": f"Array contains more than {BATCH_SUBSCRIBE_MAX} items.",
                    }
                ],
            )
        update_existing = bool(body.get("update_existing", False))
        every = partial_batch_every(request.scope)
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        data = self.state.mailchimp
        with self.state.lock:
            for position, item in enumerate(members, start=1):
                email = str((item or {}).get("email_address") or "").strip()
                if every and position % every == 0:
                    errors.append(
                        {
                            "email_address": email,
                            "error": "Injected partial batch failure (sandbox fault)",
                            "error_code": "ERROR_GENERIC",
                            "field": "",
                            "field_message": "",
                        }
                    )
                    continue
                problem = email_problem(email) if email else "Email address is blank."
                if problem:
                    errors.append(
                        {
                            "email_address": email,
                            "error": problem,
                            "error_code": "ERROR_GENERIC",
                            "field": "email_address",
                            "field_message": problem,
                        }
                    )
                    continue
                existing = data.lookup(email)
                try:
                    if existing is None:
                        created.append(dict(data.add(item, self.state.now_ms())))
                    elif update_existing:
                        updated.append(dict(data.update(existing, item, self.state.now_ms())))
                    else:
                        errors.append(
                            {
                                "email_address": email,
                                "error": f"{email} is already a list member, do you want to "
                                "update? please provide update_existing:true in the request body",
                                "error_code": "ERROR_CONTACT_EXISTS",
                                "field": "",
                                "field_message": "",
                            }
                        )
                except MailchimpError as err:
                    field = (err.errors or [{}])[0]
                    errors.append(
                        {
                            "email_address": email,
                            "error": err.detail,
                            "error_code": "ERROR_GENERIC",
                            "field": field.get("field", ""),
                            "field_message": field.get("message", ""),
                        }
                    )
        return JSONResponse(
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
                "_links": [],
            }
        )


def mailchimp_app(state: SandboxState) -> ASGIApp:
    """The Mailchimp sub-application, to mount at ``/mailchimp/3.0``."""
    r = _MailchimpRoutes(state)
    member = "/lists/{list_id}/members/{subscriber_hash}"
    router = Router(
        routes=[
            Route("/", _guard(r.root), methods=["GET"]),
            Route("/ping", _guard(r.ping), methods=["GET"]),
            Route("/lists", _guard(r.lists), methods=["GET"]),
            Route("/lists/{list_id}", _guard(r.get_list), methods=["GET"]),
            Route("/lists/{list_id}", _guard(r.batch_subscribe), methods=["POST"]),
            Route("/lists/{list_id}/merge-fields", _guard(r.merge_fields), methods=["GET"]),
            Route("/lists/{list_id}/merge-fields", _guard(r.add_merge_field), methods=["POST"]),
            Route("/lists/{list_id}/members", _guard(r.members), methods=["GET"]),
            Route("/lists/{list_id}/members", _guard(r.add_member), methods=["POST"]),
            Route(member, _guard(r.get_member), methods=["GET"]),
            Route(member, _guard(r.put_member), methods=["PUT"]),
            Route(member, _guard(r.patch_member), methods=["PATCH"]),
            Route(member, _guard(r.delete_member), methods=["DELETE"]),
            *metadata_routes(state, _guard),
        ]
    )
    return _Gate(router, state)
