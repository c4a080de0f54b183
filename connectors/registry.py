"""Where each tool's reader manifest and writer live."""

from __future__ import annotations

from pathlib import Path

import httpx

from connectors.connections import Connection
from connectors.providers import PROVIDERS
from connectors.writer import Writer

__all__ = ["CONNECTORS_DIR", "manifest_path", "tools", "writer_for"]

CONNECTORS_DIR = Path(__file__).resolve().parent


def tools() -> list[str]:
    """Every tool with a connector folder."""
    return sorted(PROVIDERS)


def manifest_path(tool: str) -> Path:
    """``connectors/<tool>/manifest.yaml``."""
    if tool not in PROVIDERS:
        raise KeyError(f"unknown tool {tool!r}; known: {tools()}")
    return CONNECTORS_DIR / tool / "manifest.yaml"


def writer_for(conn: Connection, client: httpx.Client | None = None) -> Writer:
    """The writer for ``conn.tool``; it builds (and then owns) a client unless one is given."""
    if conn.tool == "hubspot":
        from connectors.hubspot.writer import HubSpotWriter

        return HubSpotWriter(conn, client)
    if conn.tool == "mailchimp":
        from connectors.mailchimp.writer import MailchimpWriter

        return MailchimpWriter(conn, client)
    if conn.tool == "zendesk":
        from connectors.zendesk.writer import ZendeskWriter

        return ZendeskWriter(conn, client)
    raise KeyError(f"no writer for tool {conn.tool!r}; known: {tools()}")
