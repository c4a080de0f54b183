"""Pipedrive over HTTP: API v2 persons/organizations/deals and v1 merges.

Mounted under ``/pipedrive`` (standing in for ``https://api.pipedrive.com``): v2 under
``/api/v2``, v1 under ``/v1``. A gate accepts the API token (``x-api-token`` header or legacy
``?api_token=``) or an OAuth bearer token, charges the endpoint's ``x-token-cost`` against the
daily token budget and counts the 2-second burst window, and stamps ``x-ratelimit-*`` and
``x-daily-requests-left`` on every authenticated response. Shapes follow Pipedrive's own
published OpenAPI files (``pipedrive-v2.yaml`` / ``pipedrive-v1.yaml``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_PIPEDRIVE_OAUTH_TOKEN, SANDBOX_PIPEDRIVE_TOKEN
from sandbox.gate import Gate, guard, json_object
from sandbox.pipedrive.metadata import metadata_routes
from sandbox.pipedrive.store import (
    PipedriveData,
    PipedriveEntity,
    PipedriveError,
    TokenLimiter,
    pd_time,
    pd_v1_time,
)
from sandbox.state import SandboxState
from sandbox.timefmt import parse_instant_ms

__all__ = ["LIST_MAX", "pipedrive_app", "pipedrive_error_renderer", "token_cost"]

logger = logging.getLogger(__name__)

LIST_MAX = 500
LIST_DEFAULT = 100
_ENTITIES = ("persons", "organizations", "deals")
_ID_RE = re.compile(r"^\d+$")
# What each v2 search endpoint may search (its `fields` enum).
_SEARCH_FIELDS = {
    "persons": ("name", "email", "phone", "custom_fields", "notes"),
    "organizations": ("name", "address", "custom_fields", "notes"),
    "deals": ("title", "custom_fields", "notes"),
}


def token_cost(method: str, vendor_path: str) -> int:
    """The endpoint's ``x-token-cost`` from Pipedrive's specs."""
    parts = [p for p in vendor_path.split("/") if p]
    if parts and parts[-1] == "merge":
        return 40
    if parts and parts[-1] == "search":
        return 20
    if method == "GET":
        return 1 if parts and _ID_RE.match(parts[-1]) else 10
    if method == "DELETE":
        return 3
    return 5


def pipedrive_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Pipedrive-shaped bodies for injected faults."""
    text = "Request over limit" if status == 429 else message
    return PipedriveError(status, text).body(), {}


def _error(err: PipedriveError) -> JSONResponse:
    return JSONResponse(err.body(), err.status)


def _token(scope: Scope) -> str | None:
    headers = dict(scope["headers"])
    given = headers.get(b"x-api-token", b"").decode("latin-1").strip()
    if given:
        return given
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    query = scope.get("query_string", b"").decode("latin-1")
    match = re.search(r"(?:^|&)api_token=([^&]*)", query)
    return match[1] if match else None


def _marketing(request: Request) -> bool:
    """Whether ``include_fields`` asks for the persons' ``marketing_status``."""
    return "marketing_status" in (request.query_params.get("include_fields") or "").split(",")


