"""Intercom's workspace metadata clients read first: admins (teammates) and tags.

The admins are the seeded teammates conversations are assigned to; the seeded world applies no
tags, so the tag list is empty but in Intercom's shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.intercom.seed import ADMINS

__all__ = ["admin", "metadata_routes"]


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


async def _admins(request: Request) -> Response:
    return JSONResponse({"type": "admin.list", "admins": [admin(a) for a in ADMINS]})


async def _one_admin(request: Request) -> Response:
    wanted = str(request.path_params["admin_id"])
    for a in ADMINS:
        if str(a) == wanted:
            return JSONResponse(admin(a))
    error = {"code": "admin_not_found", "message": "Admin not found"}
    return JSONResponse({"type": "error.list", "errors": [error]}, 404)


async def _tags(request: Request) -> Response:
    return JSONResponse({"type": "list", "data": []})


def metadata_routes() -> list[Route]:
    """``GET /admins``, ``GET /admins/{admin_id}``, ``GET /tags``."""
    return [
        Route("/admins", _admins, methods=["GET"]),
        Route("/admins/{admin_id}", _one_admin, methods=["GET"]),
        Route("/tags", _tags, methods=["GET"]),
    ]
