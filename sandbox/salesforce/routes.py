"""Salesforce REST API over HTTP: query/queryAll, sObject rows, upserts, collections, limits.

Mounted under ``/salesforce`` (standing in for ``https://<MyDomain>.my.salesforce.com``); the
API lives under ``/services/data/v62.0``. A gate checks the bearer session id and counts the
org's rolling 24-hour API allocation, stamping ``Sforce-Limit-Info: api-usage=N/M`` on every
authenticated response; over the allocation every call is ``403 REQUEST_LIMIT_EXCEEDED``.
``POST /services/oauth2/token`` is the login service's refresh-token grant: it stands outside
the gate (no session needed, not counted against the allocation) and issues the one session id
the gate accepts.
Salesforce publishes no static OpenAPI for this API; shapes follow the REST API Developer Guide,
and ``sandbox/specs/salesforce.openapi.yaml`` (hand-written from it, not a vendor file) is what
``tests/contract/test_contract_salesforce.py`` validates the served exchanges against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.credentials import (
    SANDBOX_SALESFORCE_CLIENT_ID,
    SANDBOX_SALESFORCE_CLIENT_SECRET,
    SANDBOX_SALESFORCE_REFRESH_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
)
from sandbox.faults import partial_batch_every
from sandbox.gate import Gate, Handler, guard, json_body
from sandbox.ratelimit import LimitDecision, WindowLimiter
from sandbox.salesforce.bulk import bulk_routes
from sandbox.salesforce.soql import SoqlError, parse_soql
from sandbox.salesforce.store import (
    API_VERSION,
    CHILD_RELATIONSHIPS,
    MERGEABLE,
    SOBJECTS,
    QueryCursor,
    SalesforceData,
    SalesforceError,
    SObjectTable,
)
from sandbox.state import SandboxState

__all__ = [
    "COLLECTION_MAX",
    "DEFAULT_BATCH",
    "salesforce_app",
    "salesforce_error_renderer",
]

logger = logging.getLogger(__name__)

COLLECTION_MAX = 200
DEFAULT_BATCH = 2000
MIN_BATCH = 200
_VERSION_RE = re.compile(r"^v(\d{2})\.0$")
_JSON = "application/json;charset=UTF-8"
TOKEN_PATH = "/services/oauth2/token"
ORG_ID = "00D5g000004SbXqEAK"
USER_ID = "0055g00000AbCdEAAV"


def salesforce_error_renderer(status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Salesforce bodies for injected faults: a JSON array of ``{message, errorCode}``.

    The fault switchboard types bodies as objects; Salesforce's are arrays, which the
    switchboard serialises the same way (hence the cast).
    """
    code = {
        429: "REQUEST_LIMIT_EXCEEDED",
        500: "UNKNOWN_EXCEPTION",
        502: "SERVER_UNAVAILABLE",
        503: "SERVER_UNAVAILABLE",
        504: "REQUEST_RUNNING_TOO_LONG",
    }.get(status, "UNKNOWN_EXCEPTION")
    return cast(dict[str, Any], [{"message": message, "errorCode": code}]), {}


