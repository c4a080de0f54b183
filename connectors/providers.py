"""Provider facts as data, one entry per tool: the only place that knows vendor constants.

Readers get the same facts through each tool's ``manifest.yaml``; this module serves the
HTTP client, the writers and the connection loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.ratelimit import RateLimitHeaders, RateLimitPolicy

__all__ = ["PROVIDERS", "Provider", "provider_for"]


@dataclass(frozen=True)
class Provider:
    """What a connector needs to know about one vendor."""

    tool: str
    base_url_template: str
    auth: Literal["bearer", "basic"]
    secret_name: str
    secret_hint: str
    rate_limit: RateLimitPolicy
    batch_max: int
    required_options: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    docs_url: str = ""
    url_options: tuple[str, ...] = ()
    """Options that fill ``base_url_template`` when no base URL is set (Zendesk's subdomain)."""
    basic_username: str = "revsync"
    """Basic-auth username, filled from the options (Zendesk wants ``{email}/token``)."""


PROVIDERS: dict[str, Provider] = {
    "hubspot": Provider(
        tool="hubspot",
        base_url_template="https://api.hubapi.com",
        auth="bearer",
        secret_name="access_token",
        secret_hint="check the private app token (REVSYNC_HUBSPOT_ACCESS_TOKEN)",
        rate_limit=RateLimitPolicy(
            headers=RateLimitHeaders(
                limit="X-HubSpot-RateLimit-Max",
                remaining="X-HubSpot-RateLimit-Remaining",
                interval_ms="X-HubSpot-RateLimit-Interval-Milliseconds",
            ),
            min_remaining=2,
            default_interval=10.0,
        ),
        batch_max=100,
        streams=("contacts", "companies"),
        docs_url="https://developers.hubspot.com/docs/api/crm/contacts",
    ),
    "mailchimp": Provider(
        tool="mailchimp",
        base_url_template="https://{dc}.api.mailchimp.com/3.0",
        auth="basic",
        secret_name="api_key",
        secret_hint="check the API key (REVSYNC_MAILCHIMP_API_KEY)",
        rate_limit=RateLimitPolicy(headers=None, max_concurrency=10),
        batch_max=500,
        required_options=("list_id",),
        streams=("members",),
        docs_url="https://mailchimp.com/developer/marketing/api/list-members/",
    ),
    "zendesk": Provider(
        tool="zendesk",
        base_url_template="https://{subdomain}.zendesk.com",
        auth="basic",
        secret_name="api_token",
        secret_hint=(
            "check the agent email and API token (REVSYNC_ZENDESK_EMAIL, REVSYNC_ZENDESK_API_TOKEN)"
        ),
        rate_limit=RateLimitPolicy(
            headers=RateLimitHeaders(
                limit="X-Rate-Limit",
                remaining="X-Rate-Limit-Remaining",
                reset_seconds="ratelimit-reset",
            ),
            min_remaining=2,
            default_interval=60.0,
        ),
        batch_max=100,
        required_options=("email",),
        streams=("users", "organizations"),
        docs_url="https://developer.zendesk.com/api-reference/ticketing/users/users/",
        url_options=("subdomain",),
        basic_username="{email}/token",
    ),
}


def provider_for(tool: str) -> Provider:
    """The facts for ``tool``; a ``KeyError`` names the tools we know."""
    try:
        return PROVIDERS[tool]
    except KeyError:
        raise KeyError(f"unknown tool {tool!r}; known: {sorted(PROVIDERS)}") from None
