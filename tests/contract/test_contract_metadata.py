"""Account and metadata reads (connection checks, schema discovery) for every vendor: each
answers 200 from the seeded world and, where the vendor publishes a spec, matches it.

Specs are read from ../shared/vendor-specs (skips name what is missing). HubSpot has no spec
there: its reads are checked with the official ``hubspot-api-client`` instead.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from openapi_harness import SPECS_DIR, recording_client, spec_path
from session_kit import Exchanges, check_all, control

from sandbox.credentials import (
    SANDBOX_BREVO_KEY,
    SANDBOX_FRESHDESK_API_KEY,
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_INTERCOM_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.server import SandboxServer

CLIENTS: dict[str, dict[str, Any]] = {
    "zendesk": {"auth": (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)},
    "freshdesk": {"auth": (SANDBOX_FRESHDESK_API_KEY, "X")},
    "brevo": {"headers": {"api-key": SANDBOX_BREVO_KEY}},
    "mailchimp": {"auth": ("anystring", SANDBOX_MAILCHIMP_KEY)},
    "pipedrive": {"headers": {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}},
    "intercom": {"headers": {"Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}"}},
}
SPECS = {
    "zendesk": "zendesk-support.yaml",
    "freshdesk": "freshdesk.yaml",
    "brevo": "brevo.yaml",
    "mailchimp": "mailchimp-marketing.yaml",
    "pipedrive": "pipedrive-v1.yaml",
    "intercom": "intercom.yaml",
}
_SINCE = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 3 * 365 * 86_400))
READS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "zendesk": [
        ("/api/v2/account/settings", {}),
        ("/api/v2/search", {"query": "type:ticket status:open"}),
        ("/api/v2/search", {"query": "type:user role:end-user", "per_page": 5, "page": 2}),
        ("/api/v2/search", {"query": "type:organization"}),
        ("/api/v2/users/me", {}),
    ],
    "freshdesk": [
        ("/api/v2/agents", {}),
        ("/api/v2/agents/43000000002", {}),
        ("/api/v2/groups", {}),
        ("/api/v2/roles", {}),
        ("/api/v2/contact_fields", {}),
        ("/api/v2/company_fields", {}),
    ],
    "brevo": [
        ("/account", {}),
        ("/contacts/attributes", {}),
        ("/contacts/folders", {}),
        ("/contacts/lists", {}),
        ("/emailCampaigns", {}),
        ("/smtp/templates", {}),
    ],
    "mailchimp": [
        ("/", {}),
        ("/search-members", {"query": "a"}),
        ("/campaigns", {}),
        ("/lists/a1b2c3d4e5/interest-categories", {}),
        ("/lists/a1b2c3d4e5/segments", {}),
    ],
    "pipedrive": [
        ("/v1/users/me", {}),
        ("/v1/users", {}),
        ("/v1/recents", {"since_timestamp": _SINCE, "items": "person", "limit": 20}),
        ("/v1/personFields", {}),
        ("/v1/organizationFields", {}),
        ("/v1/dealFields", {}),
    ],
    "intercom": [
        ("/me", {}),
        ("/admins", {}),
        ("/teams", {}),
        ("/tags", {}),
        ("/segments", {}),
        ("/data_attributes", {"model": "contact"}),
    ],
}


@pytest.fixture(scope="module", autouse=True)
def _world(sandbox: SandboxServer) -> None:
    """A small seeded world for every vendor these tests read."""
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 120, "seed": 16})


def _base(sandbox: SandboxServer, tool: str) -> str:
    """The sandbox URL standing in for the spec's server URL (which may carry a path)."""
    return sandbox.base_url(tool) + {"pipedrive": "/v1", "freshdesk": "/api/v2"}.get(tool, "")


@pytest.mark.parametrize("tool", sorted(READS))
def test_metadata_reads_answer_in_the_vendors_shape(sandbox: SandboxServer, tool: str) -> None:
    spec = SPECS[tool]
    if not spec_path(spec).is_file():
        pytest.skip(f"vendor spec {spec} not in {SPECS_DIR.resolve()}")
    exchanges: Exchanges = []
    with recording_client(
        exchanges, base_url=sandbox.base_url(tool), timeout=30, **CLIENTS[tool]
    ) as c:
        for path, params in READS[tool]:
            got = c.get(path, params=params)
            assert got.status_code == 200, (path, got.text)
    assert check_all(spec, exchanges, _base(sandbox, tool)) == []


