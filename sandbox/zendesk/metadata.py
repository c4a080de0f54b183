"""Zendesk account metadata and unified search: the reads a client makes to check a connection
(``GET /api/v2/account/settings``) and to find records across kinds (``GET /api/v2/search``).

Search answers Zendesk's shape: ``results`` (each record with ``result_type`` and ``url``),
``count``, ``next_page``/``previous_page``, ``facets``; at most 100 per page and 1,000 results in
all (beyond, Zendesk answers 422 and points to the export endpoint).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState
from sandbox.zendesk.search import matches
from sandbox.zendesk.store import ZendeskError

__all__ = ["SEARCH_RESULTS_MAX", "account_settings", "metadata_routes"]

SEARCH_RESULTS_MAX = 1000
_PAGE_MAX = 100
Render = Callable[[Request, str, dict[str, Any]], dict[str, Any]]
Handler = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Handler], Handler]
_RESULT_TYPES = {"users": "user", "tickets": "ticket", "organizations": "organization"}


def account_settings() -> dict[str, Any]:
    """The settings groups clients read (a subset of the spec's ``settings`` object)."""
    return {
        "settings": {
            "active_features": {
                "business_hours": False,
                "customer_satisfaction": False,
                "markdown": True,
                "on_hold_status": True,
                "organization_access_enabled": True,
                "sandbox": True,
                "ticket_forms": False,
                "ticket_tagging": True,
                "user_org_fields": True,
                "user_tagging": True,
                "voice": False,
            },
            "api": {
                "accepted_api_agreement": True,
                "api_password_access": "false",
                "api_token_access": "true",
            },
            "apps": {"create_private": True, "create_public": False, "use": True},
            "billing": {"backend": "zuora"},
            "localization": {"locale_ids": [1]},
            "tickets": {
                "accepted_new_collaboration_tos": True,
                "agent_collision": True,
                "allow_group_reset": True,
                "comments_public_by_default": True,
                "has_color_text": True,
                "list_empty_views": True,
                "list_newest_comments_first": True,
                "maximum_personal_views_to_list": 8,
                "tagging": True,
            },
            "user": {
                "tagging": True,
                "time_zone_selection": True,
                "multiple_organizations": False,
            },
        }
    }


def _int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ZendeskError(
            400, {"error": "InvalidParameter", "description": f"{name} must be an integer"}
        ) from None


def metadata_routes(state: SandboxState, prefix: str, render: Render, wrap: Wrap) -> list[Route]:
    """``GET {prefix}/account/settings`` and ``GET {prefix}/search``; `render` is the
    router's record view (adds ``url``, user fields), `wrap` its error guard."""
    data = state.zendesk

    async def settings(request: Request) -> Response:
        return JSONResponse(account_settings())

    async def search(request: Request) -> Response:
        params = request.query_params
        query = params.get("query")
        if not query:
            raise ZendeskError(
                400, {"error": "InvalidParameter", "description": "query parameter is required"}
            )
        per_page = max(1, min(_int(params.get("per_page"), _PAGE_MAX, "per_page"), _PAGE_MAX))
        page_no = max(1, _int(params.get("page"), 1, "page"))
        offset = (page_no - 1) * per_page
        if offset + per_page > SEARCH_RESULTS_MAX:
            raise ZendeskError(
                422,
                {
                    "error": "invalid",
                    "description": "Search is limited to 1000 results; use the export API",
                },
            )
        with state.lock:
            pools = {
                "users": [r for r in data.users.values() if r["active"]],
                "tickets": [r for r in data.tickets.values() if r.get("status") != "deleted"],
                "organizations": list(data.organizations.values()),
            }
            found = list(matches(pools, query))
            key = params.get("sort_by") or ""
            if key in ("created_at", "updated_at"):
                found.sort(key=lambda kr: str(kr[1].get(key)))
                if params.get("sort_order", "desc") == "desc":
                    found.reverse()
            results = [
                {**render(request, kind, rec), "result_type": _RESULT_TYPES[kind]}
                for kind, rec in found[offset : offset + per_page]
            ]
        more = offset + per_page < min(len(found), SEARCH_RESULTS_MAX)
        body = {
            "results": results,
            "facets": None,
            "next_page": str(request.url.include_query_params(page=page_no + 1)) if more else None,
            "previous_page": (
                str(request.url.include_query_params(page=page_no - 1)) if page_no > 1 else None
            ),
            "count": len(found),
        }
        return JSONResponse(body)

    return [
        Route(prefix + "/account/settings", wrap(settings), methods=["GET"]),
        Route(prefix + "/search", wrap(search), methods=["GET"]),
    ]