class _Gate(Gate):
    """Token auth, the daily token budget and the 2-second burst window."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _token(scope)
        if token not in (SANDBOX_PIPEDRIVE_TOKEN, SANDBOX_PIPEDRIVE_OAUTH_TOKEN):
            err = PipedriveError(401, "unauthorized access")
            await self.reply(scope, receive, send, _error(err))
            return
        limiter: TokenLimiter = self.state.limits["pipedrive"]
        cost = token_cost(scope["method"], scope.get("sandbox.vendor_path", scope["path"]))
        decision = limiter.hit("company", cost)
        extra = [
            (b"x-ratelimit-limit", str(decision.max).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", str(max(1, limiter.reset_in_s("company"))).encode()),
            (b"x-daily-requests-left", str(decision.daily_remaining).encode()),
        ]
        if not decision.allowed:
            await self.reply(
                scope, receive, send, _error(PipedriveError(429, "Request over limit")), extra
            )
            return

        await self.forward(scope, receive, send, extra)


_guard = guard(PipedriveError, _error)


async def _json_body(request: Request) -> dict[str, Any]:
    return await json_object(
        request,
        lambda _exc: PipedriveError(400, "Invalid JSON in request body"),
        lambda: PipedriveError(400, "Request body must be a JSON object"),
    )


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise PipedriveError(400, f"Parameter '{name}' must be an integer") from None


def _time_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_instant_ms(raw)
    except ValueError:
        raise PipedriveError(
            400, f"Parameter '{name}' must be in RFC3339 format, e.g. 2025-01-01T10:20:00Z"
        ) from None


def _encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        found = json.loads(raw)
    except ValueError:
        raise PipedriveError(400, "Invalid cursor") from None
    if not isinstance(found, dict) or "id" not in found:
        raise PipedriveError(400, "Invalid cursor")
    return found


def _ok(data: Any, additional: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return JSONResponse(body, status)


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> PipedriveData:
        return cast(PipedriveData, self.state.pipedrive)

    def entity(self, request: Request) -> PipedriveEntity:
        name = request.path_params["entity"]
        if name not in _ENTITIES:
            raise PipedriveError(404, "Unknown method .")
        return self.data.entities[name]

    def _id(self, request: Request) -> int:
        raw = request.path_params["id"]
        if not _ID_RE.match(raw):
            raise PipedriveError(400, "The parameter 'id' must be an integer")
        return int(raw)

    def _row(self, entity: PipedriveEntity, record_id: int) -> dict[str, Any]:
        rec = entity.get(record_id)
        if rec is None:
            raise entity.not_found()
        return rec

    # -- lists -----------------------------------------------------------------------------

    def _filter(self, request: Request) -> Callable[[dict[str, Any]], bool]:
        checks: list[Callable[[dict[str, Any]], bool]] = []
        since = _time_param(request, "updated_since")
        until = _time_param(request, "updated_until")
        if since is not None:
            checks.append(lambda r: r["update_time_ms"] >= since)
        if until is not None:
            checks.append(lambda r: r["update_time_ms"] < until)
        for name in ("owner_id", "org_id", "person_id", "stage_id", "pipeline_id"):
            value = _int_param(request, name)
            if value is not None:
                checks.append(lambda r, n=name, v=value: r.get(n) == v)  # type: ignore[misc]
        status = request.query_params.get("status")
        if status:
            checks.append(lambda r: r.get("status") == status)
        return lambda r: all(c(r) for c in checks)

    def _walk(
        self,
        entity: PipedriveEntity,
        sort_by: str,
        descending: bool,
        after: dict[str, Any] | None,
        since: int | None,
        until: int | None,
    ) -> Iterator[dict[str, Any]]:
        """Rows in the requested order after the cursor; O(log n) to start, then O(page)."""
        store = entity.store
        if sort_by == "update_time":
            low, high = since, (until - 1 if until is not None else None)
            if after is not None:
                ms = int(after.get("ms", 0))
                if descending:
                    high = ms if high is None else min(high, ms)
                else:
                    low = ms if low is None else max(low, ms)
            lo, hi = store.mtime_range(low, high)
            step = 256
            if descending:
                end = hi
                while end > lo:
                    start = max(lo, end - step)
                    for key in store.keys_by_mtime(start, end, descending=True):
                        yield from self._after(entity, key, after, descending, "ms")
                    end = start
            else:
                start = lo
                while start < hi:
                    for key in store.keys_by_mtime(start, min(hi, start + step)):
                        yield from self._after(entity, key, after, descending, "ms")
                    start += step
            return
        if sort_by == "add_time":
            rows = sorted(
                (r for r in store.values()),
                key=lambda r: (r["add_time_ms"], r["id"]),
                reverse=descending,
            )
            for rec in rows:
                if after is None or self._beyond(rec, after, descending, "add"):
                    yield rec
            return
        if descending:
            keys = list(store.iter_keys())
            keys.reverse()
            for key in keys:
                if after is None or key < int(after["id"]):
                    row = store.get(key)
                    if row is not None:
                        yield row
            return
        seq = int(after["seq"]) + 1 if after is not None and "seq" in after else 0
        while True:
            pairs = store.page_after_seq(seq, 256)
            if not pairs:
                return
            for pair_seq, key in pairs:
                found = store.get(key)
                if found is not None and (after is None or key > int(after["id"])):
                    yield found
                seq = pair_seq + 1

    def _after(
        self,
        entity: PipedriveEntity,
        key: int,
        after: dict[str, Any] | None,
        descending: bool,
        which: str,
    ) -> Iterator[dict[str, Any]]:
        rec = entity.store.get(key)
        if rec is None:
            return
        if after is None or self._beyond(rec, after, descending, which):
            yield rec

    @staticmethod
    def _beyond(rec: dict[str, Any], after: dict[str, Any], descending: bool, which: str) -> bool:
        ms = rec["update_time_ms"] if which == "ms" else rec["add_time_ms"]
        mine = (ms, rec["id"])
        theirs = (int(after.get("ms", 0)), int(after["id"]))
        return mine < theirs if descending else mine > theirs

    async def list_page(self, request: Request) -> Response:
        entity = self.entity(request)
        limit = _int_param(request, "limit") or LIST_DEFAULT
        if limit < 1 or limit > LIST_MAX:
            raise PipedriveError(400, f"Limit must be between 1 and {LIST_MAX}")
        sort_by = request.query_params.get("sort_by", "id")
        if sort_by not in ("id", "update_time", "add_time"):
            raise PipedriveError(400, "Invalid sort_by: must be one of id, update_time, add_time")
        direction = request.query_params.get("sort_direction", "asc")
        if direction not in ("asc", "desc"):
            raise PipedriveError(400, "Invalid sort_direction: must be one of asc, desc")
        cursor_text = request.query_params.get("cursor")
        after = _decode_cursor(cursor_text) if cursor_text else None
        if after is not None and (
            after.get("field") != sort_by or after.get("sortDirection") != direction
        ):
            raise PipedriveError(400, "Cursor does not match the sort parameters")
        keep = self._filter(request)
        ids_param = request.query_params.get("ids")
        with self.state.lock:
            if ids_param:
                wanted = [int(i) for i in ids_param.split(",") if i.strip().isdigit()][:100]
                rows = [r for r in (entity.get(i) for i in wanted) if r is not None and keep(r)]
                return _ok([entity.to_json(r, marketing=_marketing(request)) for r in rows], {})
            page: list[dict[str, Any]] = []
            more = False
            walker = self._walk(
                entity,
                sort_by,
                direction == "desc",
                after,
                _time_param(request, "updated_since"),
                _time_param(request, "updated_until"),
            )
            for rec in walker:
                if not keep(rec):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(rec)
            data = [entity.to_json(r, marketing=_marketing(request)) for r in page]
            next_cursor = None
            if more:
                last = page[-1]
                value: Any = last["id"]
                ms = 0
                if sort_by == "update_time":
                    value, ms = pd_time(last["update_time_ms"]), last["update_time_ms"]
                elif sort_by == "add_time":
                    value, ms = pd_time(last["add_time_ms"]), last["add_time_ms"]
                next_cursor = _encode_cursor(
                    {
                        "field": sort_by,
                        "fieldValue": value,
                        "sortDirection": direction,
                        "id": last["id"],
                        "ms": ms,
                        "seq": entity.store.seq_of(last["id"]),
                    }
                )
        return _ok(data, {"next_cursor": next_cursor} if next_cursor else {})

    # -- single rows -----------------------------------------------------------------------

    async def get_one(self, request: Request) -> Response:
        entity = self.entity(request)
        with self.state.lock:
            rec = self._row(entity, self._id(request))
            return _ok(entity.to_json(rec, marketing=_marketing(request)))

    def _check_links(self, body: dict[str, Any]) -> None:
        for name, target in (("org_id", "organizations"), ("person_id", "persons")):
            value = body.get(name)
            if value is not None and (
                not isinstance(value, int) or self.data.entities[target].get(value) is None
            ):
                label = "Organization" if target == "organizations" else "Person"
                raise PipedriveError(400, f"{label} with id {value} does not exist")

    async def create(self, request: Request) -> Response:
        entity = self.entity(request)
        body = await _json_body(request)
        with self.state.lock:
            self._check_links(body)
            rec = entity.create(body, self.state.now_ms())
            return _ok(entity.to_json(rec))

    async def update(self, request: Request) -> Response:
        entity = self.entity(request)
        body = await _json_body(request)
        with self.state.lock:
            rec = self._row(entity, self._id(request))
            self._check_links(body)
            entity.update(rec, body, self.state.now_ms())
            return _ok(entity.to_json(rec))

    async def delete(self, request: Request) -> Response:
        entity = self.entity(request)
        with self.state.lock:
            rec = self._row(entity, self._id(request))
            entity.delete(rec, self.state.now_ms())
            return _ok({"id": rec["id"]})

    # -- search ----------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        entity = self.entity(request)
        term = (request.query_params.get("term") or "").strip()
        exact = request.query_params.get("exact_match", "false").lower() == "true"
        if len(term) < (1 if exact else 2):
            raise PipedriveError(
                400, "Search term must be at least 2 characters long (1 with exact_match)"
            )
        allowed = _SEARCH_FIELDS[entity.kind.name]
        fields = [f for f in (request.query_params.get("fields") or "").split(",") if f]
        if any(f not in allowed for f in fields):
            raise PipedriveError(400, "Invalid fields parameter")
        if not fields:
            fields = [f for f in allowed if f not in ("notes", "address")]
        limit = _int_param(request, "limit") or LIST_DEFAULT
        limit = max(1, min(limit, LIST_MAX))
        cursor_text = request.query_params.get("cursor")
        offset = int(_decode_cursor(cursor_text).get("offset", 0)) if cursor_text else 0
        org_filter = _int_param(request, "organization_id")
        needle = term.lower()
        items: list[dict[str, Any]] = []
        with self.state.lock:
            for rec in entity.store.values():
                if org_filter is not None and rec.get("org_id") != org_filter:
                    continue
                score = _score(rec, fields, needle, exact)
                if score:
                    items.append({"result_score": score, "item": self._search_item(entity, rec)})
        items.sort(key=lambda i: (-i["result_score"], i["item"]["id"]))
        page = items[offset : offset + limit]
        next_cursor = None
        if offset + limit < len(items):
            last = page[-1]["item"]["id"]
            next_cursor = _encode_cursor({"id": last, "offset": offset + limit})
        return _ok({"items": page}, {"next_cursor": next_cursor} if next_cursor else {})

    def _search_item(self, entity: PipedriveEntity, rec: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": rec["id"],
            "type": entity.kind.singular,
            "name": rec.get("name"),
            "visible_to": rec.get("visible_to"),
            "owner": {"id": rec.get("owner_id")},
            "custom_fields": [str(v) for v in rec["custom_fields"].values() if v],
        }
        if entity.kind.name == "deals":
            del item["name"]
            item.update(
                title=rec.get("title"),
                value=rec.get("value"),
                currency=rec.get("currency"),
                status=rec.get("status"),
                stage={"id": rec.get("stage_id")},
            )
            links = (
                ("person", "persons", "person_id"),
                ("organization", "organizations", "org_id"),
            )
            for link, target, field in links:
                linked_id = rec.get(field)
                linked = self.data.entities[target].get(linked_id) if linked_id else None
                if linked is not None:
                    item[link] = {"id": linked["id"], "name": linked["name"]}
        elif entity.kind.name == "persons":
            item["phones"] = [p["value"] for p in rec.get("phones", [])]
            item["emails"] = [e["value"] for e in rec.get("emails", [])]
            item["notes"] = []
            org = self.data.organizations.get(rec["org_id"]) if rec.get("org_id") else None
            if org is not None:
                item["organization"] = {"id": org["id"], "name": org["name"]}
        else:
            item["address"] = rec.get("address")
            item["notes"] = []
        return item

    # -- v1 merge --------------------------------------------------------------------------

    async def merge(self, request: Request) -> Response:
        entity = self.entity(request)
        body = await _json_body(request)
        other = body.get("merge_with_id")
        if not isinstance(other, int) or isinstance(other, bool):
            raise PipedriveError(400, "merge_with_id is required and must be an integer")
        away_id = self._id(request)
        if away_id == other:
            raise PipedriveError(400, f"Cannot merge {entity.kind.singular} with itself")
        with self.state.lock:
            away = self._row(entity, away_id)
            keep = self._row(entity, other)
            self.data.merge(entity, away, keep, self.state.now_ms())
            return _ok(self._v1(entity, keep, away_id))

    def _v1(self, entity: PipedriveEntity, rec: dict[str, Any], merged: int) -> dict[str, Any]:
        """The v1 shape of a merged record (``merge_what_id`` names the merged-away id)."""
        out: dict[str, Any] = {
            "id": rec["id"],
            "company_id": 7_654_321,
            "active_flag": True,
            "add_time": pd_v1_time(rec["add_time_ms"]),
            "update_time": pd_v1_time(rec["update_time_ms"]),
            "visible_to": str(rec.get("visible_to", 3)),
            "label_ids": list(rec.get("label_ids", [])),
            "merge_what_id": merged,
        }
        if entity.kind.name == "persons":
            out.update(
                name=rec["name"],
                first_name=rec.get("first_name"),
                last_name=rec.get("last_name"),
                email=[dict(e) for e in rec["emails"]],
                phone=[dict(p) for p in rec["phones"]],
                first_char=(rec["name"] or " ")[0].lower(),
            )
        elif entity.kind.name == "organizations":
            out.update(name=rec["name"], first_char=(rec["name"] or " ")[0].lower())
        else:
            out.update(title=rec["title"], value=rec.get("value"), currency=rec.get("currency"))
        out.update({k: v for k, v in rec["custom_fields"].items()})
        return out


def _score(rec: dict[str, Any], fields: list[str], needle: str, exact: bool) -> float:
    values: list[str] = []
    for name in fields:
        if name == "email":
            values.extend(str(e["value"]) for e in rec.get("emails", []))
        elif name == "phone":
            values.extend(str(p["value"]) for p in rec.get("phones", []))
        elif name in ("name", "title"):
            values.append(str(rec.get("name") or rec.get("title") or ""))
        elif name == "custom_fields":
            values.extend(str(v) for v in rec["custom_fields"].values() if v is not None)
    best = 0.0
    for value in values:
        low = value.strip().lower()
        if low == needle:
            best = max(best, 1.0)
        elif not exact and needle in low:
            best = max(best, round(len(needle) / max(1, len(low)), 4))
    return best


def pipedrive_app(state: SandboxState) -> ASGIApp:
    """The Pipedrive sub-application, to mount at ``/pipedrive``."""
    r = _Routes(state)
    v2 = "/api/v2/{entity}"
    router = Router(
        routes=[
            Route(v2 + "/search", _guard(r.search), methods=["GET"]),
            Route(v2, _guard(r.list_page), methods=["GET"]),
            Route(v2, _guard(r.create), methods=["POST"]),
            Route(v2 + "/{id}", _guard(r.get_one), methods=["GET"]),
            Route(v2 + "/{id}", _guard(r.update), methods=["PATCH"]),
            Route(v2 + "/{id}", _guard(r.delete), methods=["DELETE"]),
            Route("/v1/{entity}/{id}/merge", _guard(r.merge), methods=["PUT"]),
            *metadata_routes(state, _guard),
        ]
    )
    return _Gate(router, state)
