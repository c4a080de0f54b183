"""Every configuration mistake ends as one line on stderr and exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_TOOL_VARS = ("REVSYNC_",)


def _run(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_TOOL_VARS)}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    return {"REVSYNC_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}


def test_no_tool_connected(state: dict[str, str]) -> None:
    code, err = _run(["sync"], state)
    assert code == 2
    assert err == [
        "revsync sync: no tool is connected: run `revsync connect <tool>` or set its "
        "REVSYNC_* variables"
    ]


def test_unknown_tool_in_check(state: dict[str, str]) -> None:
    code, err = _run(["check", "--tools", "nosuch"], state)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync check: unknown tool 'nosuch'; known: ")


def test_unknown_tool_in_sync(state: dict[str, str]) -> None:
    code, err = _run(["sync", "--tools", "nosuch"], state)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync sync: unknown tool 'nosuch'; known: ")
    assert "hubspot" in err[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "REVSYNC_STATE_URL is not a database URL revsync can open"),
        ("postgres://x@127.0.0.1:1/db", "REVSYNC_STATE_URL is not a database URL revsync can open"),
        ("postgresql+psycopg://x@127.0.0.1:1/db", "check REVSYNC_STATE_URL"),
    ],
)
def test_bad_state_url_names_the_variable(url: str, says: str) -> None:
    code, err = _run(["review"], {"REVSYNC_STATE_URL": url})
    assert code == 2
    assert len(err) == 1
    assert says in err[0]


def test_review_accept_unknown_id(state: dict[str, str]) -> None:
    code, err = _run(["review", "accept", "99"], state)
    assert code == 2
    assert err == ["revsync review: no review item #99"]


def test_review_accept_malformed_id(state: dict[str, str]) -> None:
    code, err = _run(["review", "accept", "abc"], state)
    assert code == 2
    assert err == ["revsync review: 'abc' is not a review id (see revsync review)"]


def test_debug_shows_the_traceback(state: dict[str, str]) -> None:
    code, err = _run(["--debug", "review", "accept", "99"], state)
    assert code == 1
    assert err[0].startswith("Traceback")


_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("transform: name}", "transform: nmae}", "unknown transform 'nmae'"),
        ("{unified: first_name, ", "{unified: frist_name, ", "'frist_name' is not a person field"),
        ("transform: name}", "transform: name]]", "hubspot.yaml line "),
    ],
)
def test_a_broken_mapping_file_is_one_line(
    tmp_path: Path, state: dict[str, str], old: str, new: str, says: str
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for each in _MAPPINGS.glob("*.yaml"):
        (mappings / each.name).write_text(each.read_text())
    text = (mappings / "hubspot.yaml").read_text()
    assert old in text
    (mappings / "hubspot.yaml").write_text(text.replace(old, new, 1))
    env = {
        **state,
        "REVSYNC_MAPPINGS_DIR": str(mappings),
        "REVSYNC_HUBSPOT_ACCESS_TOKEN": "x",
        "REVSYNC_HUBSPOT_BASE_URL": "http://127.0.0.1:1",
    }
    code, err = _run(["sync", "--tools", "hubspot", "--dry-run"], env)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync sync: mapping problem: ")
    assert says in err[0]
