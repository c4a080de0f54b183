"""Brevo's account and schema reads: ``/account`` (the connection check most clients make),
``/contacts/attributes``, ``/contacts/folders``, ``/emailCampaigns`` and ``/smtp/templates``.

Attributes are the ones the sandbox's contacts take (``store.CONTACT_ATTRIBUTES``, all in the
``normal`` category but EMAIL/SMS/WHATSAPP/LANDLINE_NUMBER/EXT_ID, which Brevo lists apart as
identifiers); folders hold the seeded lists. The seeded world sends no campaigns and has no
transactional templates, so those two lists are empty, in Brevo's shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.brevo.store import CONTACT_ATTRIBUTES, BrevoError
from sandbox.state import SandboxState

__all__ = ["ACCOUNT_EMAIL", "account", "attributes", "metadata_routes"]

ACCOUNT_EMAIL = "owner@revsync-demo.io"
_IDENTIFIERS = ("EMAIL", "SMS", "WHATSAPP", "LANDLINE_NUMBER", "EXT_ID")
_LIFECYCLE = ("Lead", "Customer", "Churned")


def account() -> dict[str, Any]:
    """``GET /account``: the sandbox account's owner, address, plan and relay."""
    return {
        "email": ACCOUNT_EMAIL,
        "firstName": "Sandbox",
        "lastName": "Owner",
        "companyName": "Revsync Demo",
        "address": {
            "street": "1 Loopback Way",
            "city": "Paris",
            "zipCode": "75001",
            "country": "France",
        },
        "plan": [{"type": "free", "creditsType": "sendLimit", "credits": 300.0}],
        "relay": {
            "enabled": True,
            "data": {"userName": ACCOUNT_EMAIL, "relay": "smtp-relay.brevo.com", "port": 587},
        },
        "marketingAutomation": {"enabled": False},
    }


def attributes() -> list[dict[str, Any]]:
    """The contact attribute definitions, normal ones (text; LIFECYCLE a category) first."""
    out: list[dict[str, Any]] = []
    for name in sorted(CONTACT_ATTRIBUTES - set(_IDENTIFIERS)):
        if name == "LIFECYCLE":
            enum = [{"value": i + 1, "label": label} for i, label in enumerate(_LIFECYCLE)]
            out.append({"name": name, "category": "category", "type": "id", "enumeration": enum})
        else:
            out.append({"name": name, "category": "normal", "type": "text"})
    out += [{"name": n, "category": "normal", "type": "text"} for n in _IDENTIFIERS if n != "EMAIL"]
    return out


def _page_params(request: Request, default: int, maximum: int) -> tuple[int, int]:
    values = []
    for name, fallback in (("limit", default), ("offset", 0)):
        raw = request.query_params.get(name) or str(fallback)
        if not raw.isdigit():
            raise BrevoError(400, "invalid_parameter", f"{name} should be an integer")
        values.append(int(raw))
    if values[0] > maximum:
        raise BrevoError(400, "out_of_range", f"limit should be between 0 and {maximum}")
    return values[0], values[1]


def metadata_routes(state: SandboxState, wrap: Any) -> list[Route]:
    """The routes; each handler wrapped by the router's error guard."""
    data = state.brevo

    async def get_account(request: Request) -> Response:
        return JSONResponse(account())

    async def get_attributes(request: Request) -> Response:
        return JSONResponse({"attributes": attributes()})

    async def get_folders(request: Request) -> Response:
        limit, offset = _page_params(request, 10, 50)
        with state.lock:
            lists = [data.list_json(i) for i in sorted(data.lists)]
        folders: dict[int, dict[str, Any]] = {}
        for item in lists:
            folder = folders.setdefault(
                item["folderId"],
                {
                    "id": item["folderId"],
                    "name": "Your first folder" if item["folderId"] == 1 else "Folder",
                    "totalBlacklisted": 0,
                    "totalSubscribers": 0,
                    "uniqueSubscribers": 0,
                },
            )
            for key in ("totalBlacklisted", "totalSubscribers", "uniqueSubscribers"):
                folder[key] += item[key]
        rows = [folders[k] for k in sorted(folders)]
        return JSONResponse({"folders": rows[offset : offset + limit], "count": len(rows)})

    async def get_campaigns(request: Request) -> Response:
        _page_params(request, 50, 100)
        return JSONResponse({"campaigns": [], "count": 0})

    async def get_templates(request: Request) -> Response:
        _page_params(request, 50, 1000)
        return JSONResponse({"templates": [], "count": 0})

    table = [
        ("/account", get_account),
        ("/contacts/attributes", get_attributes),
        ("/contacts/folders", get_folders),
        ("/emailCampaigns", get_campaigns),
        ("/smtp/templates", get_templates),
    ]
    return [Route(path, wrap(fn), methods=["GET"]) for path, fn in table]
