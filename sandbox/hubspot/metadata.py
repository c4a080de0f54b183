"""HubSpot's account reads: ``/account-info/v3/details`` (the portal, the usual connection
check), ``/crm/v3/owners`` (the seeded deal owners), ``/crm/v3/schemas`` (custom object
schemas: the sandbox portal defines none) and ``/crm/v3/pipelines/deals`` (the default sales
pipeline the seeded deals use). No HubSpot OpenAPI file is in ``vendor-specs``; shapes follow
the models of the official ``hubspot-api-client`` (``PublicOwner``, ``ObjectSchema``,
``Pipeline``) and HubSpot's API reference.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.hubspot.seed import OWNER_IDS
from sandbox.hubspot.store import DEAL_STAGES, PORTAL_ID, HubSpotError

__all__ = ["metadata_routes", "owner"]

_CREATED = "2020-01-06T09:00:00.000Z"
_CLOSED = {"closedwon": "1.0", "closedlost": "0.0"}


def owner(owner_id: str) -> dict[str, Any]:
    """One seeded owner as HubSpot's ``PublicOwner``."""
    n = OWNER_IDS.index(owner_id) + 1
    return {
        "id": owner_id,
        "email": f"owner{n}@revsync-demo.io",
        "type": "PERSON",
        "firstName": "Owner",
        "lastName": str(n),
        "userId": 9_000_000 + n,
        "userIdIncludingInactive": 9_000_000 + n,
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "archived": False,
        "teams": [],
    }


def _pipeline() -> dict[str, Any]:
    stages = [
        {
            "id": stage,
            "label": stage,
            "displayOrder": i,
            "metadata": {
                "isClosed": str(stage in _CLOSED).lower(),
                "probability": _CLOSED.get(stage, "0.5"),
            },
            "createdAt": _CREATED,
            "updatedAt": _CREATED,
            "archived": False,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }
        for i, stage in enumerate(DEAL_STAGES)
    ]
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "archived": False,
    }


async def _details(request: Request) -> Response:
    body = {
        "portalId": PORTAL_ID,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18_000_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }
    return JSONResponse(body)


async def _owners(request: Request) -> Response:
    email = request.query_params.get("email")
    rows = [owner(o) for o in OWNER_IDS]
    if email:
        rows = [o for o in rows if o["email"] == email.lower()]
    return JSONResponse({"results": rows})


async def _one_owner(request: Request) -> Response:
    wanted = str(request.path_params["owner_id"])
    if wanted not in OWNER_IDS:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Owner {wanted} not found")
    return JSONResponse(owner(wanted))


async def _schemas(request: Request) -> Response:
    return JSONResponse({"results": []})


async def _pipelines(request: Request) -> Response:
    if request.path_params["object_type"] != "deals":
        return JSONResponse({"results": []})
    return JSONResponse({"results": [_pipeline()]})


def metadata_routes(wrap: Any) -> list[Route]:
    """The routes; each handler wrapped by the router's error guard."""
    table = [
        ("/account-info/v3/details", _details),
        ("/crm/v3/owners", _owners),
        ("/crm/v3/owners/{owner_id}", _one_owner),
        ("/crm/v3/schemas", _schemas),
        ("/crm-object-schemas/v3/schemas", _schemas),  # the path the official client calls
        ("/crm/v3/pipelines/{object_type}", _pipelines),
    ]
    return [Route(path, wrap(fn), methods=["GET"]) for path, fn in table]
