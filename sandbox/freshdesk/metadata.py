"""Freshdesk's account metadata: agents (``/agents``, ``/agents/{id}``, ``/agents/me``), groups,
roles and the contact and company field definitions, the reads a client makes to check a
connection (``/agents/me``) or learn the schema. Fixed for the sandbox account: three agents in
one group, the default fields Freshdesk defines for every account, no custom fields.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.freshdesk.store import FreshdeskError

__all__ = ["AGENT_IDS", "agent", "metadata_routes"]

ACCOUNT_CREATED = "2020-01-06T09:00:00Z"
AGENT_IDS = (43_000_000_001, 43_000_000_002, 43_000_000_003)
GROUP_ID = 43_000_100_001
_ROLES = ((43_000_200_001, "Account Administrator"), (43_000_200_002, "Agent"))
_CONTACT_FIELDS = (
    ("name", "Full name", "default_name", True),
    ("job_title", "Title", "default_job_title", False),
    ("email", "Email", "default_email", False),
    ("phone", "Work phone", "default_phone", False),
    ("mobile", "Mobile phone", "default_mobile", False),
    ("twitter_id", "Twitter", "default_twitter_id", False),
    ("company_name", "Company", "default_company_name", False),
    ("address", "Address", "default_address", False),
    ("time_zone", "Time zone", "default_time_zone", False),
    ("language", "Language", "default_language", False),
    ("tag_names", "Tags", "default_tag_names", False),
    ("description", "About", "default_description", False),
)
_COMPANY_FIELDS = (
    ("name", "Company Name", "default_name", True),
    ("description", "Description", "default_description", False),
    ("note", "Notes", "default_note", False),
    ("domains", "Domain names for this company", "default_domains", False),
    ("health_score", "Health score", "default_health_score", False),
    ("account_tier", "Account tier", "default_account_tier", False),
    ("renewal_date", "Contract renewal date", "default_renewal_date", False),
    ("industry", "Industry", "default_industry", False),
)


def agent(agent_id: int) -> dict[str, Any]:
    """One agent as Freshdesk's ``Agent`` object (the first is the API key's owner, an admin)."""
    n = AGENT_IDS.index(agent_id) + 1
    return {
        "id": agent_id,
        "available": True,
        "occasional": False,
        "signature": None,
        "ticket_scope": 1,
        "group_ids": [GROUP_ID],
        "role_ids": [_ROLES[0][0] if n == 1 else _ROLES[1][0]],
        "type": "support_agent",
        "created_at": ACCOUNT_CREATED,
        "updated_at": ACCOUNT_CREATED,
        "contact": {
            "active": True,
            "email": f"agent{n}@revsync-demo.io",
            "job_title": "Support",
            "language": "en",
            "mobile": None,
            "name": f"Agent {n}",
            "phone": None,
            "time_zone": "Eastern Time (US & Canada)",
            "created_at": ACCOUNT_CREATED,
            "updated_at": ACCOUNT_CREATED,
        },
    }


def _field(position: int, spec: tuple[str, str, str, bool], kind: int) -> dict[str, Any]:
    name, label, field_type, required = spec
    return {
        "id": kind * 1000 + position,
        "name": name,
        "label": label,
        "type": field_type,
        "position": position,
        "default": True,
        "required_for_agents": required,
        "required_for_customers": False,
        "created_at": ACCOUNT_CREATED,
        "updated_at": ACCOUNT_CREATED,
    }


async def _agents(request: Request) -> Response:
    email = request.query_params.get("email")
    agents = [agent(a) for a in AGENT_IDS]
    if email:
        agents = [a for a in agents if a["contact"]["email"] == email.lower()]
    return JSONResponse(agents)


async def _agent(request: Request) -> Response:
    raw = request.path_params["agent_id"]
    if raw == "me":
        return JSONResponse(agent(AGENT_IDS[0]))
    if not raw.isdigit() or int(raw) not in AGENT_IDS:
        raise FreshdeskError(404)
    return JSONResponse(agent(int(raw)))


async def _groups(request: Request) -> Response:
    group = {
        "id": GROUP_ID,
        "name": "Support",
        "description": "Sandbox support team",
        "agent_ids": list(AGENT_IDS),
        "auto_ticket_assign": False,
        "created_at": ACCOUNT_CREATED,
        "updated_at": ACCOUNT_CREATED,
    }
    return JSONResponse([group])


async def _roles(request: Request) -> Response:
    roles = [
        {
            "id": rid,
            "name": name,
            "description": name,
            "default": True,
            "created_at": ACCOUNT_CREATED,
            "updated_at": ACCOUNT_CREATED,
        }
        for rid, name in _ROLES
    ]
    return JSONResponse(roles)


async def _contact_fields(request: Request) -> Response:
    return JSONResponse([_field(i + 1, f, 1) for i, f in enumerate(_CONTACT_FIELDS)])


async def _company_fields(request: Request) -> Response:
    return JSONResponse([_field(i + 1, f, 2) for i, f in enumerate(_COMPANY_FIELDS)])


def metadata_routes(prefix: str, wrap: Any) -> list[Route]:
    """The metadata reads under `prefix` (``/api/v2``), each wrapped by the router's guard."""
    table = [
        ("/agents", _agents),
        ("/agents/{agent_id}", _agent),
        ("/groups", _groups),
        ("/roles", _roles),
        ("/contact_fields", _contact_fields),
        ("/company_fields", _company_fields),
    ]
    return [Route(prefix + path, wrap(fn), methods=["GET"]) for path, fn in table]
