"""`revsync sandbox --env`: the export lines for every tool the sandbox imitates."""

from __future__ import annotations

import shlex

import pytest

from connectors.providers import providers
from flows.cli import main


def test_sandbox_env_prints_an_export_for_every_tools_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sandbox", "--env", "--port", "8799"]) == 0
    lines = capsys.readouterr().out.splitlines()
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    assert all(line.startswith("export REVSYNC_") for line in lines)
    for provider in providers().values():
        if not provider.sandbox:
            continue
        assert exported[provider.env_var("base_url")].startswith("http://127.0.0.1:8799/")
        for name in provider.sandbox:
            assert exported[provider.env_var(name)]


@pytest.mark.parametrize("readme", ["README.md", "sandbox/README.md"])
def test_the_readmes_give_every_export_line(
    readme: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    assert main(["sandbox", "--env"]) == 0
    text = (Path(__file__).resolve().parents[2] / readme).read_text()
    missing = [line for line in capsys.readouterr().out.splitlines() if line not in text]
    assert not missing
