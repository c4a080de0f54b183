"""A real Prefect server (subprocess, 127.0.0.1, free port) for the operations tests.

One server per session on SQLite; the PostgreSQL test starts its own. Processes are started in
their own session (process group) and stopped by group: SIGTERM, then SIGKILL if still alive
(a worker swallows the first signal, see STACK-NOTES).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(REPO / ".venv" / "bin" / "prefect")


OPS_TOOLS = ("hubspot", "mailchimp", "zendesk")
"""The tools the operations tests connect: what they check (deployments, a worker, a
PostgreSQL-backed server, automations) does not grow with the number of connectors."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Bounded polling of a real server: the check's first truthy value, or a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace / 2)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class PrefectServer:
    url: str
    home: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            [PREFECT, *args],
            env={**self.env, **(env or {})},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def spawn(
        self, *args: str, env: dict[str, str] | None = None, log: str
    ) -> subprocess.Popen[bytes]:
        with open(self.home / log, "wb") as out:
            proc = subprocess.Popen(
                [PREFECT, *args],
                env={**self.env, **(env or {})},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    @contextmanager
    def settings(self) -> Iterator[None]:
        """Point this process's Prefect client at the server.

        Prefect keeps one events worker and one log worker per process, keyed by client type
        and not by API URL: the ones started against another API (the test harness) would
        keep sending this server's events there. Drain them on the way in and out.
        """
        from prefect.settings import PREFECT_API_URL, temporary_settings

        _drain_prefect_services()
        try:
            with temporary_settings({PREFECT_API_URL: self.api_url}):
                yield
                _drain_prefect_services()
        finally:
            _drain_prefect_services()


def _drain_prefect_services() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=10)
    APILogWorker.drain_all(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_server(extra_env: dict[str, str] | None = None) -> Iterator[PrefectServer]:
    home = Path(tempfile.mkdtemp(prefix="revsync-prefect-server-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{url}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "REVSYNC_HOME": str(REPO),
        **(extra_env or {}),
    }
    server = PrefectServer(url=url, home=home, env=env)
    proc = server.spawn("server", "start", log="server.log")
    try:
        wait_until(
            lambda: _healthy(url) or proc.poll() is not None, 90, "the Prefect server to start"
        )
        if proc.poll() is not None:
            pytest.fail("the Prefect server exited:\n" + (home / "server.log").read_text()[-3000:])
        yield server
    finally:
        # Prefect's in-process services (events, logs) hold this server's URL: drain them so
        # the next test's runs start fresh ones against whatever API it uses.
        _drain_prefect_services()
        for each in reversed(server.procs):
            stop_group(each)
        shutil.rmtree(home, ignore_errors=True)
