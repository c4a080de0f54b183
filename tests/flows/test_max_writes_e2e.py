"""``max_writes`` over real HTTP against the sandbox: a plan over the cap writes nothing to that
tool and the run ends held; the next run, with the cap raised, applies the same plan."""

from __future__ import annotations

import pytest
from flow_testkit import Tools

from flows.caps import max_writes_setting
from flows.sync import sync

pytestmark = [pytest.mark.people(12), pytest.mark.connected("hubspot", "mailchimp")]


def test_a_plan_over_the_cap_is_held_for_that_tool_and_applied_when_the_cap_allows(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {c["properties"]["email"] for c in tools.hubspot_contacts()}
    monkeypatch.setenv("REVSYNC_MAX_WRITES", "2")

    held = sync()

    report = held.report
    assert report.status == "held"
    assert any(r.startswith("hubspot: ") and "max_writes 2" in r for r in report.held), report.held
    planned = [w for w in held.plan.for_tool("hubspot") if w.entity == "person"]
    assert len(planned) > 2, "the seeded world has more people to create in HubSpot than the cap"
    assert report.tool("hubspot", "person").created == 0
    assert {c["properties"]["email"] for c in tools.hubspot_contacts()} == before, "no damage"

    # The same records are planned again by the next run (no checkpoint): applied now.
    monkeypatch.delenv("REVSYNC_MAX_WRITES")
    again = sync(max_writes=1000).report

    assert again.status == "completed", again.held
    assert again.tool("hubspot", "person").created >= len([w for w in planned if w.op == "create"])
    emails = {c["properties"]["email"] for c in tools.hubspot_contacts()}
    assert {w.natural_key for w in planned if w.op == "create"} <= emails


def test_the_setting_comes_from_the_parameter_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REVSYNC_MAX_WRITES", raising=False)
    assert max_writes_setting(None) is None
    assert max_writes_setting(0) is None
    monkeypatch.setenv("REVSYNC_MAX_WRITES", "40")
    assert max_writes_setting(None) == 40
    assert max_writes_setting(5) == 5
    monkeypatch.setenv("REVSYNC_MAX_WRITES", "many")
    with pytest.raises(ValueError, match="REVSYNC_MAX_WRITES"):
        max_writes_setting(None)
