"""The demo: a seeded sandbox, two syncs, and what each did per tool.

The second sync runs right after the first converged, so it must write nothing: the demo says
so, and fails loudly if it did.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.report import SyncReport
from flows.sync import DEFAULT_TOOLS, sync
from sandbox.credentials import (
    SANDBOX_HUBSPOT_TOKEN,
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.server import SandboxServer

__all__ = ["DemoOutcome", "render_report", "run_demo", "sandbox_environment"]

COLUMNS = ("read", "invalid", "unchanged", "matched", "new", "created", "updated", "failed")


def sandbox_environment(server: SandboxServer) -> dict[str, str]:
    """The connection settings that point revsync at a running sandbox."""
    return {
        "REVSYNC_HUBSPOT_BASE_URL": server.base_url("hubspot"),
        "REVSYNC_HUBSPOT_ACCESS_TOKEN": SANDBOX_HUBSPOT_TOKEN,
        "REVSYNC_MAILCHIMP_BASE_URL": server.base_url("mailchimp"),
        "REVSYNC_MAILCHIMP_API_KEY": SANDBOX_MAILCHIMP_KEY,
        "REVSYNC_MAILCHIMP_LIST_ID": SANDBOX_MAILCHIMP_LIST_ID,
        "REVSYNC_ZENDESK_BASE_URL": server.base_url("zendesk"),
        "REVSYNC_ZENDESK_EMAIL": SANDBOX_ZENDESK_EMAIL,
        "REVSYNC_ZENDESK_API_TOKEN": SANDBOX_ZENDESK_API_TOKEN,
    }


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
    return "\n".join(lines)


class DemoOutcome:
    def __init__(self, first: SyncReport, second: SyncReport) -> None:
        self.first = first
        self.second = second

    @property
    def converged(self) -> bool:
        return self.second.written == 0


def run_demo(people: int = 200, seed: int = 42, workdir: Path | None = None) -> DemoOutcome:
    """Seed a sandbox with `people` people, sync twice into a fresh state store."""
    base = workdir or Path(tempfile.mkdtemp(prefix="revsync-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    with SandboxServer(seed_people=people, seed=seed) as server:
        env = sandbox_environment(server)
        env["REVSYNC_STATE_URL"] = f"sqlite:///{base / 'state.db'}"
        with _environment(env):
            first = sync(tools=list(DEFAULT_TOOLS)).report
            second = sync(tools=list(DEFAULT_TOOLS)).report
    return DemoOutcome(first, second)
