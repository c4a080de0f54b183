"""Every configuration mistake ends as one line on stderr and exit code 2, no traceback.

Most cases call ``main(argv)`` in this process (the session's Prefect harness runs the flows);
three run the real ``revsync`` console in a subprocess, where nothing but the one line may
reach stderr: a wrong token, ``--debug`` and a bad state URL.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cli import main
from sandbox.server import SandboxServer

_TOOL_VARS = ("REVSYNC_",)
_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """No tool connected, an empty state store, and the log levels ``main`` sets put back."""
    for key in list(os.environ):
        if key.startswith(_TOOL_VARS):
            monkeypatch.delenv(key)
    state = {"REVSYNC_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    monkeypatch.setenv("REVSYNC_STATE_URL", state["REVSYNC_STATE_URL"])
    levels = {name: logging.getLogger(name).level for name in ("prefect", "airbyte")}
    yield state
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _run(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """The console as a user has it: a fresh process."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_TOOL_VARS)}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


def test_no_tool_connected(prefect_harness: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["sync"], capsys)
    assert code == 2
    assert err == [
        "revsync sync: no tool is connected: run `revsync connect <tool>` or set its "
        "REVSYNC_* variables"
    ]


def test_unknown_tool_in_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["check", "--tools", "nosuch"], capsys)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync check: unknown tool 'nosuch'; known: ")


def test_unknown_tool_in_sync(prefect_harness: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["sync", "--tools", "nosuch"], capsys)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync sync: unknown tool 'nosuch'; known: ")
    assert "hubspot" in err[0]


def test_missing_token_names_the_variable_once(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REVSYNC_HUBSPOT_BASE_URL", "http://127.0.0.1:1")
    code, err = _main(["sync", "--tools", "hubspot"], capsys)
    assert code == 2
    assert err == [
        "revsync sync: hubspot is not connected: REVSYNC_HUBSPOT_ACCESS_TOKEN not set; "
        "run `revsync connect hubspot` or set the variable"
    ]


def _wrong_token(sandbox: SandboxServer) -> dict[str, str]:
    return {
        "REVSYNC_HUBSPOT_ACCESS_TOKEN": "not-the-sandbox-token",
        "REVSYNC_HUBSPOT_BASE_URL": sandbox.base_url("hubspot"),
    }


_WRONG_TOKEN_LINE = (
    "revsync sync: hubspot rejected the credential (401): check REVSYNC_HUBSPOT_ACCESS_TOKEN "
    "/ revsync connect hubspot"
)


def test_wrong_token_is_one_line_and_logs_no_request(
    prefect_harness: None,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for key, value in _wrong_token(sandbox).items():
        monkeypatch.setenv(key, value)
    code, err = _main(["sync", "--tools", "hubspot"], capsys)
    assert code == 2
    assert err == [_WRONG_TOKEN_LINE]
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in warned if "Request (body)" in r.getMessage() or r.exc_info]


def test_wrong_token_on_the_console(prefect_harness: None, sandbox: SandboxServer) -> None:
    """A real process: the CDK's request dump and traceback never reach the console."""
    from prefect.settings import PREFECT_API_URL

    env = {**_wrong_token(sandbox), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env["REVSYNC_STATE_URL"] = os.environ["REVSYNC_STATE_URL"]
    code, err = _run(["sync", "--tools", "hubspot"], env)
    assert code == 2
    assert err == [_WRONG_TOKEN_LINE]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "REVSYNC_STATE_URL is not a database URL revsync can open"),
        ("postgres://x@127.0.0.1:1/db", "REVSYNC_STATE_URL is not a database URL revsync can open"),
        ("postgresql+psycopg://x@127.0.0.1:1/db", "check REVSYNC_STATE_URL"),
    ],
)
def test_bad_state_url_names_the_variable(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REVSYNC_STATE_URL", url)
    code, err = _main(["review"], capsys)
    assert code == 2
    assert len(err) == 1
    assert says in err[0]


def test_bad_state_url_on_the_console() -> None:
    code, err = _run(["review"], {"REVSYNC_STATE_URL": "notaurl"})
    assert code == 2
    assert len(err) == 1
    assert "REVSYNC_STATE_URL is not a database URL revsync can open" in err[0]


def test_review_accept_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["review", "accept", "99"], capsys)
    assert code == 2
    assert err == ["revsync review: no review item #99 (see revsync review)"]


def test_review_accept_malformed_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["review", "accept", "abc"], capsys)
    assert code == 2
    assert err == ["revsync review: 'abc' is not a review id (see revsync review)"]


def test_review_accept_an_already_decided_id(capsys: pytest.CaptureFixture[str]) -> None:
    from state.db import engine_from_url, init_schema, session_scope
    from state.reviews import add_reviews, decide_review, pending_reviews

    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        add_reviews(
            session,
            [
                {
                    "entity": "person",
                    "left_key": "hubspot:1",
                    "right_key": "zendesk:2",
                    "score": 0.7,
                    "evidence": {},
                }
            ],
        )
        review_id = pending_reviews(session)[0].id
        assert review_id is not None
        decide_review(session, review_id, "rejected")
    engine.dispose()
    code, err = _main(["review", "accept", str(review_id)], capsys)
    assert code == 2
    assert err == [
        f"revsync review: review #{review_id} is already rejected; nothing changed "
        "(revsync review lists the pending ones)"
    ]


def test_an_unexpected_error_is_not_passed_off_as_a_users_mistake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bare ValueError from deep inside is a bug: the line says so instead of echoing it."""
    import flows.review

    def broken(*_args: object) -> str:
        raise ValueError("boom")

    monkeypatch.setattr(flows.review, "accept", broken)
    code, err = _main(["review", "accept", "1"], capsys)
    assert code == 2
    assert err == [
        "revsync review: failed unexpectedly (ValueError: boom); see the logs (or --debug), "
        "then re-run"
    ]


def test_debug_shows_the_traceback(env: dict[str, str]) -> None:
    code, err = _run(["--debug", "review", "accept", "99"], env)
    assert code == 1
    assert err[0].startswith("Traceback")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "transform: name}",
            "transform: nmae}",
            "hubspot.yaml line 27: field 'first_name': unknown transform 'nmae'",
        ),
        (
            "{unified: first_name, ",
            "{unified: frist_name, ",
            "hubspot.yaml line 27: field 'frist_name' is not a person field",
        ),
        ("transform: name}", "transform: name]]", "hubspot.yaml line "),
    ],
)
def test_a_broken_mapping_file_is_one_line(
    tmp_path: Path,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    says: str,
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for each in _MAPPINGS.glob("*.yaml"):
        (mappings / each.name).write_text(each.read_text())
    text = (mappings / "hubspot.yaml").read_text()
    assert old in text
    (mappings / "hubspot.yaml").write_text(text.replace(old, new, 1))
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("REVSYNC_HUBSPOT_ACCESS_TOKEN", "x")
    monkeypatch.setenv("REVSYNC_HUBSPOT_BASE_URL", "http://127.0.0.1:1")
    code, err = _main(["sync", "--tools", "hubspot", "--dry-run"], capsys)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("revsync sync: mapping problem: ")
    assert says in err[0]
