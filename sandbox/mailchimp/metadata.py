"""Mailchimp's account-wide reads around the audience: ``GET /search-members`` (exact and
partial matches on email and name, 10 of each as Mailchimp caps them), ``GET /campaigns``
and the audience's ``interest-categories``/``segments``. The seeded world sends no campaigns
and defines no groups or segments, so those lists are empty, in Mailchimp's shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.fields import trim_fields
from sandbox.mailchimp.store import MailchimpError
from sandbox.state import SandboxState

__all__ = ["SEARCH_MAX", "metadata_routes"]

SEARCH_MAX = 10


def _trimmed(request: Request, body: dict[str, Any]) -> Response:
    q = request.query_params
    return JSONResponse(trim_fields(body, q.get("fields"), q.get("exclude_fields")))


def _not_found() -> MailchimpError:
    return MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")


def metadata_routes(state: SandboxState, wrap: Any) -> list[Route]:
    """The routes; each handler wrapped by the router's error guard."""
    data = state.mailchimp

    async def search_members(request: Request) -> Response:
        query = (request.query_params.get("query") or "").strip().lower()
        list_id = request.query_params.get("list_id")
        if not query:
            raise MailchimpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "query", "message": "This value should not be blank."}],
            )
        if list_id and list_id != data.list_id:
            raise _not_found()
        exact: list[dict[str, Any]] = []
        partial: list[dict[str, Any]] = []
        with state.lock:
            for member in data.members.values():
                email = str(member.get("email_address") or "").lower()
                name = str(member.get("full_name") or "").lower()
                if query in (email, name):
                    exact.append(dict(member))
                elif query in email or query in name:
                    partial.append(dict(member))
        body = {
            "exact_matches": {"members": exact[:SEARCH_MAX], "total_items": len(exact)},
            "full_search": {"members": partial[:SEARCH_MAX], "total_items": len(partial)},
            "_links": [],
        }
        return _trimmed(request, body)

    async def campaigns(request: Request) -> Response:
        return _trimmed(request, {"campaigns": [], "total_items": 0, "_links": []})

    def _audience(request: Request) -> str:
        list_id = str(request.path_params["list_id"])
        if list_id != data.list_id:
            raise _not_found()
        return list_id

    async def interest_categories(request: Request) -> Response:
        body = {"list_id": _audience(request), "categories": [], "total_items": 0, "_links": []}
        return _trimmed(request, body)

    async def segments(request: Request) -> Response:
        body = {"list_id": _audience(request), "segments": [], "total_items": 0, "_links": []}
        return _trimmed(request, body)

    table = [
        ("/search-members", search_members),
        ("/campaigns", campaigns),
        ("/lists/{list_id}/interest-categories", interest_categories),
        ("/lists/{list_id}/segments", segments),
    ]
    return [Route(path, wrap(fn), methods=["GET"]) for path, fn in table]
