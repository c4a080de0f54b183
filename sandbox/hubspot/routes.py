"""HubSpot CRM v3 (contacts, companies, deals) and v4 associations over HTTP: the routes the
official SDK and our connector call.

Mounted under ``/hubspot`` (standing in for ``https://api.hubapi.com``). A gate in front
checks the bearer token and the per-token rolling window, and stamps HubSpot's
``X-HubSpot-RateLimit-*`` headers on every authenticated response. Object types are accepted
by name or objectTypeId (``deals`` / ``0-3``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import SANDBOX_HUBSPOT_READONLY_TOKEN, SANDBOX_HUBSPOT_TOKEN
from sandbox.faults import partial_batch_every
from sandbox.gate import Gate, guard, json_body
from sandbox.hubspot.associations import ASSOCIATION_TYPES, PRIMARY_TYPES, association_pair
from sandbox.hubspot.metadata import metadata_routes
from sandbox.hubspot.properties import PropertyError
from sandbox.hubspot.search import run_search
from sandbox.hubspot.store import OBJECT_TYPE_IDS, HubSpotError, HubSpotObjects
from sandbox.ratelimit import LimitDecision, WindowLimiter
from sandbox.state import SandboxState
from sandbox.timefmt import iso_ms_z

__all__ = [
    "ASSOCIATIONS_BATCH_MAX",
    "BATCH_MAX",
    "LIST_MAX",
    "hubspot_app",
    "hubspot_error_renderer",
]

logger = logging.getLogger(__name__)

BATCH_MAX = 100
LIST_MAX = 100
ASSOCIATIONS_MAX = 500
ASSOCIATIONS_BATCH_MAX = 1_000
"""Inputs per associations v4 batch call: HubSpot's batch/read cap (1,000 since 2025-02-10),
applied to batch/create and batch/associate/default too."""
_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def _error_body(
    category: str,
    message: str,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if context:
        body["context"] = context
    if sub_category:
        body["subCategory"] = sub_category
    return body


def _rate_limit_body(policy: str) -> dict[str, Any]:
    label = "daily" if policy == "DAILY" else policy.lower()
    return {
        "status": "error",
        "message": f"You have reached your {label} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }


def hubspot_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """HubSpot-shaped bodies for injected faults."""
    if status == 429:
        return _rate_limit_body("TEN_SECONDLY_ROLLING"), {}
    category = {500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}.get(
        status, "ERROR"
    )
    return _error_body(category, message), {}


def _error_response(err: HubSpotError | PropertyError) -> JSONResponse:
    return JSONResponse(
        _error_body(err.category, err.message, err.context, err.sub_category), err.status
    )


def _item_error(err: HubSpotError, trace: Any = None) -> dict[str, Any]:
    """One ``errors[]`` entry of a 207 (``StandardError``)."""
    error: dict[str, Any] = {
        "status": "error",
        "category": err.category,
        "message": err.message,
        "context": err.context,
        "errors": [],
        "links": {},
    }
    if trace:
        error["objectWriteTraceId"] = trace
    return error


def _batch_inputs(body: Any, limit: int) -> list[Any]:
    """A batch call's ``inputs``, refused as HubSpot refuses a missing or oversized list."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required")
    inputs: list[Any] = body["inputs"]
    if len(inputs) > limit:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Batch input exceeds the limit of {limit} inputs (got {len(inputs)}).",
            context={"inputs": [str(len(inputs))]},
        )
    return inputs


def _each_input(
    inputs: list[Any],
    every: int | None,
    handle: Callable[[dict[str, Any], Any], None],
    *,
    traced: bool = False,
) -> list[dict[str, Any]]:
    """Each input through ``handle(item, trace)``, in order: an item's refusal (or the fault
    injected at every ``every``-th position) is its ``errors[]`` entry, the others go on."""
    errors: list[dict[str, Any]] = []
    for position, item in enumerate(inputs, start=1):
        trace = item.get("objectWriteTraceId") if traced and isinstance(item, dict) else None
        try:
            if every and position % every == 0:
                raise HubSpotError(
                    500,
                    "INTERNAL_ERROR",
                    "Injected partial batch failure (sandbox fault)",
                    context={"position": [str(position)]},
                )
            if not isinstance(item, dict):
                raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: input")
            handle(item, trace)
        except HubSpotError as err:
            errors.append(_item_error(err, trace))
    return errors


