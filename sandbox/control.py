"""The ``/_sandbox`` control plane: reset, seed, faults, rate limits, request log, human edits.

No auth (the server only listens on loopback). Human edits change a record the way a person in
the tool's UI would: they bump its modification time but skip the vendor's rate limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from sandbox.faults import fault_from_json
from sandbox.hubspot.store import HubSpotError
from sandbox.mailchimp.store import MailchimpError
from sandbox.salesforce.store import SalesforceError
from sandbox.state import SandboxState
from sandbox.world import ALL_TOOLS, TOOL_SEEDERS, generate_world, load_world

__all__ = ["control_app"]


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def control_app(state: SandboxState) -> Router:
    """The control-plane router, to mount at ``/_sandbox``."""

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def seed(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        try:
            people = int(body.get("people", 200))
            seed_value = int(body.get("seed", 42))
        except (TypeError, ValueError):
            return _bad("people and seed must be integers")
        tools = body.get("tools") or list(ALL_TOOLS)
        if not isinstance(tools, list) or not set(tools) <= set(TOOL_SEEDERS):
            return _bad(f"tools must be a list of {sorted(TOOL_SEEDERS)}")
        now = state.clock().replace(microsecond=0)

        def build() -> dict[str, Any]:
            world = generate_world(people, seed_value, tools=tools, now=now)
            return load_world(state, world)

        try:
            counts = await run_in_threadpool(build)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(counts)

    async def truth(request: Request) -> Response:
        tool = request.query_params.get("tool")
        prefix = f"{tool}:" if tool else ""
        with state.lock:
            return JSONResponse({k: v for k, v in state.truth.items() if k.startswith(prefix)})

    async def add_fault(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict) or "tool" not in body or "kind" not in body:
            return _bad("fault needs at least tool and kind")
        try:
            fault = fault_from_json(body)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        state.faults.add(fault)
        return JSONResponse(fault.describe(), 201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse(state.faults.list())

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"ok": True})

    async def rate_limits(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict) or "tool" not in body:
            return _bad("rate_limits needs tool")
        try:
            out = state.configure_limit(
                str(body["tool"]),
                max_requests=None if body.get("max") is None else int(body["max"]),
                interval_ms=None if body.get("interval_ms") is None else int(body["interval_ms"]),
                daily=None if body.get("daily") is None else int(body["daily"]),
                enabled=body.get("enabled"),
            )
        except KeyError:
            return _bad(f"unknown tool {body['tool']!r}; one of {sorted(state.limits)}")
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse(out)

    async def requests_log(request: Request) -> Response:
        return JSONResponse(state.requests.list(request.query_params.get("tool")))

    async def hubspot_edit(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        props = body.get("properties", body)
        objects = state.hubspot.objects.get(request.path_params["object_type"])
        if objects is None:
            return _bad("unknown object type", 404)
        with state.lock:
            rec = objects.resolve(request.path_params["object_id"])
            if rec is None:
                return _bad("no such record", 404)
            try:
                objects.update(rec, props, state.now_ms(), human=True)
            except HubSpotError as err:
                return _bad(err.message, err.status)
            return JSONResponse(objects.to_json(rec, sorted({*rec.properties, *props})))

    async def mailchimp_edit(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        with state.lock:
            member = state.mailchimp.lookup(request.path_params["member"])
            if member is None:
                return _bad("no such member", 404)
            try:
                return JSONResponse(dict(state.mailchimp.update(member, body, state.now_ms())))
            except MailchimpError as err:
                return _bad(err.detail, err.status)

    async def salesforce_convert_lead(request: Request) -> Response:
        """What a user's "Convert" in Salesforce does (the REST API has no lead conversion)."""
        body = await _body(request)
        into = body.get("contact_id") if isinstance(body, dict) else None
        data = state.salesforce
        with state.lock:
            lead = data.table("Lead").get(request.path_params["lead_id"])
            if lead is None:
                return _bad("no such lead", 404)
            try:
                contact = data.convert_lead(lead, state.now_ms(), contact_id=into)
            except SalesforceError as err:
                return _bad(err.message, err.status)
            return JSONResponse({"lead_id": lead["Id"], "contact_id": contact["Id"]})

    async def health(request: Request) -> Response:
        with state.lock:
            return JSONResponse(
                {
                    "hubspot_contacts": len(state.hubspot.contacts.store),
                    "hubspot_companies": len(state.hubspot.companies.store),
                    "mailchimp_members": len(state.mailchimp.members),
                }
            )

    return Router(
        routes=[
            Route("/", health, methods=["GET"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/seed", seed, methods=["POST"]),
            Route("/truth", truth, methods=["GET"]),
            Route("/faults", add_fault, methods=["POST"]),
            Route("/faults", list_faults, methods=["GET"]),
            Route("/faults", clear_faults, methods=["DELETE"]),
            Route("/rate_limits", rate_limits, methods=["POST"]),
            Route("/requests", requests_log, methods=["GET"]),
            Route("/hubspot/{object_type}/{object_id}", hubspot_edit, methods=["PATCH"]),
            Route("/mailchimp/members/{member}", mailchimp_edit, methods=["PATCH"]),
            Route("/salesforce/leads/{lead_id}/convert", salesforce_convert_lead, methods=["POST"]),
        ]
    )
