"""The Salesforce manifest's SOQL: a stream's parent-to-child subqueries follow its fields, and a
mapped child relationship is read by its subquery, never selected as a plain field (Salesforce
refuses ``SELECT OpportunityContactRoles`` with INVALID_FIELD)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation

from mappings.spec import load_mappings, requested_fields

MANIFEST = Path(__file__).parents[2] / "connectors" / "salesforce" / "manifest.yaml"


def _manifest() -> dict[str, Any]:
    return dict(yaml.safe_load(MANIFEST.read_text()))


def _soql(stream: str, mapped: list[str]) -> str:
    manifest = _manifest()
    template = manifest["definitions"]["requester"]["request_parameters"]["q"]
    (params,) = [s["$parameters"] for s in manifest["streams"] if s["name"] == stream]
    text = JinjaInterpolation().eval(
        template,
        config={"mapped_fields": mapped},
        parameters=params,
        next_page_token=None,
        stream_slice={"start_time": "2024-01-01T00:00:00.000000+0000"},
    )
    return str(text)


def test_opportunities_read_their_contact_roles_by_subquery() -> None:
    mapped = list(requested_fields(load_mappings("salesforce")["deal"]))
    assert "OpportunityContactRoles" in mapped
    soql = _soql("opportunities", mapped)
    select = soql.split(" FROM Opportunity ")[0]
    assert select.endswith(", (SELECT ContactId FROM OpportunityContactRoles)")
    assert select.count("OpportunityContactRoles") == 1
    assert select.startswith("SELECT Id, IsDeleted, CreatedDate, ")
    assert "WHERE SystemModstamp > 2024-01-01T00:00:00Z ORDER BY SystemModstamp ASC" in soql


@pytest.mark.parametrize(("stream", "sobject"), [("contacts", "Contact"), ("accounts", "Account")])
def test_other_streams_select_their_fields_as_before(stream: str, sobject: str) -> None:
    manifest = _manifest()
    (params,) = [s["$parameters"] for s in manifest["streams"] if s["name"] == stream]
    soql = _soql(stream, ["Custom__c", "Id"])
    fields = ", ".join([*params["fields"], "Custom__c"])
    assert soql.startswith(f"SELECT {fields} FROM {sobject} WHERE SystemModstamp > ")
    assert "(" not in soql
