"""Pipedrive's v1 account reads: ``/v1/users/me`` (the connection check), ``/v1/users``,
``/v1/recents`` (what changed since a time, across item types) and the field definitions
(``/v1/personFields``, ``/v1/organizationFields``, ``/v1/dealFields``).

Recents carry the v1 view of each record: ``email``/``phone`` arrays, v1 ``YYYY-MM-DD HH:MM:SS``
times, custom fields at the top level under their hash keys, ``active_flag``. The sandbox
company has one user, the owner every seeded record belongs to.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.pipedrive.store import (
    DEAL_REVSYNC_FIELD,
    ORG_REVSYNC_FIELD,
    OWNER_ID,
    PERSON_REVSYNC_FIELD,
    PipedriveError,
    pd_v1_time,
)
from sandbox.state import SandboxState
from sandbox.timefmt import parse_instant_ms

__all__ = ["RECENTS_MAX", "metadata_routes", "owner", "v1_record"]

RECENTS_MAX = 500
COMPANY_ID = 7_001
_CREATED = "2020-01-06 09:00:00"
_ITEMS = {"person": "persons", "organization": "organizations", "deal": "deals"}
_BUILTIN_FIELDS = {
    "persons": (
        ("name", "Name", "varchar"),
        ("email", "Email", "varchar"),
        ("phone", "Phone", "phone"),
        ("org_id", "Organization", "org"),
        ("owner_id", "Owner", "user"),
        ("job_title", "Job title", "varchar"),
        ("add_time", "Person created", "date"),
        ("update_time", "Update time", "date"),
    ),
    "organizations": (
        ("name", "Name", "varchar"),
        ("address", "Address", "address"),
        ("owner_id", "Owner", "user"),
        ("website", "Website", "varchar"),
        ("add_time", "Organization created", "date"),
        ("update_time", "Update time", "date"),
    ),
    "deals": (
        ("title", "Title", "varchar"),
        ("value", "Value", "monetary"),
        ("currency", "Currency", "varchar"),
        ("status", "Status", "enum"),
        ("person_id", "Contact person", "people"),
        ("org_id", "Organization", "org"),
        ("stage_id", "Stage", "double"),
        ("pipeline_id", "Pipeline", "double"),
        ("owner_id", "Owner", "user"),
        ("add_time", "Deal created", "date"),
        ("update_time", "Update time", "date"),
    ),
}
_CUSTOM = {
    "persons": PERSON_REVSYNC_FIELD,
    "organizations": ORG_REVSYNC_FIELD,
    "deals": DEAL_REVSYNC_FIELD,
}
_FIELD_PATHS = {
    "persons": "/personFields",
    "organizations": "/organizationFields",
    "deals": "/dealFields",
}


def owner() -> dict[str, Any]:
    """The company's only user (``is_you``: the token belongs to it)."""
    return {
        "id": OWNER_ID,
        "name": "Sandbox Owner",
        "email": "owner@revsync-demo.io",
        "default_currency": "USD",
        "locale": "en_US",
        "lang": 1,
        "phone": None,
        "activated": True,
        "last_login": _CREATED,
        "created": _CREATED,
        "modified": None,
        "has_created_company": True,
        "access": [{"app": "sales", "admin": True, "permission_set_id": "sandbox-admin"}],
        "active_flag": True,
        "timezone_name": "Europe/London",
        "timezone_offset": "+00:00",
        "role_id": 1,
        "icon_url": None,
        "is_you": True,
        "is_deleted": False,
    }


def v1_record(kind: str, rec: dict[str, Any]) -> dict[str, Any]:
    """A stored record in Pipedrive's v1 shape (as recents and v1 reads send it)."""
    out: dict[str, Any] = {
        "id": rec["id"],
        "owner_id": rec.get("owner_id"),
        "add_time": pd_v1_time(rec["add_time_ms"]),
        "update_time": pd_v1_time(rec["update_time_ms"]),
        "active_flag": not rec.get("is_deleted", False),
    }
    if kind == "persons":
        out.update(
            name=rec.get("name"),
            first_name=rec.get("first_name"),
            last_name=rec.get("last_name"),
            org_id=rec.get("org_id"),
            job_title=rec.get("job_title"),
            email=[dict(e) for e in rec.get("emails") or []],
            phone=[dict(p) for p in rec.get("phones") or []],
        )
    elif kind == "organizations":
        out.update(name=rec.get("name"), address=rec.get("address"))
    else:
        out.update(
            {
                k: rec.get(k)
                for k in (
                    "title",
                    "value",
                    "currency",
                    "status",
                    "person_id",
                    "org_id",
                    "stage_id",
                    "pipeline_id",
                )
            }
        )
    out.update(rec.get("custom_fields") or {})
    # as the v2 view: the spec marks no field nullable, so unset fields are left out
    return {k: v for k, v in out.items() if v is not None}


