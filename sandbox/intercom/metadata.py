"""Intercom's workspace metadata clients read first: the token's admin (``/me``), admins
(teammates), teams, tags, segments and the data attributes (field definitions).

The admins are the seeded teammates conversations are assigned to; the seeded world applies no
tags and defines no teams, segments or custom attributes, so those lists are empty (or hold
only the default attributes), in Intercom's shapes.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.intercom.errors import intercom_error_body
from sandbox.intercom.seed import ADMINS
from sandbox.state import SandboxState

__all__ = ["APP_ID", "admin", "metadata_routes"]

APP_ID = "sbx0app1"
_APP_CREATED = 1_578_301_200  # 2020-01-06T09:00:00Z, Unix seconds as Intercom sends them
_CONTACT_ATTRIBUTES = (
    ("name", "Name", "string"),
    ("email", "Email", "string"),
    ("phone", "Phone", "string"),
    ("external_id", "User ID", "string"),
    ("owner_id", "Owner", "integer"),
    ("unsubscribed_from_emails", "Unsubscribed from emails", "boolean"),
    ("signed_up_at", "Signed up", "date"),
    ("last_seen_at", "Last seen", "date"),
    ("created_at", "Created at", "date"),
    ("updated_at", "Updated at", "date"),
)
_COMPANY_ATTRIBUTES = (
    ("name", "Company name", "string"),
    ("company_id", "Company ID", "string"),
    ("website", "Website", "string"),
    ("industry", "Industry", "string"),
    ("size", "Company size", "integer"),
    ("created_at", "Company created at", "date"),
)


def admin(admin_id: int) -> dict[str, Any]:
    """One seeded teammate as Intercom's ``admin`` object (its id a string, as the spec has)."""
    n = ADMINS.index(admin_id) + 1
    return {
        "type": "admin",
        "id": str(admin_id),
        "name": f"Teammate {n}",
        "email": f"teammate{n}@revsync-demo.io",
        "job_title": "Support",
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": True,
        "team_ids": [],
    }


def _attribute(_i: int, model: str, spec: tuple[str, str, str]) -> dict[str, Any]:
    name, label, data_type = spec
    writable = name not in ("created_at", "updated_at", "last_seen_at")
    return {
        "type": "data_attribute",
        "model": model,
        "name": name,
        "full_name": name,
        "label": label,
        "data_type": data_type,
        "api_writable": writable,
        "ui_writable": writable,
        "messenger_writable": False,
        "custom": False,
        "archived": False,
    }


async def _me(request: Request) -> Response:
    app = {
        "type": "app",
        "id_code": APP_ID,
        "name": "Revsync Demo",
        "region": "US",
        "timezone": "Europe/London",
        "created_at": _APP_CREATED,
        "identity_verification": False,
    }
    return JSONResponse({**admin(ADMINS[0]), "email_verified": True, "app": app})


async def _admins(request: Request) -> Response:
    return JSONResponse({"type": "admin.list", "admins": [admin(a) for a in ADMINS]})


async def _one_admin(request: Request) -> Response:
    wanted = str(request.path_params["admin_id"])
    for a in ADMINS:
        if str(a) == wanted:
            return JSONResponse(admin(a))
    return JSONResponse(intercom_error_body("admin_not_found", "Admin not found"), 404)


async def _tags(request: Request) -> Response:
    return JSONResponse({"type": "list", "data": []})


async def _teams(request: Request) -> Response:
    return JSONResponse({"type": "team.list", "teams": []})


async def _segments(request: Request) -> Response:
    return JSONResponse({"type": "segment.list", "segments": []})


async def _data_attributes(request: Request) -> Response:
    model = request.query_params.get("model")
    if model not in (None, "", "contact", "company"):
        body = intercom_error_body("parameter_invalid", "model must be contact or company")
        return JSONResponse(body, 400)
    rows: list[dict[str, Any]] = []
    if model in (None, "", "contact"):
        rows += [_attribute(i, "contact", a) for i, a in enumerate(_CONTACT_ATTRIBUTES)]
    if model in (None, "", "company"):
        rows += [_attribute(i, "company", a) for i, a in enumerate(_COMPANY_ATTRIBUTES)]
    return JSONResponse({"type": "list", "data": rows})


def metadata_routes(state: SandboxState) -> list[Route]:
    """``/me``, ``/admins``, ``/admins/{admin_id}``, ``/teams``, ``/tags``, ``/segments``,
    ``/data_attributes`` (all GET)."""
    table = [
        ("/me", _me),
        ("/admins", _admins),
        ("/admins/{admin_id}", _one_admin),
        ("/teams", _teams),
        ("/tags", _tags),
        ("/segments", _segments),
        ("/data_attributes", _data_attributes),
    ]
    return [Route(path, fn, methods=["GET"]) for path, fn in table]