def _error(err: SalesforceError | SoqlError) -> JSONResponse:
    if isinstance(err, SoqlError):
        return JSONResponse([{"message": err.message, "errorCode": err.code}], 400)
    body: list[dict[str, Any]] = err.body()
    if err.code in ("MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "INVALID_QUERY_LOCATOR"):
        body = [{"message": err.message, "errorCode": err.code}]
    return JSONResponse(body, err.status)


class _Gate(Gate):
    """Bearer session id, the daily API allocation and ``Sforce-Limit-Info``."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope.get("sandbox.vendor_path", scope["path"])).rstrip("/").endswith(TOKEN_PATH):
            await self.forward(scope, receive, send)  # the login service: no session yet
            return
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if token != SANDBOX_SALESFORCE_TOKEN:
            body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            await self.reply(scope, receive, send, JSONResponse(body, 401))
            return
        limiter: WindowLimiter = self.state.limits["salesforce"]
        decision = limiter.hit("org")
        scope["sandbox.salesforce_usage"] = decision
        used = decision.max - decision.remaining
        info = [(b"sforce-limit-info", f"api-usage={used}/{decision.max}".encode())]
        if not decision.allowed:
            response = JSONResponse(
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
                403,
            )
            await self.reply(scope, receive, send, response, info)
            return

        await self.forward(scope, receive, send, info)


def _guard(fn: Handler) -> Handler:
    guarded = guard((SalesforceError, SoqlError), _error)(fn)

    async def wrapped(request: Request) -> Response:
        version = request.path_params.get("version", "v" + API_VERSION)
        match = _VERSION_RE.match(version)
        if match is None or not 31 <= int(match[1]) <= int(API_VERSION[:2]):
            return JSONResponse(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                404,
            )
        return await guarded(request)

    return wrapped


async def _json_body(request: Request) -> Any:
    return await json_body(
        request,
        lambda exc: SalesforceError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}"),
    )


def _version(request: Request) -> str:
    return str(request.path_params.get("version", "v" + API_VERSION))[1:]


def _batch_size(request: Request) -> int:
    header = request.headers.get("sforce-query-options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", header)
    if match is None:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match[1])))


def _item_error(err: SalesforceError) -> dict[str, Any]:
    """Per-record errors in collections use ``statusCode`` (not ``errorCode``)."""
    return {"statusCode": err.code, "message": err.message, "fields": err.fields}


_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def _token_error(description: str, error: str = "invalid_grant") -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, 400)


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def data(self) -> SalesforceData:
        return cast(SalesforceData, self.state.salesforce)

    def now(self) -> int:
        return self.state.now_ms()

    # -- OAuth 2.0 ------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """The refresh-token grant, form-encoded as Salesforce takes it (client credentials in
        the body or as HTTP Basic); errors are OAuth's ``{error, error_description}``."""
        raw = (await request.body()).decode("utf-8", "replace")
        values = dict(parse_qsl(raw, keep_blank_values=True))
        basic = request.headers.get("authorization", "")
        if basic[:6].lower() == "basic ":
            try:
                pair = base64.b64decode(basic[6:].strip()).decode()
            except ValueError:
                pair = ""
            client_id, _, client_secret = pair.partition(":")
            values.setdefault("client_id", client_id)
            values.setdefault("client_secret", client_secret)
        grant = values.get("grant_type")
        if grant != "refresh_token":
            return _token_error("grant type not supported", "unsupported_grant_type")
        if values.get("client_id") != SANDBOX_SALESFORCE_CLIENT_ID:
            return _token_error("client identifier invalid", "invalid_client_id")
        if (
            values.get("client_secret") != SANDBOX_SALESFORCE_CLIENT_SECRET
            or values.get("refresh_token") != SANDBOX_SALESFORCE_REFRESH_TOKEN
        ):
            return _token_error("authentication failure")
        issued_at = str(self.now())
        # the mount included (the instance URL the API lives under, /salesforce here)
        instance = str(request.url.replace(query="")).rstrip("/").removesuffix(TOKEN_PATH)
        identity = f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}"
        signature = base64.b64encode(
            hmac.new(
                SANDBOX_SALESFORCE_CLIENT_SECRET.encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        return JSONResponse(
            {
                "access_token": SANDBOX_SALESFORCE_TOKEN,
                "instance_url": instance,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": signature,
                "scope": "api refresh_token",
            }
        )

    # -- discovery -------------------------------------------------------------------------

    async def versions(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "label": "Winter '25",
                    "url": f"/services/data/v{API_VERSION}",
                    "version": API_VERSION,
                }
            ]
        )

    async def resources(self, request: Request) -> Response:
        base = f"/services/data/v{_version(request)}"
        names = ("composite", "limits", "query", "queryAll", "search", "sobjects")
        return JSONResponse({name: f"{base}/{name}" for name in names})

    async def limits(self, request: Request) -> Response:
        decision: LimitDecision = request.scope["sandbox.salesforce_usage"]
        return JSONResponse(
            {
                "DailyApiRequests": {"Max": decision.max, "Remaining": decision.remaining},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": 5120, "Remaining": 5100},
            }
        )

    async def describe_global(self, request: Request) -> Response:
        version = _version(request)
        sobjects = [
            {
                "name": d.name,
                "label": d.name,
                "keyPrefix": d.prefix,
                "queryable": True,
                "createable": True,
                "updateable": True,
                "deletable": True,
                "urls": {"sobject": f"/services/data/v{version}/sobjects/{d.name}"},
            }
            for d in SOBJECTS.values()
        ]
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    async def describe(self, request: Request) -> Response:
        table = self.data.table(request.path_params["sobject"])
        d = table.definition
        fields = [
            {
                "name": f.name,
                "type": f.type,
                "createable": f.createable,
                "updateable": f.updateable,
                "nillable": not f.required and f.type != "boolean",
                "externalId": f.external_id,
                "unique": f.unique,
                "referenceTo": [f.reference_to] if f.reference_to else [],
                "relationshipName": f.relationship,
                "restrictedPicklist": f.type == "picklist" and f.restricted,
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": False}
                    for v in f.picklist
                ],
            }
            for f in d.fields
        ]
        return JSONResponse(
            {
                "name": d.name,
                "keyPrefix": d.prefix,
                "queryable": True,
                "createable": True,
                "updateable": True,
                "deletable": True,
                "mergeable": d.name in MERGEABLE,
                "fields": fields,
                # what a parent-to-child subquery names in its FROM
                "childRelationships": [
                    {"childSObject": r.child, "field": r.field, "relationshipName": r.name}
                    for r in CHILD_RELATIONSHIPS.get(d.name, {}).values()
                ],
            }
        )

    # -- queries ---------------------------------------------------------------------------

    def _page(self, cursor: QueryCursor, start: int, version: str, total: int) -> Response:
        with self.state.lock:
            records, position = self.data.render(cursor, start, version)
        body: dict[str, Any] = {"totalSize": total, "done": position >= len(cursor.keys)}
        if not body["done"]:
            kind = "queryAll" if cursor.include_deleted else "query"
            body["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{cursor.locator}-{position}"
        body["records"] = records
        return JSONResponse(body)

    async def query(self, request: Request) -> Response:
        return await self._query(request, include_deleted=False)

    async def query_all(self, request: Request) -> Response:
        return await self._query(request, include_deleted=True)

    async def _query(self, request: Request, *, include_deleted: bool) -> Response:
        text = request.query_params.get("q")
        if text is None:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string must be provided.")
        parsed = parse_soql(text)
        with self.state.lock:
            total, cursor = self.data.run_query(
                parsed,
                include_deleted=include_deleted,
                batch=_batch_size(request),
                now_ms=self.now(),
            )
        if parsed.count_only:
            return JSONResponse({"totalSize": total, "done": True, "records": []})
        return self._page(cursor, 0, _version(request), total)

    async def query_more(self, request: Request) -> Response:
        locator, _, start = request.path_params["locator"].rpartition("-")
        if not locator or not start.isdigit():
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        with self.state.lock:
            cursor = self.data.cursor(locator, self.now())
        return self._page(cursor, int(start), _version(request), len(cursor.keys))

    # -- single rows -----------------------------------------------------------------------

    def _table(self, request: Request) -> SObjectTable:
        return self.data.table(request.path_params["sobject"])

    def _row(self, table: SObjectTable, ref: str) -> dict[str, Any]:
        if table.normalize_id(ref) is None:
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {ref}",
            )
        rec = table.get(ref, include_deleted=True)
        if rec is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        if rec["IsDeleted"]:
            raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return rec

    async def sobject_info(self, request: Request) -> Response:
        table = self._table(request)
        version = _version(request)
        with self.state.lock:
            recent = [
                self.data.project(table, rec, ["Id", table.definition.name_field], version)
                for rec in list(table.store.values())[-5:]
                if not rec["IsDeleted"]
            ]
        d = table.definition
        return JSONResponse(
            {
                "objectDescribe": {"name": d.name, "keyPrefix": d.prefix, "queryable": True},
                "recentItems": recent,
            }
        )

    async def create(self, request: Request) -> Response:
        table = self._table(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be an object")
        with self.state.lock:
            self.data.check_duplicates(table, body, None)
            rec = table.create(body, self.now())
        return JSONResponse({"id": rec["Id"], "success": True, "errors": []}, 201)

    async def get_row(self, request: Request) -> Response:
        table = self._table(request)
        wanted = request.query_params.get("fields")
        with self.state.lock:
            rec = self._row(table, request.path_params["ref"])
            if wanted:
                names = [
                    self.data._plain_field(table.definition, f.strip())
                    for f in wanted.split(",")
                    if f.strip()
                ]
                return JSONResponse(self.data.project(table, rec, names, _version(request)))
            return JSONResponse(self.data.full(table, rec, _version(request)))

    async def update_row(self, request: Request) -> Response:
        table = self._table(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be an object")
        with self.state.lock:
            rec = self._row(table, request.path_params["ref"])
            self.data.check_duplicates(table, body, rec["Id"])
            table.update(rec, body, self.now())
        return Response(status_code=204)

    async def delete_row(self, request: Request) -> Response:
        table = self._table(request)
        with self.state.lock:
            rec = self._row(table, request.path_params["ref"])
            table.delete(rec, self.now())
        return Response(status_code=204)

    def _external_field(self, table: SObjectTable, name: str) -> str:
        fd = table.definition.field(name)
        if fd is None or not (fd.external_id or fd.name == "Id"):
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
            )
        return fd.name

    def _by_external(
        self, table: SObjectTable, field_name: str, value: str, version: str
    ) -> dict[str, Any] | None:
        if field_name == "Id":
            rec = table.get(value)
            if rec is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            return rec
        found = table.by_external(field_name, value)
        if len(found) > 1:
            raise _MultipleMatches(
                [
                    f"/services/data/v{version}/sobjects/{table.definition.name}/{r['Id']}"
                    for r in found
                ]
            )
        return found[0] if found else None

    async def get_by_external(self, request: Request) -> Response:
        table = self._table(request)
        version = _version(request)
        field_name = self._external_field(table, request.path_params["field"])
        value = unquote(request.path_params["value"])
        with self.state.lock:
            try:
                rec = self._by_external(table, field_name, value, version)
            except _MultipleMatches as many:
                return JSONResponse(many.urls, 300)
            if rec is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            return JSONResponse(self.data.full(table, rec, version))

    async def upsert(self, request: Request) -> Response:
        table = self._table(request)
        version = _version(request)
        field_name = self._external_field(table, request.path_params["field"])
        value = unquote(request.path_params["value"])
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be an object")
        with self.state.lock:
            try:
                out, created = self._upsert_one(table, field_name, value, body, version)
            except _MultipleMatches as many:
                return JSONResponse(many.urls, 300)
        return JSONResponse(out, 201 if created else 200)

    def _upsert_one(
        self,
        table: SObjectTable,
        field_name: str,
        value: str,
        body: dict[str, Any],
        version: str,
    ) -> tuple[dict[str, Any], bool]:
        given = body.get(field_name)
        if given is not None and str(given) != value:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"The value of the {field_name} field in the request body ({given}) doesn't "
                f"match the value in the URL ({value}).",
                [field_name],
            )
        rec = self._by_external(table, field_name, value, version)
        values = {k: v for k, v in body.items() if k not in ("attributes", field_name)}
        if rec is None:
            create = {**values, field_name: value}
            self.data.check_duplicates(table, create, None)
            rec = table.create(create, self.now())
            return {"id": rec["Id"], "success": True, "errors": [], "created": True}, True
        self.data.check_duplicates(table, values, rec["Id"])
        table.update(rec, values, self.now())
        return {"id": rec["Id"], "success": True, "errors": [], "created": False}, False

    # -- collections -----------------------------------------------------------------------

    def _records(self, body: Any) -> tuple[list[Any], bool]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "records is required")
        records: list[Any] = body["records"]
        if len(records) > COLLECTION_MAX:
            raise SalesforceError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_MAX} records into "
                "this call",
            )
        return records, bool(body.get("allOrNone", False))

    def _run_collection(
        self,
        request: Request,
        records: list[Any],
        all_or_none: bool,
        apply: Callable[[dict[str, Any], list[Callable[[], None]]], dict[str, Any]],
    ) -> Response:
        every = partial_batch_every(request.scope)
        results: list[dict[str, Any]] = []
        undo: list[Callable[[], None]] = []
        failed = False
        with self.state.lock:
            for position, item in enumerate(records, start=1):
                try:
                    if every and position % every == 0:
                        raise SalesforceError(
                            500, "UNKNOWN_EXCEPTION", "Injected partial batch failure (sandbox)"
                        )
                    if not isinstance(item, dict):
                        raise SalesforceError(400, "INVALID_FIELD", "record must be an object")
                    results.append(apply(item, undo))
                except SalesforceError as err:
                    failed = True
                    results.append({"id": None, "success": False, "errors": [_item_error(err)]})
            if all_or_none and failed:
                for step in reversed(undo):
                    step()
                results = [
                    r if not r["success"] else {"id": None, "success": False,
                                                "errors": [dict(_ROLLED_BACK)]}
                    for r in results
                ]  # fmt: skip
        return JSONResponse(results)

    def _type_of(self, item: dict[str, Any]) -> SObjectTable:
        attrs = item.get("attributes")
        if not isinstance(attrs, dict) or not attrs.get("type"):
            raise SalesforceError(
                400, "INVALID_TYPE", "Must send a concrete entity type.", ["attributes"]
            )
        return self.data.table(str(attrs["type"]))

    async def collection_create(self, request: Request) -> Response:
        records, all_or_none = self._records(await _json_body(request))

        def apply(item: dict[str, Any], undo: list[Callable[[], None]]) -> dict[str, Any]:
            table = self._type_of(item)
            if item.get("Id") or item.get("id"):
                raise SalesforceError(
                    400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]
                )
            self.data.check_duplicates(table, item, None)
            rec = table.create(item, self.now())
            undo.append(lambda: table.discard(rec))
            return {"id": rec["Id"], "success": True, "errors": []}

        return self._run_collection(request, records, all_or_none, apply)

    async def collection_update(self, request: Request) -> Response:
        records, all_or_none = self._records(await _json_body(request))

        def apply(item: dict[str, Any], undo: list[Callable[[], None]]) -> dict[str, Any]:
            table = self._type_of(item)
            ref = str(item.get("id") or item.get("Id") or "")
            if not ref:
                raise SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
            rec = table.get(ref)
            if rec is None:
                raise SalesforceError(
                    400, "ENTITY_IS_DELETED" if table.get(ref, include_deleted=True)
                    else "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [],
                )  # fmt: skip
            values = {k: v for k, v in item.items() if k not in ("id", "Id", "attributes")}
            self.data.check_duplicates(table, values, rec["Id"])
            old = dict(rec)
            table.update(rec, values, self.now())
            undo.append(lambda: table.restore(old))
            return {"id": rec["Id"], "success": True, "errors": []}

        return self._run_collection(request, records, all_or_none, apply)

    async def collection_upsert(self, request: Request) -> Response:
        table = self._table(request)
        version = _version(request)
        field_name = self._external_field(table, request.path_params["field"])
        records, all_or_none = self._records(await _json_body(request))

        def apply(item: dict[str, Any], undo: list[Callable[[], None]]) -> dict[str, Any]:
            if self._type_of(item) is not table:
                raise SalesforceError(
                    400, "INVALID_FIELD", "All records must be of the type in the URL"
                )
            value = item.get(field_name)
            if value in (None, ""):
                raise SalesforceError(
                    400,
                    "MISSING_ARGUMENT",
                    f"{field_name} not specified",
                    [field_name],
                )
            try:
                before = self._by_external(table, field_name, str(value), version)
            except _MultipleMatches as many:
                raise SalesforceError(
                    300, "DUPLICATE_EXTERNAL_ID",
                    f"{field_name}: more than one record found for external id field: "
                    f"{many.urls}", [field_name],
                ) from None  # fmt: skip
            old = dict(before) if before is not None else None
            out, created = self._upsert_one(table, field_name, str(value), item, version)
            rec = table.get(out["id"])
            if created and rec is not None:
                undo.append(lambda: table.discard(rec))
            elif old is not None:
                undo.append(lambda: table.restore(old))
            return out

        return self._run_collection(request, records, all_or_none, apply)

    async def collection_delete(self, request: Request) -> Response:
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
        if len(ids) > COLLECTION_MAX:
            raise SalesforceError(
                400, "EXCEEDED_ID_LIMIT", f"cannot delete more than {COLLECTION_MAX} records"
            )

        def apply(item: dict[str, Any], undo: list[Callable[[], None]]) -> dict[str, Any]:
            ref = str(item["id"])
            for table in self.data.tables.values():
                rec = table.get(ref)
                if rec is not None:
                    old = dict(rec)
                    table.delete(rec, self.now())
                    undo.append(lambda t=table, o=old: t.restore(o))  # type: ignore[misc]
                    return {"id": rec["Id"], "success": True, "errors": []}
            raise SalesforceError(400, "ENTITY_IS_DELETED", "entity is deleted")

        return self._run_collection(request, [{"id": i} for i in ids], all_or_none, apply)

    async def collection_retrieve(self, request: Request) -> Response:
        table = self._table(request)
        version = _version(request)
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        if not fields:
            raise SalesforceError(400, "MISSING_ARGUMENT", "fields parameter is required")
        with self.state.lock:
            names = [self.data._plain_field(table.definition, f) for f in fields]
            out: list[dict[str, Any] | None] = []
            for ref in ids:
                rec = table.get(ref)
                out.append(None if rec is None else self.data.project(table, rec, names, version))
        return JSONResponse(out)


