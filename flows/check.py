"""`revsync check`: prove each connection works before a scheduled run finds out it does not.

Real calls through the same client the sync uses (auth, retries, limiter), each chosen to be
cheap and to write nothing: HubSpot reads one contact, then probes the write scope with an empty
batch upsert (a token without ``crm.objects.contacts.write`` gets 403 and the body names the
scope); Mailchimp pings and reads the audience; Zendesk reads one user (the agent's token) and
asks the organization export for one record (exports are for admins; it spends one of the
export's 10 requests a minute). Rate-limit headers, when the vendor sends them, give the
headroom left in the current window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from connectors.connections import Connection
from connectors.errors import ConfigError, classify_response, scrub, vendor_message
from connectors.http import build_client
from connectors.providers import provider_for
from connectors.retry import RetrySettings

__all__ = ["CheckResult", "Probe", "check_connection", "fix_hint"]

_CHECK_RETRY = RetrySettings(max_attempts=2, base_wait=0.5, max_wait=2.0, max_total_delay=5.0)


@dataclass
class Probe:
    """One call and what it showed."""

    name: str
    ok: bool
    detail: str


@dataclass
class CheckResult:
    tool: str
    base_url: str
    probes: list[Probe] = field(default_factory=list)
    headroom: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.probes) and all(p.ok for p in self.probes)

    def lines(self) -> list[str]:
        head = f"{self.tool}: {'OK' if self.ok else 'FAILED'} ({self.base_url})"
        out = [head] + [f"  {'ok ' if p.ok else 'XX '} {p.name}: {p.detail}" for p in self.probes]
        if self.headroom:
            out.append(f"  rate limit: {self.headroom}")
        return out


def fix_hint(tool: str) -> str:
    """How to fix a tool's credential, naming both places it can come from."""
    provider = provider_for(tool)
    var = f"REVSYNC_{tool.upper()}_{provider.secret_name.upper()}"
    return f"check {var} or run `revsync connect {tool}`"


def _probe(
    response: httpx.Response, name: str, ok_detail: str, tool: str, secrets: list[str]
) -> Probe:
    if response.status_code < 400:
        return Probe(name, True, ok_detail)
    status = response.status_code
    said = scrub(vendor_message(response), secrets)
    if status == 401:
        detail = f"{tool} rejected the credential (401): {fix_hint(tool)}"
    elif status == 403:
        detail = f"{tool} refused the call (403: {said}); grant the missing scope, then re-run"
    elif status == 404:
        detail = f"not found (404: {said}); check the base URL and options of the connection"
    else:
        kind = classify_response(response).value
        detail = f"{tool} answered {status} ({kind}: {said}); try again later"
    return Probe(name, False, detail)


def _hubspot_headroom(response: httpx.Response) -> str | None:
    remaining = response.headers.get("X-HubSpot-RateLimit-Remaining")
    maximum = response.headers.get("X-HubSpot-RateLimit-Max")
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if remaining is None:
        return None
    window = f" per {int(interval) / 1000:g}s" if interval and interval.isdigit() else ""
    return f"{remaining} of {maximum or '?'} calls left{window}"


def _check_hubspot(client: httpx.Client, result: CheckResult, secrets: list[str]) -> None:
    read = client.get("crm/v3/objects/contacts", params={"limit": 1, "properties": "email"})
    result.probes.append(
        _probe(
            read,
            "read contacts (crm.objects.contacts.read)",
            "1-record page read",
            "hubspot",
            secrets,
        )
    )
    result.headroom = _hubspot_headroom(read)
    if read.status_code == 401:
        return
    write = client.post("crm/v3/objects/contacts/batch/upsert", json={"inputs": []})
    if write.status_code in (400, 422):  # validation of the empty batch: the scope is there
        result.probes.append(Probe("write scope (crm.objects.contacts.write)", True, "granted"))
    else:
        result.probes.append(
            _probe(write, "write scope (crm.objects.contacts.write)", "granted", "hubspot", secrets)
        )
    result.headroom = _hubspot_headroom(write) or result.headroom


def _check_mailchimp(
    client: httpx.Client, conn: Connection, result: CheckResult, secrets: list[str]
) -> None:
    ping = client.get("ping")
    result.probes.append(_probe(ping, "ping (API key)", "the key is valid", "mailchimp", secrets))
    if ping.status_code == 401:
        return
    list_id = conn.option("list_id")
    audience = client.get(f"lists/{list_id}", params={"fields": "id,name,stats.member_count"})
    detail = "readable"
    if audience.status_code < 400:
        body = audience.json()
        count = (body.get("stats") or {}).get("member_count")
        detail = f"audience {body.get('name') or list_id!r}, {count} members"
    probe = _probe(audience, f"audience {list_id}", detail, "mailchimp", secrets)
    if audience.status_code == 404:
        probe.detail = (
            f"audience {list_id} not found (404); check REVSYNC_MAILCHIMP_LIST_ID or run "
            "`revsync connect mailchimp`"
        )
    result.probes.append(probe)
    result.headroom = "no rate-limit headers; Mailchimp allows 10 simultaneous connections"


def _zendesk_headroom(response: httpx.Response) -> str | None:
    remaining = response.headers.get("X-Rate-Limit-Remaining")
    if remaining is None:
        return None
    return f"{remaining} of {response.headers.get('X-Rate-Limit') or '?'} calls left per minute"


def _check_zendesk(client: httpx.Client, result: CheckResult, secrets: list[str]) -> None:
    read = client.get("api/v2/users", params={"page[size]": 1})
    result.probes.append(
        _probe(read, "read users (agent email + API token)", "1-user page read", "zendesk", secrets)
    )
    result.headroom = _zendesk_headroom(read)
    if read.status_code == 401:
        return
    day_ago = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    export = client.get(
        "api/v2/incremental/organizations", params={"start_time": day_ago, "per_page": 1}
    )
    probe = _probe(export, "incremental exports (admin)", "allowed", "zendesk", secrets)
    if export.status_code == 403:
        probe.detail = (
            "zendesk refused the incremental export (403): the agent in REVSYNC_ZENDESK_EMAIL "
            "must be an admin"
        )
    result.probes.append(probe)
    result.headroom = _zendesk_headroom(export) or result.headroom


_CHECKS: dict[str, Callable[[httpx.Client, Connection, CheckResult, list[str]], None]] = {
    "hubspot": lambda client, _conn, result, secrets: _check_hubspot(client, result, secrets),
    "mailchimp": _check_mailchimp,
    "zendesk": lambda client, _conn, result, secrets: _check_zendesk(client, result, secrets),
}


def check_connection(
    conn: Connection, *, transport: httpx.BaseTransport | None = None
) -> CheckResult:
    """Call the tool and report auth, scopes and rate-limit headroom; never raises for a 4xx."""
    result = CheckResult(tool=conn.tool, base_url=conn.base_url)
    secrets = [s.get_secret_value() for s in conn.secrets.values()]
    check = _CHECKS.get(conn.tool)
    if check is None:
        result.probes.append(Probe("connection", False, f"no check for {conn.tool} yet"))
        return result
    try:
        with build_client(conn, transport=transport, retry=_CHECK_RETRY) as client:
            check(client, conn, result, secrets)
    except ConfigError as exc:
        result.probes.append(Probe("configuration", False, str(exc)))
    except httpx.HTTPError as exc:
        result.probes.append(
            Probe(
                "reach",
                False,
                f"cannot reach {conn.base_url} ({type(exc).__name__}); check the base URL "
                f"(REVSYNC_{conn.tool.upper()}_BASE_URL or `revsync connect {conn.tool}`)",
            )
        )
    return result
