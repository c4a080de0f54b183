"""Assemble the sandbox: vendors mounted under their prefixes, faults and the request log outside.

Order matters: the request log sees everything (including injected faults); faults come before
each vendor's own auth and rate limits, as a flaky network or gateway would.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from sandbox.control import control_app
from sandbox.faults import FaultMiddleware
from sandbox.hubspot import hubspot_app, hubspot_error_renderer
from sandbox.mailchimp import mailchimp_app, mailchimp_error_renderer
from sandbox.requestlog import RequestLogMiddleware
from sandbox.state import SandboxState

__all__ = ["build_app"]


def build_app(state: SandboxState) -> ASGIApp:
    """The whole sandbox as one ASGI app bound to `state`."""
    inner = Starlette(
        routes=[
            Mount("/_sandbox", app=control_app(state)),
            Mount("/hubspot", app=hubspot_app(state)),
            Mount("/mailchimp/3.0", app=mailchimp_app(state)),
        ]
    )
    renderers = {"hubspot": hubspot_error_renderer, "mailchimp": mailchimp_error_renderer}
    return RequestLogMiddleware(FaultMiddleware(inner, state.faults, renderers), state.requests)
