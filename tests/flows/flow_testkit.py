"""Helpers for flow tests: read the sandbox's tools as a person checking them would."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel import Session, select

from sandbox.credentials import (
    SANDBOX_FRESHDESK_API_KEY,
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_INTERCOM_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.server import SandboxServer
from state.db import engine_from_url
from state.models import GoldenRecord, Link


@dataclass
class Tools:
    """Reads the sandbox through the vendors' own APIs, as a person checking the tools would."""

    server: SandboxServer
    waits: list[float]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.server.url}/_sandbox{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def hubspot_contacts(self) -> list[dict[str, Any]]:
        props = "email,firstname,lastname,phone,company,jobtitle,lifecyclestage,city,country"
        headers = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, "properties": props}
        while True:
            page = (
                httpx.get(
                    f"{self.server.base_url('hubspot')}/crm/v3/objects/contacts",
                    params=params,
                    headers=headers,
                )
                .raise_for_status()
                .json()
            )
            out += page["results"]
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                return out
            params["after"] = after

    def create_hubspot(self, properties: dict[str, str]) -> str:
        response = httpx.post(
            f"{self.server.base_url('hubspot')}/crm/v3/objects/contacts",
            json={"properties": properties},
            headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
        ).raise_for_status()
        return str(response.json()["id"])

    def mailchimp_members(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = (
                httpx.get(
                    f"{self.server.base_url('mailchimp')}/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members",
                    params={"count": 1000, "offset": offset},
                    auth=("revsync", SANDBOX_MAILCHIMP_KEY),
                )
                .raise_for_status()
                .json()
            )
            out += page["members"]
            offset += len(page["members"])
            if not page["members"] or offset >= page["total_items"]:
                return out

    def hubspot_primary_companies(self) -> dict[str, str | None]:
        """HubSpot contact id -> its primary company id, as HubSpot reports it."""
        out: dict[str, str | None] = {}
        params: dict[str, Any] = {"limit": 100, "properties": "email,associatedcompanyid"}
        headers = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
        while True:
            body = (
                httpx.get(
                    f"{self.server.base_url('hubspot')}/crm/v3/objects/contacts",
                    params=params,
                    headers=headers,
                )
                .raise_for_status()
                .json()
            )
            for c in body["results"]:
                out[str(c["id"])] = c["properties"].get("associatedcompanyid")
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                return out
            params["after"] = after

    def zendesk_organizations(self) -> dict[str, str | None]:
        """Zendesk user id -> its organization id."""
        out: dict[str, str | None] = {}
        auth = (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)
        url: str | None = f"{self.server.base_url('zendesk')}/api/v2/users.json"
        while url:
            body = httpx.get(url, auth=auth).raise_for_status().json()
            for u in body["users"]:
                org = u.get("organization_id")
                out[str(u["id"])] = None if org is None else str(org)
            url = body.get("next_page")
        return out

    def pipedrive(self, method: str, path: str, **kwargs: Any) -> Any:
        """Pipedrive's API (``/api/v2/...`` or ``/v1/...``), as its UI or a script calls it."""
        response = httpx.request(
            method,
            f"{self.server.base_url('pipedrive')}{path}",
            headers={"x-api-token": SANDBOX_PIPEDRIVE_TOKEN},
            **kwargs,
        ).raise_for_status()
        return response.json()

    def hubspot(self, method: str, path: str, **kwargs: Any) -> Any:
        """HubSpot's API (``/crm/v3/...``), as an admin's script calls it."""
        response = httpx.request(
            method,
            f"{self.server.base_url('hubspot')}{path}",
            headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
            **kwargs,
        ).raise_for_status()
        return response.json() if response.content else None

    def zendesk(self, method: str, path: str, **kwargs: Any) -> Any:
        """Zendesk's API (paths under ``/api/v2``), as an agent's UI calls it."""
        response = httpx.request(
            method,
            f"{self.server.base_url('zendesk')}/api/v2{path}",
            auth=(f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN),
            **kwargs,
        ).raise_for_status()
        return response.json() if response.content else None

    def freshdesk(self, method: str, path: str, **kwargs: Any) -> Any:
        """Freshdesk's API (paths under ``/api/v2``), as an agent's UI calls it."""
        response = httpx.request(
            method,
            f"{self.server.base_url('freshdesk')}/api/v2{path}",
            auth=(SANDBOX_FRESHDESK_API_KEY, "X"),
            **kwargs,
        ).raise_for_status()
        return response.json() if response.content else None

    def intercom(self, method: str, path: str, **kwargs: Any) -> Any:
        """Intercom's API (version 2.16), as a teammate's Inbox calls it."""
        headers = {"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}", "Intercom-Version": "2.16"}
        response = httpx.request(
            method, f"{self.server.base_url('intercom')}{path}", headers=headers, **kwargs
        ).raise_for_status()
        return response.json() if response.content else None

    def pipedrive_persons(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 500}
        while True:
            page = self.pipedrive("GET", "/api/v2/persons", params=params)
            out += page["data"]
            params["cursor"] = (page.get("additional_data") or {}).get("next_cursor")
            if not params["cursor"]:
                return out

    def requests(self, tool: str) -> list[dict[str, Any]]:
        return list(self.control("GET", "/requests", params={"tool": tool}))

    def edit_hubspot(self, record_id: str, properties: dict[str, str]) -> None:
        self.control("PATCH", f"/hubspot/contacts/{record_id}", json={"properties": properties})

    @staticmethod
    def subscriber_hash(email: str) -> str:
        return hashlib.md5(email.strip().lower().encode()).hexdigest()


def entity_links(entity: str) -> dict[tuple[str, str], str]:
    """(tool, record id) -> golden id, for one entity's links in the state store."""
    with Session(engine_from_url()) as session:
        rows = session.exec(select(Link).where(Link.entity == entity))
        return {(x.tool, x.record_id): x.unified_id for x in rows}


def all_links() -> dict[tuple[str, str, str], str]:
    """(entity, tool, record id) -> golden id, for every link in the state store."""
    with Session(engine_from_url()) as session:
        return {(x.entity, x.tool, x.record_id): x.unified_id for x in session.exec(select(Link))}


def golden_values(entity: str) -> dict[str, dict[str, Any]]:
    """Golden id -> golden values, for one entity."""
    with Session(engine_from_url()) as session:
        rows = session.exec(select(GoldenRecord).where(GoldenRecord.entity == entity))
        return {g.unified_id: dict(g.values) for g in rows}
