"""The declared automations on a real server: a failed sync run and too many dead letters notify."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from ops_server import OPS_TOOLS, PrefectServer, wait_until

from flows.automations import apply_automations, load_automations
from flows.demo import sandbox_environment
from sandbox.server import SandboxServer

pytestmark = pytest.mark.server


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def _notified(received: list[dict[str, Any]], needle: str) -> bool:
    return any(needle in json.dumps(item) for item in received)


def test_a_failed_sync_and_too_many_dead_letters_notify(
    prefect_server: PrefectServer,
    sandbox: SandboxServer,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.sync import sync

    url, received = webhook
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    httpx.post(f"{sandbox.url}/_sandbox/seed", json={"people": 40, "seed": 5}).raise_for_status()
    for key, value in sandbox_environment(sandbox, OPS_TOOLS).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REVSYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")

    with prefect_server.settings():
        ids = apply_automations(webhook_url=url)
        declared = [a["name"] for a in load_automations()["automations"]]
        with get_client(sync_client=True) as client:
            for name, automation_id in zip(declared, ids, strict=True):
                (found,) = client.read_automations_by_name(name)
                assert found.id == automation_id
                assert found.enabled

        # a sync that leaves dead letters (the seeded world has invalid emails) over threshold 0
        report = sync(dead_letter_threshold=0).report
        assert report.dead_letters > 0
        wait_until(lambda: _notified(received, "dead letters"), 90, "the dead-letter alert")

        # a sync with a wrong token fails, in one line, and the failure automation fires
        monkeypatch.setenv("REVSYNC_HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong-0000")
        with pytest.raises(Exception, match="rejected the credential"):
            sync.with_options(flow_run_name="wrong-token")()
        with get_client(sync_client=True) as client:
            (run,) = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["wrong-token"])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
        assert run.state is not None
        assert run.state.is_failed()
        message = run.state.message or ""
        assert "hubspot rejected the credential (401)" in message
        assert "revsync connect hubspot" in message
        assert "pat-na1-wrong-0000" not in message
        wait_until(lambda: _notified(received, "revsync sync failed"), 90, "the failure alert")
    assert "pat-na1" not in json.dumps(received)
