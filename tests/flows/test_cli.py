"""The `revsync` command line: the demo, a dry run's printed plan, and the sandbox server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from flow_testkit import Tools

from flows.cli import main
from flows.demo import run_demo


def test_sync_dry_run_prints_the_plan_and_writes_nothing(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert "Dry run: planned, nothing written" in out
    assert "| hubspot | create |" in out
    assert "| mailchimp | update |" in out
    sent = tools.requests("hubspot") + tools.requests("mailchimp")
    assert [r for r in sent if r["method"] in {"PUT", "PATCH"}] == []
    assert not [r for r in sent if r["path"].endswith(("/batch/upsert", "/batch/update"))]


def test_demo_syncs_twice_and_the_second_run_writes_nothing(
    prefect_harness: None, tmp_path: Path
) -> None:
    outcome = run_demo(people=60, seed=3, workdir=tmp_path)

    assert outcome.first.written > 0
    assert outcome.first.tool("hubspot").read > 0
    assert outcome.first.tool("mailchimp").read > 0
    assert outcome.converged
    assert outcome.second.written == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_sandbox_command_serves_a_seeded_sandbox_on_loopback() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "flows.cli", "sandbox", "--port", str(port), "--people", "25"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as p:
        try:
            counts = None
            deadline = time.monotonic() + 30
            while counts is None and time.monotonic() < deadline and p.poll() is None:
                try:
                    counts = httpx.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=1).json()
                except httpx.TransportError:
                    time.sleep(0.1)
            assert counts is not None, "the sandbox did not answer within 30 s"
            assert counts["hubspot_contacts"] > 0
            assert counts["mailchimp_members"] > 0
        finally:
            p.terminate()
            p.wait(timeout=10)


def test_dead_letters_are_listed_and_a_dismissed_one_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from state.db import engine_from_url, init_schema, session_scope
    from state.dead_letters import add_dead_letter, open_dead_letters
    from state.runs import start_run

    monkeypatch.setenv("REVSYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        start_run(session, "r1", None, dry_run=False)
        letter = add_dead_letter(
            session,
            "r1",
            "mailchimp",
            "members",
            None,
            "apply",
            "Invalid Resource",
            {"unified_id": "u7"},
        )

    assert main(["dead-letters"]) == 0
    listed = capsys.readouterr().out
    assert f"#{letter} " in listed
    assert "mailchimp/members apply u7" in listed
    assert "Invalid Resource" in listed
    assert main(["dead-letters", "dismiss"]) == 2
    assert main(["dead-letters", "dismiss", str(letter)]) == 0
    with session_scope(engine) as session:
        assert open_dead_letters(session) == []
    capsys.readouterr()
    assert main(["dead-letters", "--tool", "mailchimp"]) == 0
    assert "No open dead letters." in capsys.readouterr().out
