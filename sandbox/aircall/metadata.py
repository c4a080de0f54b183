"""Aircall's account endpoint, the first call many clients make to check a connection."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

__all__ = ["COMPANY_NAME", "metadata_routes"]

COMPANY_NAME = "Revsync Demo"


def metadata_routes(state: SandboxState, prefix: str) -> list[Route]:
    """``GET /v1/company``: name and user/number counts, from the seeded world."""

    async def company(request: Request) -> Response:
        with state.lock:
            users, numbers = len(state.aircall.users), len(state.aircall.numbers)
        body = {"name": COMPANY_NAME, "users_count": users, "numbers_count": numbers}
        return JSONResponse({"company": body})

    return [Route(prefix + "/company", company, methods=["GET"])]