def _get(sandbox: SandboxServer, tool: str, path: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=sandbox.base_url(tool), timeout=30, **CLIENTS[tool]) as c:
        return c.get(path, params=params)


def test_zendesk_search_filters_by_type_and_field(sandbox: SandboxServer) -> None:
    users = _get(sandbox, "zendesk", "/api/v2/users", **{"page[size]": 5}).json()["users"]
    email = next(u["email"] for u in users if u.get("email"))
    hit = _get(sandbox, "zendesk", "/api/v2/search", query=f"type:user email:{email}").json()
    assert [(r["result_type"], r["email"]) for r in hit["results"]] == [("user", email)]
    assert hit["count"] == 1
    open_ = _get(sandbox, "zendesk", "/api/v2/search", query="type:ticket status:open").json()
    assert open_["count"] > 0
    assert {r["status"] for r in open_["results"]} == {"open"}
    below = _get(sandbox, "zendesk", "/api/v2/search", query="type:ticket status<solved").json()
    assert {r["status"] for r in below["results"]} <= {"new", "open", "pending", "hold"}
    assert below["count"] >= open_["count"]
    nothing = _get(sandbox, "zendesk", "/api/v2/search", query="type:user no_such_field:x")
    assert nothing.json()["count"] == 0
    missing = _get(sandbox, "zendesk", "/api/v2/search")
    assert missing.status_code == 400
    assert missing.json()["error"] == "InvalidParameter"


def test_freshdesk_agents_me_is_the_key_owner(sandbox: SandboxServer) -> None:
    me = _get(sandbox, "freshdesk", "/api/v2/agents/me").json()
    agents = _get(sandbox, "freshdesk", "/api/v2/agents").json()
    assert me == agents[0]
    assert me["contact"]["email"]
    assert _get(sandbox, "freshdesk", "/api/v2/agents/1").status_code == 404


def test_brevo_attributes_are_not_read_as_a_contact_id(sandbox: SandboxServer) -> None:
    got = _get(sandbox, "brevo", "/contacts/attributes")
    assert got.status_code == 200
    names = {a["name"] for a in got.json()["attributes"]}
    assert {"FIRSTNAME", "LASTNAME", "SMS"} <= names


def test_mailchimp_search_members_exact_and_partial(sandbox: SandboxServer) -> None:
    page = _get(sandbox, "mailchimp", "/lists/a1b2c3d4e5/members", count=1).json()
    email = page["members"][0]["email_address"]
    found = _get(sandbox, "mailchimp", "/search-members", query=email).json()
    assert [m["email_address"] for m in found["exact_matches"]["members"]] == [email]
    domain = email.split("@", 1)[1]
    partial = _get(sandbox, "mailchimp", "/search-members", query=domain).json()
    assert partial["full_search"]["total_items"] >= 1
    assert len(partial["full_search"]["members"]) <= 10


def test_pipedrive_recents_are_v1_records_since_the_timestamp(sandbox: SandboxServer) -> None:
    got = _get(
        sandbox, "pipedrive", "/v1/recents", since_timestamp=_SINCE, items="person", limit=5
    ).json()
    assert got["success"] is True
    assert 0 < len(got["data"]) <= 5
    first = got["data"][0]
    assert first["item"] == "person"
    assert isinstance(first["data"]["email"], list)
    assert first["data"]["update_time"] >= _SINCE
    assert got["additional_data"]["pagination"]["more_items_in_collection"] is True
    future = _get(sandbox, "pipedrive", "/v1/recents", since_timestamp="2999-01-01 00:00:00")
    assert future.json()["data"] == []
    assert _get(sandbox, "pipedrive", "/v1/recents").status_code == 400


def test_hubspot_account_reads_with_the_official_client(sandbox: SandboxServer) -> None:
    from hubspot import HubSpot

    client = HubSpot(access_token=SANDBOX_HUBSPOT_TOKEN, host=sandbox.base_url("hubspot"))
    owners = client.crm.owners.owners_api.get_page()
    assert owners.results
    assert owners.results[0].email
    one = client.crm.owners.owners_api.get_by_id(owners.results[0].id)
    assert one.id == owners.results[0].id
    assert client.crm.schemas.core_api.get_all().results == []
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals").results
    assert pipelines[0].id == "default"
    assert pipelines[0].stages
    details = httpx.get(
        sandbox.base_url("hubspot") + "/account-info/v3/details",
        headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
    ).json()
    assert isinstance(details["portalId"], int)