class _MultipleMatches(Exception):
    def __init__(self, urls: list[str]) -> None:
        super().__init__("multiple matches")
        self.urls = urls


def _both(path: str, endpoint: Handler, methods: list[str]) -> list[BaseRoute]:
    """Salesforce accepts a trailing slash (simple-salesforce sends ``query/``)."""
    wrapped = _guard(endpoint)
    return [Route(path, wrapped, methods=methods), Route(path + "/", wrapped, methods=methods)]


def salesforce_app(state: SandboxState) -> ASGIApp:
    """The Salesforce sub-application, to mount at ``/salesforce``."""
    r = _Routes(state)
    base = "/services/data/{version}"
    so = base + "/sobjects/{sobject}"
    routes: list[BaseRoute] = [
        Route(TOKEN_PATH, r.token, methods=["POST"]),
        *_both("/services/data", r.versions, ["GET"]),
        *_both(base, r.resources, ["GET"]),
        *_both(base + "/limits", r.limits, ["GET"]),
        *_both(base + "/query", r.query, ["GET"]),
        *_both(base + "/query/{locator}", r.query_more, ["GET"]),
        *_both(base + "/queryAll", r.query_all, ["GET"]),
        *_both(base + "/queryAll/{locator}", r.query_more, ["GET"]),
        *_both(base + "/sobjects", r.describe_global, ["GET"]),
        *bulk_routes(state, base, _guard),
        *_both(base + "/composite/sobjects", r.collection_create, ["POST"]),
        *_both(base + "/composite/sobjects", r.collection_update, ["PATCH"]),
        *_both(base + "/composite/sobjects", r.collection_delete, ["DELETE"]),
        *_both(base + "/composite/sobjects/{sobject}", r.collection_retrieve, ["GET"]),
        *_both(base + "/composite/sobjects/{sobject}/{field}", r.collection_upsert, ["PATCH"]),
        *_both(so + "/describe", r.describe, ["GET"]),
        *_both(so, r.sobject_info, ["GET"]),
        *_both(so, r.create, ["POST"]),
        *_both(so + "/{ref}", r.get_row, ["GET"]),
        *_both(so + "/{ref}", r.update_row, ["PATCH"]),
        *_both(so + "/{ref}", r.delete_row, ["DELETE"]),
        *_both(so + "/{field}/{value}", r.get_by_external, ["GET"]),
        *_both(so + "/{field}/{value}", r.upsert, ["PATCH"]),
    ]
    return _Gate(Router(routes=routes), state)
