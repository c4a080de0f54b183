"""Run the sandbox with uvicorn on 127.0.0.1: in a background thread (tests) or in the foreground.

TCP_NODELAY is set explicitly on every accepted connection: small JSON responses on a
loopback keep-alive connection otherwise stall on Nagle + delayed ACK (STACK-NOTES measured
2k records/s instead of 12k+). asyncio sets it too; we do not rely on that.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from sandbox.app import build_app
from sandbox.faults import fault_from_json
from sandbox.requestlog import TOOL_PREFIXES
from sandbox.state import SandboxState
from sandbox.world import generate_world, load_world

__all__ = ["HOST", "NoDelayH11Protocol", "SandboxServer", "serve_forever"]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with Nagle's algorithm disabled on each connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                logger.debug("could not set TCP_NODELAY", exc_info=True)
        super().connection_made(transport)


def _config(state: SandboxState, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(state),
        host=HOST,
        port=port,
        http=NoDelayH11Protocol,
        loop="asyncio",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


def _seed(state: SandboxState, people: int | None, seed: int) -> None:
    if people:
        world = generate_world(people, seed, now=state.clock().replace(microsecond=0))
        counts = load_world(state, world)
        logger.info("sandbox seeded: %s", counts)


class SandboxServer:
    """The sandbox served from a background thread; use as a context manager.

    ``port=0`` picks a free port. ``.state`` is the live in-memory state (thread-safe).
    """

    def __init__(self, port: int = 0, *, seed_people: int | None = None, seed: int = 42) -> None:
        self.state = SandboxState()
        _seed(self.state, seed_people, seed)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, port))
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.state, self.port))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def base_url(self, tool: str) -> str:
        """The base URL standing in for the vendor's host (e.g. ``.../hubspot``)."""
        for prefix, name in TOOL_PREFIXES.items():
            if name == tool:
                return self.url + prefix
        raise KeyError(f"unknown tool {tool!r}; one of {sorted(TOOL_PREFIXES.values())}")

    def start(self) -> SandboxServer:
        self._sock.listen(1024)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server failed to start")
            time.sleep(0.005)
        logger.info("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r})"


def serve_forever(
    port: int = 8765,
    seed_people: int | None = 200,
    *,
    seed: int = 42,
    faults: list[dict[str, Any]] | None = None,
) -> None:
    """Serve in the foreground until interrupted (``revsync sandbox [--fault JSON]...``)."""
    state = SandboxState()
    _seed(state, seed_people, seed)
    for spec in faults or []:
        state.faults.add(fault_from_json(spec))
    server = uvicorn.Server(_config(state, port))
    logger.info(
        "sandbox on http://%s:%d (/hubspot, /mailchimp/3.0, control: /_sandbox)",
        HOST,
        port,
    )
    server.run()
