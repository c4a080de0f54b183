"""Budgets come from each connector's declaration, with the account's overrides on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.providers import providers
from flows.budget import BUDGETS_FILE, load_budgets


def test_every_connector_declares_a_budget_and_the_shipped_file_overrides_none() -> None:
    budgets = load_budgets()
    assert set(budgets) == set(providers())
    for tool, spec in budgets.items():
        assert spec == providers()[tool].budget
    assert BUDGETS_FILE.exists()


def test_an_override_changes_only_what_it_names(tmp_path: Path) -> None:
    tool = sorted(providers())[0]
    declared = providers()[tool].budget
    assert declared is not None
    path = tmp_path / "budgets.yaml"
    path.write_text(f"budgets:\n  {tool}:\n    burst: {declared.burst + 7}\n")
    spec = load_budgets(path)[tool]
    assert spec.burst == declared.burst + 7
    assert spec.per_second == declared.per_second
    assert spec.backfill_burst == declared.backfill_burst


def test_an_override_for_an_unknown_tool_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  hubspott:\n    burst: 3\n")
    with pytest.raises(KeyError, match="unknown tool 'hubspott'"):
        load_budgets(path)


def test_a_missing_overrides_file_means_the_declared_budgets(tmp_path: Path) -> None:
    assert load_budgets(tmp_path / "absent.yaml") == load_budgets()