def _fields(kind: str) -> list[dict[str, Any]]:
    rows = [
        {
            "id": i + 1,
            "key": key,
            "name": name,
            "field_type": ftype,
            "edit_flag": False,
            "active_flag": True,
        }
        for i, (key, name, ftype) in enumerate(_BUILTIN_FIELDS[kind])
    ]
    rows.append(
        {
            "id": len(rows) + 1,
            "key": _CUSTOM[kind],
            "name": "revsync id",
            "field_type": "varchar",
            "edit_flag": True,
            "active_flag": True,
        }
    )
    return rows


def _ok(data: Any, extra: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if extra:
        body["additional_data"] = extra
    return JSONResponse(body)


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not str(raw).isdigit():
        raise PipedriveError(400, f"{name} must be a non-negative integer")
    return int(str(raw))


def _page(items: list[Any], start: int, limit: int) -> tuple[list[Any], dict[str, Any]]:
    part = items[start : start + limit]
    more = start + limit < len(items)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return part, {"pagination": pagination}


def metadata_routes(state: SandboxState, wrap: Any) -> list[Route]:
    """The routes (under ``/v1``); each handler wrapped by the router's error guard."""
    data = state.pipedrive

    async def me(request: Request) -> Response:
        company = {
            "company_id": COMPANY_ID,
            "company_name": "Revsync Demo",
            "company_domain": "revsync-demo",
            "company_country": "GB",
            "language": {"language_code": "en", "country_code": "US"},
        }
        return _ok({**owner(), **company})

    async def users(request: Request) -> Response:
        return _ok([owner()])

    async def recents(request: Request) -> Response:
        since = request.query_params.get("since_timestamp")
        if not since:
            raise PipedriveError(400, "since_timestamp is required (YYYY-MM-DD HH:MM:SS)")
        try:
            since_ms = parse_instant_ms(since.strip().replace(" ", "T"))
        except ValueError:
            raise PipedriveError(400, "since_timestamp must be YYYY-MM-DD HH:MM:SS") from None
        wanted = request.query_params.get("items")
        kinds = [v for k, v in _ITEMS.items() if not wanted or k in wanted.split(",")]
        start = _int(request, "start", 0)
        limit = min(_int(request, "limit", RECENTS_MAX), RECENTS_MAX) or RECENTS_MAX
        rows: list[tuple[int, str, dict[str, Any]]] = []
        with state.lock:
            for kind in kinds:
                store = data.entities[kind].store
                lo, hi = store.mtime_range(since_ms, None)
                for key in store.keys_by_mtime(lo, hi):
                    rec = store.get(key)
                    if rec is not None:
                        rows.append((rec["update_time_ms"], kind, v1_record(kind, rec)))
        rows.sort(key=lambda r: r[0])
        singular = {v: k for k, v in _ITEMS.items()}
        items = [{"item": singular[k], "id": r["id"], "data": r} for _, k, r in rows]
        part, extra = _page(items, start, limit)
        extra["since_timestamp"] = since
        extra["last_timestamp_on_page"] = part[-1]["data"]["update_time"] if part else since
        return _ok(part, extra)

    def fields_handler(kind: str) -> Any:
        async def handler(request: Request) -> Response:
            rows = _fields(kind)
            part, extra = _page(rows, _int(request, "start", 0), _int(request, "limit", 100))
            return _ok(part, extra)

        return handler

    routes = [
        Route("/v1/users/me", wrap(me), methods=["GET"]),
        Route("/v1/users", wrap(users), methods=["GET"]),
        Route("/v1/recents", wrap(recents), methods=["GET"]),
    ]
    for kind, path in _FIELD_PATHS.items():
        routes.append(Route("/v1" + path, wrap(fields_handler(kind)), methods=["GET"]))
    return routes
