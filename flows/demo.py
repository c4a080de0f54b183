"""The demo: a seeded sandbox, two syncs, and what each did per tool.

The second sync runs right after the first converged, so it must write nothing: the demo says
so, and fails loudly if it did.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.providers import providers
from flows.report import SyncReport
from flows.sync import default_tools, sync
from sandbox import credentials
from sandbox.requestlog import TOOL_PREFIXES
from sandbox.server import SandboxServer

__all__ = [
    "DemoOutcome",
    "render_report",
    "run_demo",
    "sandbox_environment",
    "sandbox_environment_at",
]

COLUMNS = ("read", "invalid", "unchanged", "matched", "new", "created", "updated", "failed")


def sandbox_environment(
    server: SandboxServer, tools: Collection[str] | None = None
) -> dict[str, str]:
    """The connection settings that point revsync at a running sandbox, for every connector
    that declares the sandbox's values (``sandbox:`` in its ``connector.yaml``), or only for
    ``tools``."""
    return sandbox_environment_at(server.url, tools)


def sandbox_environment_at(url: str, tools: Collection[str] | None = None) -> dict[str, str]:
    """:func:`sandbox_environment` for a sandbox listening at ``url`` (``revsync sandbox``
    prints these as ``export`` lines before it starts)."""
    prefixes = {tool: prefix for prefix, tool in TOOL_PREFIXES.items()}
    env: dict[str, str] = {}
    for provider in providers().values():
        if not provider.sandbox or (tools is not None and provider.tool not in tools):
            continue
        if provider.tool not in prefixes:
            continue
        env[provider.env_var("base_url")] = url + prefixes[provider.tool]
        for name, constant in provider.sandbox.items():
            env[provider.env_var(name)] = str(getattr(credentials, constant))
    return env


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def render_report(title: str, report: SyncReport) -> str:
    width = max(len(c) for c in COLUMNS)
    label = max((len(name) for name in report.tools), default=4) + 2
    lines = [title, "  " + "tool".ljust(label) + "".join(c.rjust(width + 2) for c in COLUMNS)]
    for name, counts in sorted(report.tools.items()):
        cells = "".join(str(getattr(counts, c)).rjust(width + 2) for c in COLUMNS)
        lines.append("  " + name.ljust(label) + cells)
        if counts.read_error:
            lines.append(f"    read error: {counts.read_error}")
    lines.append(
        f"  golden records: {report.golden_touched} touched, {report.golden_merged} merged from "
        f"several records, {report.golden_changed} changed; {report.dead_letters} dead letters"
    )
    for r in report.drift:
        what = "vanished, writes held" if r.change == "vanished" else "new field"
        lines.append(f"  schema drift: {r.tool}/{r.stream} {r.field}: {what}")
    for m in report.merges:
        lines.append(f"  merge: {m.tool} {m.merged} into {m.kept or '?'}: {m.action}")
    return "\n".join(lines)


def _failing(report: SyncReport) -> bool:
    counts = report.tools.values()
    return report.dead_letters > 0 or any(c.failed or c.read_error for c in counts)


class DemoOutcome:
    def __init__(self, first: SyncReport, second: SyncReport) -> None:
        self.first = first
        self.second = second

    @property
    def converged(self) -> bool:
        """Nothing written by the second sync and nothing left failing in either."""
        return self.second.written == 0 and not _failing(self.second)


def run_demo(people: int = 200, seed: int = 42, workdir: Path | None = None) -> DemoOutcome:
    """Seed a sandbox with `people` people, sync twice into a fresh state store."""
    base = workdir or Path(tempfile.mkdtemp(prefix="revsync-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    with SandboxServer(seed_people=people, seed=seed) as server:
        # The demo shows what a sync does, not the vendors' pacing: a calling tool's 60
        # requests a minute alone would make it minutes long. `revsync sandbox` keeps them.
        with server.state.lock:
            for budget in list(server.state.limits):
                server.state.configure_limit(budget, enabled=False)
        env = sandbox_environment(server)
        env["REVSYNC_STATE_URL"] = f"sqlite:///{base / 'state.db'}"
        with _environment(env):
            first = sync(tools=list(default_tools())).report
            second = sync(tools=list(default_tools())).report
    return DemoOutcome(first, second)