def _batch_answer(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int, **times: str
) -> JSONResponse:
    """A batch response (``BatchResponse…``): ``ok`` when every input went through, 207 with
    ``errors[]`` otherwise."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, **times}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return JSONResponse(body, 207)
    return JSONResponse(body, ok)


_TYPE_IDS = {name: type_id for type_id, name in OBJECT_TYPE_IDS.items()}


def _rate_headers(decision: LimitDecision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-hubspot-ratelimit-max", str(decision.max).encode()),
        (b"x-hubspot-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-hubspot-ratelimit-interval-milliseconds", str(decision.interval_ms).encode()),
        (b"x-hubspot-ratelimit-daily", str(decision.daily).encode()),
        (b"x-hubspot-ratelimit-daily-remaining", str(decision.daily_remaining).encode()),
    ]


def _writes(scope: Scope) -> bool:
    """Whether the call needs a write scope (search and batch read are POSTs that read)."""
    path: str = scope["path"]
    return scope["method"] != "GET" and not path.endswith(("/search", "/batch/read"))


def _missing_scopes_body(path: str) -> dict[str, Any]:
    area = "schemas" if "/properties/" in path else "objects"
    marker = "properties" if area == "schemas" else "objects"
    if "/v4/associations/" in path:
        marker = "associations"
    object_type = path.split(f"/{marker}/", 1)[-1]
    object_type = _type_name(object_type.split("/", 1)[0] or "contacts")
    body = _error_body(
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. "
        "Read more about required scopes here: https://developers.hubspot.com/scopes.",
    )
    body["errors"] = [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": [f"crm.{area}.{object_type}.write"]},
        }
    ]
    body["links"] = {"scopes": "https://developers.hubspot.com/scopes"}
    return body


class _Gate(Gate):
    """Bearer auth, then the rolling-window limit; 401/429 in HubSpot's shapes."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if token not in (SANDBOX_HUBSPOT_TOKEN, SANDBOX_HUBSPOT_READONLY_TOKEN):
            body = _error_body("INVALID_AUTHENTICATION", _AUTH_MESSAGE)
            await self.reply(scope, receive, send, JSONResponse(body, 401))
            return
        if token == SANDBOX_HUBSPOT_READONLY_TOKEN and _writes(scope):
            response = JSONResponse(_missing_scopes_body(scope["path"]), 403)
            await self.reply(scope, receive, send, response)
            return
        limiter: WindowLimiter = self.state.limits["hubspot"]
        decision = limiter.hit(token)
        if decision.allowed and scope["path"].endswith("/search"):
            search: WindowLimiter = self.state.limits["hubspot-search"]
            if search.enabled:
                found = search.hit(token)
                if not found.allowed:
                    response = JSONResponse(_rate_limit_body("SECONDLY"), 429)
                    await self.reply(scope, receive, send, response)
                    return
        extra = _rate_headers(decision)
        if not decision.allowed:
            response = JSONResponse(_rate_limit_body(decision.policy), 429)
            await self.reply(scope, receive, send, response, extra)
            return

        await self.forward(scope, receive, send, extra)


_guard = guard((HubSpotError, PropertyError), _error_response)


async def _json_body(request: Request) -> Any:
    return await json_body(
        request, lambda exc: HubSpotError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}")
    )


def _properties_param(request: Request) -> list[str] | None:
    names: list[str] = []
    for raw in request.query_params.getlist("properties"):
        names.extend(p.strip() for p in raw.split(",") if p.strip())
    return names or None


