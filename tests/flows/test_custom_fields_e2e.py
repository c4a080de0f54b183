"""A custom field added in YAML only syncs HubSpot -> Mailchimp -> Zendesk against the sandbox.

The account's admin creates the field in each tool through the tool's own API (a HubSpot
contact property, a Mailchimp merge field, a Zendesk user field), then a sales ops person adds
it to the mapping files in their own mappings directory: no code changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.sync import sync
from mappings.spec import MAPPINGS_DIR
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from state.db import engine_from_url
from state.golden import load_golden
from state.models import Link

# Written about the first three tools: the five-tool world is test_crm_hub_e2e's.
pytestmark = pytest.mark.connected("hubspot", "mailchimp", "zendesk")

# What a sales ops person adds to the mapping files, per tool.
CUSTOM = [
    {"name": "plan_tier", "type": "text", "authoritative": "hubspot"},
    {"name": "nps_score", "type": "number"},
]
LINES: dict[str, list[dict[str, Any]]] = {
    "hubspot": [
        {"unified": "plan_tier", "tool": "properties.plan_tier"},
        {"unified": "nps_score", "tool": "properties.nps_score", "options": {"as_text": True}},
    ],
    "mailchimp": [
        {"unified": "plan_tier", "tool": "merge_fields.PLAN"},
        {"unified": "nps_score", "tool": "merge_fields.NPS"},
    ],
    "zendesk": [
        {"unified": "plan_tier", "tool": "user_fields.plan_tier"},
        {"unified": "nps_score", "tool": "user_fields.nps_score"},
    ],
}


def _account_mappings(target: Path) -> Path:
    """The shipped mapping files with the custom fields added, as a user would edit them."""
    target.mkdir()
    for path in MAPPINGS_DIR.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    for tool, lines in LINES.items():
        path = target / f"{tool}.yaml"
        document = yaml.safe_load(path.read_text())
        if tool == "hubspot":
            document["person"]["custom_fields"] = CUSTOM
        document["person"]["fields"] += lines
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def _call(tools: Tools, tool: str, method: str, path: str, **kwargs: Any) -> Any:
    auths: dict[str, dict[str, Any]] = {
        "hubspot": {"headers": {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}},
        "mailchimp": {"auth": ("revsync", SANDBOX_MAILCHIMP_KEY)},
        "zendesk": {"auth": (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)},
    }
    auth = auths[tool]
    response = httpx.request(method, f"{tools.server.base_url(tool)}{path}", **auth, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def _create_fields_in_the_tools(tools: Tools) -> None:
    for name, kind, field_type in (
        ("plan_tier", "string", "text"),
        ("nps_score", "number", "number"),
    ):
        _call(
            tools,
            "hubspot",
            "POST",
            "/crm/v3/properties/contacts",
            json={
                "name": name,
                "label": name.replace("_", " "),
                "type": kind,
                "fieldType": field_type,
                "groupName": "contactinformation",
            },
        )
    merge_fields = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/merge-fields"
    _call(
        tools,
        "mailchimp",
        "POST",
        merge_fields,
        json={"tag": "PLAN", "name": "Plan", "type": "text"},
    )
    _call(
        tools,
        "mailchimp",
        "POST",
        merge_fields,
        json={"tag": "NPS", "name": "NPS", "type": "number"},
    )
    for key, kind in (("plan_tier", "text"), ("nps_score", "decimal")):
        _call(
            tools,
            "zendesk",
            "POST",
            "/api/v2/user_fields",
            json={"user_field": {"key": key, "type": kind, "title": key}},
        )


def _links() -> dict[tuple[str, str], str]:
    with Session(engine_from_url()) as session:
        return {(link.tool, link.record_id): link.unified_id for link in session.exec(select(Link))}


def _person_in_every_tool(links: dict[tuple[str, str], str]) -> dict[str, str]:
    """tool -> record id of one person linked once in each of the three tools."""
    by_unified: dict[str, dict[str, list[str]]] = {}
    for (tool, record_id), unified in links.items():
        by_unified.setdefault(unified, {}).setdefault(tool, []).append(record_id)
    for records in by_unified.values():
        if all(len(records.get(t, [])) == 1 for t in LINES):
            return {t: records[t][0] for t in LINES}
    raise AssertionError("the seeded world has nobody in all three tools")


def test_a_custom_field_added_in_yaml_syncs_from_hubspot_to_mailchimp_and_zendesk(
    tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools.server.state.zendesk, "recent_exclusion_s", 0)
    sync()
    person = _person_in_every_tool(_links())

    _create_fields_in_the_tools(tools)
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(_account_mappings(tmp_path / "mappings")))
    _call(
        tools,
        "hubspot",
        "PATCH",
        f"/crm/v3/objects/contacts/{person['hubspot']}",
        json={"properties": {"plan_tier": "Enterprise", "nps_score": "9"}},
    )

    report = sync().report

    member = _call(
        tools,
        "mailchimp",
        "GET",
        f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members/{person['mailchimp']}",
    )
    assert member["merge_fields"]["PLAN"] == "Enterprise"
    assert member["merge_fields"]["NPS"] == 9
    user = _call(tools, "zendesk", "GET", f"/api/v2/users/{person['zendesk']}.json")["user"]
    assert user["user_fields"] == {"plan_tier": "Enterprise", "nps_score": 9}
    assert report.tool("mailchimp").updated == 1, "only the person whose fields changed"
    assert report.tool("zendesk").updated == 1, "only the person whose fields changed"
    with Session(engine_from_url()) as session:
        golden = load_golden(session, "person")[_links()[("hubspot", person["hubspot"])]]
    assert golden.values["nps_score"] == "9"
    assert golden.provenance["plan_tier"]["tool"] == "hubspot"

    assert sync().report.written == 0, "what was written reads back as unchanged"


def test_a_mapping_may_not_use_an_undeclared_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mappings.errors import MappingConfigError
    from mappings.spec import load_mappings

    target = _account_mappings(tmp_path / "mappings")
    document = yaml.safe_load((target / "hubspot.yaml").read_text())
    del document["person"]["custom_fields"]
    (target / "hubspot.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(target))

    with pytest.raises(MappingConfigError, match="plan_tier"):
        load_mappings("mailchimp")
