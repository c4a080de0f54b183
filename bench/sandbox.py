"""Sandbox throughput: records/s a connector gets reading each tool's main list over loopback.

For every tool the sandbox serves and the world can seed, loads ~100,000 records of its main
stream, reads them page by page the way a connector would (one keep-alive client, vendor page
size and pagination) and reports records/s; the figures go into the README's benchmark table.

A tool is benchmarked when a reader is known for it: HubSpot and Mailchimp here; any other tool
by exposing ``bench_reader(client: httpx.Client, base_url: str) -> Iterator[int]`` (records per
page, in order) and ``BENCH_STREAM: str`` (its main stream in ``ToolSeed.streams``) in
``sandbox/<tool>/seed.py``. Tools without one are listed as skipped.

Run: ``.venv/bin/python -m bench.sandbox [--records 100000] [--tools hubspot,mailchimp]``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench.readme_table import update_readme
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
)
from sandbox.requestlog import TOOL_PREFIXES
from sandbox.server import SandboxServer
from sandbox.world import ALL_TOOLS, generate_world, load_world, seeder

__all__ = ["BenchResult", "main", "run"]

logger = logging.getLogger(__name__)

Reader = Callable[[httpx.Client, str], Iterator[int]]


def _hubspot(client: httpx.Client, base: str) -> Iterator[int]:
    params: dict[str, Any] = {"limit": 100, "properties": "email,firstname,lastname,phone"}
    headers = {"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"}
    while True:
        page = client.get(f"{base}/crm/v3/objects/contacts", params=params, headers=headers)
        body = page.raise_for_status().json()
        yield len(body["results"])
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return
        params["after"] = after


def _mailchimp(client: httpx.Client, base: str) -> Iterator[int]:
    offset = 0
    while True:
        page = client.get(
            f"{base}/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members",
            params={"count": 1000, "offset": offset},
            auth=("bench", SANDBOX_MAILCHIMP_KEY),
        )
        members = page.raise_for_status().json()["members"]
        yield len(members)
        offset += len(members)
        if len(members) < 1000:
            return


_READERS: dict[str, tuple[str, Reader]] = {
    "hubspot": ("contacts", _hubspot),
    "mailchimp": ("members", _mailchimp),
}


@dataclass
class BenchResult:
    tool: str
    stream: str
    records: int
    seconds: float
    pages: int

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _reader(tool: str) -> tuple[str, Reader] | None:
    if tool in _READERS:
        return _READERS[tool]
    try:
        module = importlib.import_module(f"sandbox.{tool}.seed")
    except ModuleNotFoundError:
        return None
    reader = getattr(module, "bench_reader", None)
    stream = getattr(module, "BENCH_STREAM", None)
    return (str(stream), reader) if reader and stream else None


def _people_for(tool: str, stream: str, records: int) -> int:
    """People needed for ~`records` rows in the tool's stream (calibrated on a small world)."""
    sample = generate_world(2000, 1, tools=[tool]).seeds[tool].streams.get(stream, [])
    share = max(len(sample), 1) / 2000
    return int(records / share) + 1


def _quiet(server: SandboxServer) -> None:
    for limiter in server.state.limits.values():
        if hasattr(limiter, "enabled"):
            limiter.enabled = False


def run(records: int = 100_000, tools: list[str] | None = None) -> list[BenchResult]:
    """Benchmark each tool in turn on one sandbox server; returns what it measured."""
    served = set(TOOL_PREFIXES.values())
    results: list[BenchResult] = []
    with SandboxServer(port=0) as server:
        _quiet(server)
        for tool in tools or list(ALL_TOOLS):
            found = _reader(tool)
            if tool not in served or seeder(tool) is None or found is None:
                logger.warning("%s: not served, not seeded or no bench reader: skipped", tool)
                continue
            stream, read = found
            server.state.reset()
            _quiet(server)
            people = _people_for(tool, stream, records)
            started = time.perf_counter()
            counts = load_world(server.state, generate_world(people, 7, tools=[tool]))
            logger.warning(
                "%s: seeded %s in %.1fs", tool, counts["tools"][tool], time.perf_counter() - started
            )
            with httpx.Client(timeout=60) as client:
                started = time.perf_counter()
                pages = list(read(client, server.base_url(tool)))
                seconds = time.perf_counter() - started
            results.append(BenchResult(tool, stream, sum(pages), seconds, len(pages)))
        server.state.reset()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tools", help="comma-separated (default: every tool)")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    tools = [t.strip() for t in args.tools.split(",")] if args.tools else None
    results = run(args.records, tools)
    rows: dict[str, str] = {}
    for r in results:
        figure = f"{r.per_second:,.0f} records/s ({r.records:,} {r.stream}, {r.pages} pages)"
        print(f"{r.tool:<12} {figure}")
        rows[f"sandbox: {r.tool} list read over loopback"] = figure
    if rows and not args.no_readme:
        update_readme(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