def _properties_of(body: Any) -> dict[str, Any]:
    """The ``properties`` object every write input must carry (400 without it)."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: properties is required")
    return props


def _written(objects: HubSpotObjects, props: Any) -> list[str]:
    """Properties echoed after a write: the defaults plus what was written."""
    return [
        *objects.kind.default_properties,
        *(p for p in props if p not in objects.kind.default_properties),
    ]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _type_name(name: str) -> str:
    return OBJECT_TYPE_IDS.get(name, name)


def _associations_param(request: Request) -> list[str]:
    names: list[str] = []
    for raw in request.query_params.getlist("associations"):
        names.extend(_type_name(p.strip()) for p in raw.split(",") if p.strip())
    return names


class _HubSpotRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def objects(self, request: Request, param: str = "object_type") -> HubSpotObjects:
        name = request.path_params[param]
        found = self.state.hubspot.object_type(name)
        if found is None:
            raise HubSpotError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
        return found

    def _with_links(
        self, objects: HubSpotObjects, out: dict[str, Any], to_types: list[str]
    ) -> dict[str, Any]:
        """Add v3 ``associations`` (only non-empty ones, as HubSpot does) to a record."""
        links = self.state.hubspot.associations
        found: dict[str, Any] = {}
        for to_type in to_types:
            entries = links.v3_entries(objects.kind.name, int(out["id"]), to_type)
            if entries:
                found[to_type] = {"results": entries}
        if found:
            out["associations"] = found
        return out

    def _link_inputs(self, objects: HubSpotObjects, raw: Any) -> list[tuple[str, int, bool]]:
        """Validate a create's ``associations`` array: (to type, to id, Primary type?)."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: associations")
        out: list[tuple[str, int, bool]] = []
        for item in raw:
            to_id = str(((item or {}).get("to") or {}).get("id", ""))
            for spec in (item or {}).get("types") or []:
                type_id = int(spec.get("associationTypeId") or 0)
                pair = association_pair(type_id)
                if pair is None or pair[0] != objects.kind.name:
                    raise HubSpotError(
                        400,
                        "VALIDATION_ERROR",
                        f"{spec.get('associationTypeId')} is not a valid association type "
                        f"from {objects.kind.name}",
                    )
                target = self.state.hubspot.objects[pair[1]]
                rec = target.resolve(to_id)
                if rec is None:
                    raise HubSpotError(
                        400,
                        "VALIDATION_ERROR",
                        f"One or more associated objects were not found: {pair[1]} {to_id}",
                        context={"id": [to_id]},
                    )
                out.append((pair[1], rec.id, PRIMARY_TYPES.get(pair) == type_id))
        return out

    def _link_created(
        self, objects: HubSpotObjects, rec_id: int, links: list[tuple[str, int, bool]]
    ) -> None:
        now = self.state.now_ms()
        for to_type, to_id, primary in links:
            self.state.hubspot.associate(
                objects.kind.name, rec_id, to_type, to_id, now, primary=primary
            )

    def _not_found(self, objects: HubSpotObjects, ref: str) -> HubSpotError:
        return HubSpotError(
            404,
            "OBJECT_NOT_FOUND",
            "resource not found",
            context={"id": [ref]},
        )

    def _link(self, request: Request, after: str) -> str:
        return str(request.url.include_query_params(after=after))

    # -- single objects --------------------------------------------------------------------

    async def list_page(self, request: Request) -> Response:
        objects = self.objects(request)
        try:
            limit = min(int(request.query_params.get("limit", "10")), LIST_MAX)
            after = int(request.query_params.get("after") or 0)
        except ValueError as exc:
            raise HubSpotError(400, "VALIDATION_ERROR", "limit and after must be integers") from exc
        props = _properties_param(request)
        to_types = _associations_param(request)
        with self.state.lock:
            if _flag(request, "archived"):
                ids = sorted(i for i in objects.archived if i >= after)
                page = [objects.archived[i] for i in ids[: limit + 1]]
                results = [objects.to_json(r, props) for r in page[:limit]]
                next_after = str(page[limit].id) if len(page) > limit else None
            else:
                pairs = objects.store.page_after_seq(after, limit + 1)
                results = []
                for _seq, key in pairs[:limit]:
                    rec = objects.record(key)
                    if rec is not None:
                        results.append(
                            self._with_links(objects, objects.to_json(rec, props), to_types)
                        )
                next_after = str(pairs[limit][0]) if len(pairs) > limit else None
        body: dict[str, Any] = {"results": results}
        if next_after is not None:
            body["paging"] = {
                "next": {"after": next_after, "link": self._link(request, next_after)}
            }
        return JSONResponse(body)

    async def get_one(self, request: Request) -> Response:
        objects = self.objects(request)
        ref = request.path_params["object_id"]
        with self.state.lock:
            rec = objects.resolve(ref, request.query_params.get("idProperty"))
            if rec is None and _flag(request, "archived") and ref.isdigit():
                rec = objects.archived.get(int(ref))
            if rec is None:
                raise self._not_found(objects, ref)
            out = objects.to_json(rec, _properties_param(request))
            return JSONResponse(self._with_links(objects, out, _associations_param(request)))

    async def create(self, request: Request) -> Response:
        objects = self.objects(request)
        body = await _json_body(request)
        _properties_of(body)
        with self.state.lock:
            links = self._link_inputs(objects, body.get("associations"))
            rec = objects.create(body["properties"], self.state.now_ms())
            self._link_created(objects, rec.id, links)
            return JSONResponse(objects.to_json(rec, _written(objects, body["properties"])), 201)

    async def update(self, request: Request) -> Response:
        objects = self.objects(request)
        ref = request.path_params["object_id"]
        body = await _json_body(request)
        _properties_of(body)
        with self.state.lock:
            rec = objects.resolve(ref, request.query_params.get("idProperty"))
            if rec is None:
                raise self._not_found(objects, ref)
            objects.update(rec, body["properties"], self.state.now_ms())
            return JSONResponse(objects.to_json(rec, _written(objects, body["properties"])))

    async def archive(self, request: Request) -> Response:
        objects = self.objects(request)
        ref = request.path_params["object_id"]
        with self.state.lock:
            rec = objects.resolve(ref, request.query_params.get("idProperty"))
            if rec is not None:
                objects.archive(rec, self.state.now_ms())
        return Response(status_code=204)

    async def search(self, request: Request) -> Response:
        objects = self.objects(request)
        body = await _json_body(request)
        props = (body or {}).get("properties") if isinstance(body, dict) else None
        with self.state.lock:
            page = run_search(objects, body if body is not None else {})
            results = [objects.to_json(r, props or None) for r in page.records]
        out: dict[str, Any] = {"total": page.total, "results": results}
        if page.next_after is not None:
            out["paging"] = {"next": {"after": page.next_after, "link": str(request.url)}}
        return JSONResponse(out)

    async def merge(self, request: Request) -> Response:
        objects = self.objects(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON")
        primary_ref = str(body.get("primaryObjectId") or "")
        other_ref = str(body.get("objectIdToMerge") or "")
        if not primary_ref or not other_ref:
            raise HubSpotError(
                400, "VALIDATION_ERROR", "primaryObjectId and objectIdToMerge are required"
            )
        if primary_ref == other_ref:
            raise HubSpotError(400, "VALIDATION_ERROR", "Cannot merge an object with itself")
        with self.state.lock:
            primary = objects.resolve(primary_ref)
            other = objects.resolve(other_ref)
            if primary is None:
                raise self._not_found(objects, primary_ref)
            if other is None:
                raise self._not_found(objects, other_ref)
            objects.merge(primary, other, self.state.now_ms())
            props = [*objects.kind.default_properties, "hs_merged_object_ids"]
            return JSONResponse(objects.to_json(primary, props))

    # -- properties (the account's schema) -------------------------------------------------

    async def properties_list(self, request: Request) -> Response:
        objects = self.objects(request)
        with self.state.lock:
            return JSONResponse({"results": objects.properties.all()})

    async def property_get(self, request: Request) -> Response:
        objects = self.objects(request)
        with self.state.lock:
            return JSONResponse(objects.properties.get(request.path_params["property_name"]))

    async def property_create(self, request: Request) -> Response:
        objects = self.objects(request)
        body = await _json_body(request)
        with self.state.lock:
            return JSONResponse(objects.define_property(body, self.state.now_ms()), 201)

    async def property_archive(self, request: Request) -> Response:
        objects = self.objects(request)
        with self.state.lock:
            objects.archive_property(request.path_params["property_name"])
        return Response(status_code=204)

    # -- associations v4 --------------------------------------------------------------------

    async def associations_page(self, request: Request) -> Response:
        objects = self.objects(request)
        target = self.objects(request, "to_object_type")
        ref = request.path_params["object_id"]
        try:
            limit = min(int(request.query_params.get("limit", str(ASSOCIATIONS_MAX))), 500)
            after = int(request.query_params.get("after") or 0)
        except ValueError as exc:
            raise HubSpotError(400, "VALIDATION_ERROR", "limit and after must be integers") from exc
        links = self.state.hubspot.associations
        with self.state.lock:
            rec = objects.resolve(ref)
            from_id = rec.id if rec is not None else 0
            ids = links.targets(objects.kind.name, from_id, target.kind.name)
            results = [
                {
                    "toObjectId": to_id,
                    "associationTypes": links.types(
                        objects.kind.name, from_id, target.kind.name, to_id
                    ),
                }
                for to_id in ids[after : after + limit]
            ]
        out: dict[str, Any] = {"results": results}
        if after + limit < len(ids):
            next_after = str(after + limit)
            out["paging"] = {"next": {"after": next_after, "link": self._link(request, next_after)}}
        return JSONResponse(out)

    def _pair(self, request: Request) -> tuple[HubSpotObjects, int, HubSpotObjects, int]:
        objects = self.objects(request)
        target = self.objects(request, "to_object_type")
        ref, to_ref = request.path_params["object_id"], request.path_params["to_object_id"]
        rec, to_rec = objects.resolve(ref), target.resolve(to_ref)
        if rec is None:
            raise self._not_found(objects, ref)
        if to_rec is None:
            raise self._not_found(target, to_ref)
        return objects, rec.id, target, to_rec.id

    async def associate_default(self, request: Request) -> Response:
        started = iso_ms_z(self.state.now_ms())
        with self.state.lock:
            objects, from_id, target, to_id = self._pair(request)
            links = self.state.hubspot.associations
            self.state.hubspot.associate(
                objects.kind.name, from_id, target.kind.name, to_id, self.state.now_ms()
            )
            types = links.types(objects.kind.name, from_id, target.kind.name, to_id)
        results = [
            {
                "from": {"id": str(from_id)},
                "to": {"id": str(to_id)},
                "associationSpec": {
                    "associationCategory": t["category"],
                    "associationTypeId": t["typeId"],
                },
            }
            for t in types
        ]
        return JSONResponse(
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": iso_ms_z(self.state.now_ms()),
            }
        )

    async def dissociate(self, request: Request) -> Response:
        with self.state.lock:
            objects, from_id, target, to_id = self._pair(request)
            self.state.hubspot.dissociate(
                objects.kind.name, from_id, target.kind.name, to_id, self.state.now_ms()
            )
        return Response(status_code=204)

    # -- associations v4 batch ------------------------------------------------------------

    async def associations_batch(self, request: Request) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/{create|associate/default|read}``.

        Items whose from or to object does not exist (or whose type is not one of the
        direction's HUBSPOT_DEFINED ids) go into ``errors[]`` with a 207, the rest are applied.
        ``associate/default`` answers as the v4 spec and the official client expect it
        (200, ``BatchResponsePublicDefaultAssociation``: from, to, associationSpec per type, as
        the single ``PUT .../associations/default/...`` does), not in batch/create's
        ``LabelsBetweenObjectPair`` shape. batch/read answers an existing object without links
        with ``to: []``.
        """
        action = request.path_params["action"]
        handler: Callable[[HubSpotObjects, HubSpotObjects, dict[str, Any]], dict[str, Any]]
        found = {
            "create": (self._assoc_create, 201),
            "associate/default": (self._assoc_default, 200),
            "read": (self._assoc_read, 200),
        }.get(action)
        if found is None:
            return JSONResponse(_error_body("OBJECT_NOT_FOUND", "resource not found"), 404)
        handler, ok = found
        from_objects = self.objects(request, "from_object_type")
        to_objects = self.objects(request, "to_object_type")
        inputs = _batch_inputs(await _json_body(request), ASSOCIATIONS_BATCH_MAX)
        every = partial_batch_every(request.scope)
        started = iso_ms_z(self.state.now_ms())
        results: list[dict[str, Any]] = []

        def handle(item: dict[str, Any], trace: Any) -> None:
            results.extend(handler(from_objects, to_objects, item)["results"])

        with self.state.lock:
            errors = _each_input(inputs, every, handle)
        return _batch_answer(
            results, errors, ok, startedAt=started, completedAt=iso_ms_z(self.state.now_ms())
        )

    def _assoc_ref(self, objects: HubSpotObjects, raw: Any, side: str) -> int:
        """The id of an item's ``from`` / ``to`` object, an item error when it does not exist."""
        ref = str(raw.get("id", "")) if isinstance(raw, dict) else ""
        rec = objects.resolve(ref) if ref else None
        if rec is None:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"No {objects.kind.name} with id {ref or '(none)'} exist ({side} object).",
                context={f"{side}ObjectId": [ref]},
            )
        return rec.id

    def _assoc_ids(
        self, from_objects: HubSpotObjects, to_objects: HubSpotObjects, item: dict[str, Any]
    ) -> tuple[int, int]:
        return (
            self._assoc_ref(from_objects, item.get("from"), "from"),
            self._assoc_ref(to_objects, item.get("to"), "to"),
        )

    def _assoc_create(
        self, from_objects: HubSpotObjects, to_objects: HubSpotObjects, item: dict[str, Any]
    ) -> dict[str, Any]:
        pair = (from_objects.kind.name, to_objects.kind.name)
        allowed = {t for t in (ASSOCIATION_TYPES.get(pair), PRIMARY_TYPES.get(pair)) if t}
        specs = item.get("types")
        if not isinstance(specs, list) or not specs:
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: types is required")
        primary = False
        for spec in specs:
            spec = spec if isinstance(spec, dict) else {}
            category, type_id = spec.get("associationCategory"), spec.get("associationTypeId")
            if category != "HUBSPOT_DEFINED" or type_id not in allowed:
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    f"{category} {type_id} is not a valid association type between "
                    f"{pair[0]} and {pair[1]}",
                    context={"associationTypeId": [str(type_id)]},
                )
            primary = primary or type_id == PRIMARY_TYPES.get(pair)
        from_id, to_id = self._assoc_ids(from_objects, to_objects, item)
        hub = self.state.hubspot
        hub.associate(pair[0], from_id, pair[1], to_id, self.state.now_ms(), primary=primary)
        types = hub.associations.types(pair[0], from_id, pair[1], to_id)
        return {
            "results": [
                {
                    "fromObjectTypeId": _TYPE_IDS[pair[0]],
                    "fromObjectId": from_id,
                    "toObjectTypeId": _TYPE_IDS[pair[1]],
                    "toObjectId": to_id,
                    "labels": [t["label"] for t in types if t["label"]],
                }
            ]
        }

    def _assoc_default(
        self, from_objects: HubSpotObjects, to_objects: HubSpotObjects, item: dict[str, Any]
    ) -> dict[str, Any]:
        pair = (from_objects.kind.name, to_objects.kind.name)
        if pair not in ASSOCIATION_TYPES:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"There is no default association type between {pair[0]} and {pair[1]}",
            )
        from_id, to_id = self._assoc_ids(from_objects, to_objects, item)
        hub = self.state.hubspot
        hub.associate(pair[0], from_id, pair[1], to_id, self.state.now_ms())
        return {
            "results": [
                {
                    "from": {"id": str(from_id)},
                    "to": {"id": str(to_id)},
                    "associationSpec": {
                        "associationCategory": t["category"],
                        "associationTypeId": t["typeId"],
                    },
                }
                for t in hub.associations.types(pair[0], from_id, pair[1], to_id)
            ]
        }

    def _assoc_read(
        self, from_objects: HubSpotObjects, to_objects: HubSpotObjects, item: dict[str, Any]
    ) -> dict[str, Any]:
        from_id = self._assoc_ref(from_objects, item, "from")
        links = self.state.hubspot.associations
        pair = (from_objects.kind.name, to_objects.kind.name)
        return {
            "results": [
                {
                    "from": {"id": str(from_id)},
                    "to": [
                        {
                            "toObjectId": to_id,
                            "associationTypes": links.types(pair[0], from_id, pair[1], to_id),
                        }
                        for to_id in links.targets(pair[0], from_id, pair[1])
                    ],
                }
            ]
        }

    # -- batch -----------------------------------------------------------------------------

    async def batch(self, request: Request) -> Response:
        objects = self.objects(request)
        action = request.path_params["action"]
        body = await _json_body(request)
        inputs = _batch_inputs(body, BATCH_MAX)
        every = partial_batch_every(request.scope)
        started = iso_ms_z(self.state.now_ms())
        handler = {
            "read": self._batch_read,
            "create": self._batch_create,
            "update": self._batch_update,
            "upsert": self._batch_upsert,
            "archive": self._batch_archive,
        }.get(action)
        if handler is None:
            return JSONResponse(_error_body("OBJECT_NOT_FOUND", "resource not found"), 404)
        results: list[dict[str, Any]] = []

        def handle(item: dict[str, Any], trace: Any) -> None:
            out = handler(objects, item, body)
            if out is not None:
                if trace:
                    out["objectWriteTraceId"] = trace
                results.append(out)

        with self.state.lock:
            errors = _each_input(inputs, every, handle, traced=True)
        if action == "archive":
            return Response(status_code=204)
        return _batch_answer(
            results,
            errors,
            201 if action == "create" else 200,
            requestedAt=started,
            startedAt=started,
            completedAt=iso_ms_z(self.state.now_ms()),
        )

    def _check_duplicates(self, inputs: list[Any], key: Callable[[dict[str, Any]], str]) -> None:
        seen: set[str] = set()
        dupes: list[str] = []
        for item in inputs:
            if isinstance(item, dict):
                value = key(item)
                if value and value in seen:
                    dupes.append(value)
                seen.add(value)
        if dupes:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
                context={"ids": dupes},
            )

    async def batch_guarded(self, request: Request) -> Response:
        """Whole-request validation (upsert keys, duplicates) before per-item work."""
        action = request.path_params["action"]
        if action in ("upsert", "create", "update"):
            body = await _json_body(request)
            if isinstance(body, dict) and isinstance(body.get("inputs"), list):
                if action != "create":
                    self._check_id_properties(self.objects(request), action, body["inputs"])
                if action == "upsert":
                    self._check_duplicates(body["inputs"], lambda i: str(i.get("id", "")).lower())
                elif action == "create":
                    self._check_duplicates(
                        body["inputs"],
                        lambda i: (
                            str((i.get("properties") or {}).get("email") or "").strip().lower()
                        ),
                    )
        return await self.batch(request)

    def _check_id_properties(self, objects: HubSpotObjects, action: str, inputs: list[Any]) -> None:
        """An ``idProperty`` that is not a unique property fails the whole call (400), as
        HubSpot does; an upsert must name one, an update may leave it out (ids)."""
        with self.state.lock:
            unique = objects.unique_properties
        for item in inputs:
            if not isinstance(item, dict):
                continue
            id_property = item.get("idProperty")
            if action == "update" and id_property in (None, "", "hs_object_id"):
                continue
            if id_property not in unique:
                raise objects.not_unique(str(id_property or ""))

    def _batch_read(
        self, objects: HubSpotObjects, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        ref = str(item.get("id", ""))
        rec = objects.resolve(ref, body.get("idProperty"))
        if rec is None:
            raise HubSpotError(
                404,
                "OBJECT_NOT_FOUND",
                f"Could not get some {objects.kind.label} objects, they may be deleted or not "
                "exist. Check that ids are valid.",
                context={"ids": [ref]},
            )
        return objects.to_json(rec, body.get("properties") or None)

    def _batch_create(
        self, objects: HubSpotObjects, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        props = _properties_of(item)
        links = self._link_inputs(objects, item.get("associations"))
        rec = objects.create(props, self.state.now_ms())
        self._link_created(objects, rec.id, links)
        return objects.to_json(rec, _written(objects, props))

    def _batch_update(
        self, objects: HubSpotObjects, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        props = _properties_of(item)
        ref = str(item.get("id", ""))
        rec = objects.resolve(ref, item.get("idProperty"))
        if rec is None:
            raise HubSpotError(
                404,
                "OBJECT_NOT_FOUND",
                f"Could not update some {objects.kind.label} objects, they may be deleted or "
                "not exist. Check that ids are valid.",
                context={"ids": [ref]},
            )
        objects.update(rec, props, self.state.now_ms())
        return objects.to_json(rec, _written(objects, props))

    def _batch_upsert(
        self, objects: HubSpotObjects, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        props = _properties_of(item)
        ref = str(item.get("id", ""))
        id_property = str(item.get("idProperty") or "")
        if id_property not in objects.unique_properties:
            raise objects.not_unique(id_property)
        rec = objects.resolve(ref, id_property)
        if rec is None:
            create_props = {id_property: ref, **props}
            rec = objects.create(create_props, self.state.now_ms())
            out = objects.to_json(rec, _written(objects, create_props))
            out["new"] = True
            return out
        objects.update(rec, props, self.state.now_ms())
        out = objects.to_json(rec, _written(objects, props))
        out["new"] = False
        return out

    async def unsubscribe_all(self, request: Request) -> Response:
        """Communication preferences v4: opt a subscriber (an email address) out of every
        subscription of a channel; the contact's ``hs_email_optout`` follows."""
        subscriber = request.path_params["subscriber"]
        channel = request.query_params.get("channel")
        if channel != "EMAIL":
            raise HubSpotError(400, "VALIDATION_ERROR", "channel must be EMAIL")
        now = self.state.now_ms()
        contacts = self.state.hubspot.objects["contacts"]
        with self.state.lock:
            rec = contacts.resolve(subscriber, "email")
            if request.method == "POST":
                self.state.hubspot.opted_out.add(subscriber.strip().lower())
                if rec is not None:
                    contacts.update(rec, {"hs_email_optout": "true"}, now, human=True)
            opted = subscriber.strip().lower() in self.state.hubspot.opted_out or (
                rec is not None and rec.properties.get("hs_email_optout") == "true"
            )
        stamp = iso_ms_z(now)
        results = [
            {
                "channel": "EMAIL",
                "status": "UNSUBSCRIBED",
                "subscriberIdString": subscriber,
                "timestamp": stamp,
                "wideStatusType": "PORTAL_WIDE",
            }
        ]
        body = {
            "status": "COMPLETE",
            "results": results if opted else [],
            "startedAt": stamp,
            "completedAt": stamp,
        }
        return JSONResponse(body)

    def _batch_archive(
        self, objects: HubSpotObjects, item: dict[str, Any], body: dict[str, Any]
    ) -> None:
        rec = objects.resolve(str(item.get("id", "")))
        if rec is not None:
            objects.archive(rec, self.state.now_ms())


def hubspot_app(state: SandboxState) -> ASGIApp:
    """The HubSpot sub-application, to mount at ``/hubspot``."""
    r = _HubSpotRoutes(state)
    base = "/crm/v3/objects/{object_type}"
    v4 = "/crm/v4/objects/{object_type}/{object_id}/associations"
    props = "/crm/v3/properties/{object_type}"
    v4_batch = "/crm/v4/associations/{from_object_type}/{to_object_type}/batch"
    router = Router(
        routes=[
            Route(base + "/search", _guard(r.search), methods=["POST"]),
            Route(base + "/merge", _guard(r.merge), methods=["POST"]),
            Route(base + "/batch/{action}", _guard(r.batch_guarded), methods=["POST"]),
            Route(base, _guard(r.list_page), methods=["GET"]),
            Route(base, _guard(r.create), methods=["POST"]),
            Route(base + "/{object_id}", _guard(r.get_one), methods=["GET"]),
            Route(base + "/{object_id}", _guard(r.update), methods=["PATCH"]),
            Route(base + "/{object_id}", _guard(r.archive), methods=["DELETE"]),
            Route(props, _guard(r.properties_list), methods=["GET"]),
            Route(props, _guard(r.property_create), methods=["POST"]),
            Route(props + "/{property_name}", _guard(r.property_get), methods=["GET"]),
            Route(props + "/{property_name}", _guard(r.property_archive), methods=["DELETE"]),
            Route(v4 + "/{to_object_type}", _guard(r.associations_page), methods=["GET"]),
            Route(
                v4 + "/default/{to_object_type}/{to_object_id}",
                _guard(r.associate_default),
                methods=["PUT"],
            ),
            Route(
                v4 + "/{to_object_type}/{to_object_id}", _guard(r.dissociate), methods=["DELETE"]
            ),
            Route(v4_batch + "/{action:path}", _guard(r.associations_batch), methods=["POST"]),
            Route(
                "/communication-preferences/v4/statuses/{subscriber}/unsubscribe-all",
                _guard(r.unsubscribe_all),
                methods=["GET", "POST"],
            ),
            *metadata_routes(_guard),
        ]
    )
    return _Gate(router, state)
