"""``max_writes``: a per-run cap on the writes revsync makes to one tool.

A plan that would create or update more records in a tool than the cap is not applied to that
tool: the run ends ``held``, saying which tool and how many writes, and the plan artifact shows
them. The entity's checkpoint is skipped too, so nothing is lost: the next run reads and plans
the same records again (as after a crash before the checkpoint), and applies them once the cap
allows it (``--max-writes`` raised for that run, or the plan shrunk).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from reconcile.plan import Plan

__all__ = ["MAX_WRITES_ENV", "max_writes_setting", "over_cap"]

MAX_WRITES_ENV = "REVSYNC_MAX_WRITES"


def max_writes_setting(value: int | None) -> int | None:
    """The cap: the flow parameter, else ``REVSYNC_MAX_WRITES``; None or 0 means no cap."""
    if value is None:
        raw = os.environ.get(MAX_WRITES_ENV, "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise ValueError(f"{MAX_WRITES_ENV} is a number of writes, not {raw!r}")
        value = int(raw)
    if value < 0:
        raise ValueError(f"max_writes is a number of writes (0: no cap), not {value}")
    return value or None


def over_cap(plan: Plan, tools: Iterable[str], cap: int | None) -> dict[str, str]:
    """Tool -> why its writes are held, for each tool whose share of ``plan`` exceeds ``cap``."""
    if cap is None:
        return {}
    held: dict[str, str] = {}
    for tool in tools:
        creates, updates = plan.count(tool, "create"), plan.count(tool, "update")
        if creates + updates > cap:
            held[tool] = (
                f"{tool}: {creates} creates and {updates} updates planned, over max_writes "
                f"{cap}: nothing written to {tool}; check the plan artifact, then re-run with "
                "a higher --max-writes to apply it"
            )
    return held
