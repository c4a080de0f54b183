"""`revsync --help` speaks to users: every command and option says what it does."""

from __future__ import annotations

import argparse

import pytest

from flows.cli import _parser
from flows.demo import DemoOutcome
from flows.report import SyncReport, ToolCounts


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_and_option_is_described() -> None:
    parser = _parser()
    undescribed = []
    for name, sub in _subparsers(parser).items():
        nested = _subparsers(sub) or {"": sub}
        for tool, each in nested.items():
            for action in each._actions:
                if not action.help and not isinstance(action, argparse._SubParsersAction):
                    undescribed.append(f"{name} {tool} {action.dest}".replace("  ", " "))
    assert not undescribed


def test_the_help_lists_the_settings_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for needed in ("REVSYNC_STATE_URL", "REVSYNC_MAPPINGS_DIR", "PREFECT_API_URL", "exit codes"):
        assert needed in out


def test_converged_only_when_nothing_is_left_failing() -> None:
    quiet = SyncReport(run_id="b", dry_run=False)
    assert DemoOutcome(quiet, quiet).converged
    failing = SyncReport(run_id="c", dry_run=False)
    failing.tools["zendesk/person"] = ToolCounts(failed=5)
    assert not DemoOutcome(quiet, failing).converged
    lettered = SyncReport(run_id="d", dry_run=False, dead_letters=7)
    assert not DemoOutcome(quiet, lettered).converged
