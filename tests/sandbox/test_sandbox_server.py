"""Server plumbing: seeding through the control plane, TCP_NODELAY, throughput, reset."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx
from sandbox_testkit import HS_AUTH, MC_AUTH, control, fresh

from sandbox.credentials import SANDBOX_MAILCHIMP_LIST_ID
from sandbox.server import NoDelayH11Protocol, SandboxServer


def test_base_urls(sandbox: SandboxServer) -> None:
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    assert sandbox.base_url("hubspot").endswith("/hubspot")
    assert sandbox.base_url("mailchimp").endswith("/mailchimp/3.0")


def test_seed_endpoint_loads_world(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    counts = control(sandbox, "POST", "/seed", {"people": 300, "seed": 3})
    assert counts["people"] == 300
    page = httpx.get(
        sandbox.base_url("hubspot") + "/crm/v3/objects/contacts",
        headers=HS_AUTH,
        params={"limit": 100},
    ).json()
    assert len(page["results"]) == min(100, counts["hubspot_contacts"])
    members = httpx.get(
        sandbox.base_url("mailchimp") + f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members",
        auth=MC_AUTH,
    ).json()
    assert members["total_items"] == counts["mailchimp_members"]
    fresh(sandbox)
    assert control(sandbox, "GET", "/")["hubspot_contacts"] == 0


def test_nodelay_protocol_sets_tcp_nodelay() -> None:
    class _Transport:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def get_extra_info(self, name: str, default: object = None) -> object:
            return self.sock if name == "socket" else default

    left = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        protocol = NoDelayH11Protocol.__new__(NoDelayH11Protocol)
        # the rest of uvicorn's setup needs a real server; the option is set first
        with contextlib.suppress(AttributeError):
            protocol.connection_made(_Transport(left))  # type: ignore[arg-type]
        assert left.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        left.close()


def test_keepalive_requests_are_not_nagled(sandbox: SandboxServer) -> None:
    """300 sequential keep-alive requests; with Nagle + delayed ACK this takes >10 s."""
    fresh(sandbox)
    url = sandbox.base_url("mailchimp") + f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members"
    with httpx.Client(auth=MC_AUTH) as client:
        client.get(url)
        start = time.perf_counter()
        for _ in range(300):
            assert client.get(url).status_code == 200
        elapsed = time.perf_counter() - start
    assert elapsed < 6.0


def test_server_context_manager_picks_free_port() -> None:
    with SandboxServer(port=0, seed_people=20) as server:
        assert server.port > 0
        assert len(server.state.hubspot.contacts.store) > 0
        response = httpx.get(server.url + "/_sandbox/")
        assert response.status_code == 200
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", server.port))  # the port was released
