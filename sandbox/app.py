"""Assemble the sandbox: vendors mounted under their prefixes, faults and the request log outside.

Order matters: the request log sees everything (including injected faults); faults come before
each vendor's own auth and rate limits, as a flaky network or gateway would.
"""

from __future__ import annotations

import importlib

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from sandbox.aircall.routes import aircall_app, aircall_error_renderer
from sandbox.brevo.routes import brevo_app, brevo_error_renderer
from sandbox.control import control_app
from sandbox.faults import FaultMiddleware, discover_hooks
from sandbox.freshdesk.routes import freshdesk_app, freshdesk_error_renderer
from sandbox.hubspot.routes import hubspot_app, hubspot_error_renderer
from sandbox.intercom.routes import intercom_app, intercom_error_renderer
from sandbox.mailchimp.routes import mailchimp_app, mailchimp_error_renderer
from sandbox.pipedrive.routes import pipedrive_app, pipedrive_error_renderer
from sandbox.requestlog import RequestLogMiddleware
from sandbox.salesforce.routes import salesforce_app, salesforce_error_renderer
from sandbox.state import SandboxState
from sandbox.unmatched import UnmatchedRenderer, VendorUnmatched
from sandbox.zendesk.routes import zendesk_app, zendesk_error_renderer

__all__ = ["build_app"]


def _shaped(tool: str, app: ASGIApp) -> ASGIApp:
    """The vendor app with its own error body for unknown paths and methods."""
    module = importlib.import_module(f"sandbox.{tool}.unmatched")
    render: UnmatchedRenderer = module.unmatched
    return VendorUnmatched(app, render)


def build_app(state: SandboxState) -> ASGIApp:
    """The whole sandbox as one ASGI app bound to `state`."""
    inner = Starlette(
        routes=[
            Mount("/_sandbox", app=control_app(state)),
            Mount("/freshdesk", app=_shaped("freshdesk", freshdesk_app(state))),
            Mount("/intercom", app=_shaped("intercom", intercom_app(state))),
            Mount("/aircall", app=_shaped("aircall", aircall_app(state))),
            Mount("/hubspot", app=_shaped("hubspot", hubspot_app(state))),
            Mount("/salesforce", app=_shaped("salesforce", salesforce_app(state))),
            Mount("/pipedrive", app=_shaped("pipedrive", pipedrive_app(state))),
            Mount("/mailchimp/3.0", app=_shaped("mailchimp", mailchimp_app(state))),
            Mount("/brevo/v3", app=_shaped("brevo", brevo_app(state))),
            Mount("/zendesk", app=_shaped("zendesk", zendesk_app(state))),
        ]
    )
    renderers = {"hubspot": hubspot_error_renderer, "mailchimp": mailchimp_error_renderer}
    renderers["brevo"] = brevo_error_renderer
    renderers["zendesk"] = zendesk_error_renderer
    renderers["salesforce"] = salesforce_error_renderer
    renderers["pipedrive"] = pipedrive_error_renderer
    renderers["freshdesk"] = freshdesk_error_renderer
    renderers["intercom"] = intercom_error_renderer
    renderers["aircall"] = aircall_error_renderer
    hooks = discover_hooks(state, renderers)  # sandbox/<tool>/faults.py::fault_hooks(state)
    return RequestLogMiddleware(
        FaultMiddleware(inner, state.faults, renderers, hooks), state.requests
    )
