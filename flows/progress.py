"""The `sync-progress` artifact: a bar in the Prefect UI that moves while a run works.

Extract does not know how many records are coming, so each tool's share of the bar fills
asymptotically per page (half the remaining share each page); apply knows its batches and fills
exactly. Updates are one small API call per page or batch, never per record.
"""

from __future__ import annotations

import logging
from uuid import UUID

__all__ = ["Progress", "Span"]

logger = logging.getLogger(__name__)


class Progress:
    """One progress artifact per run (0 to 100); a no-op outside a Prefect run."""

    def __init__(self, artifact_id: UUID | None) -> None:
        self.artifact_id = artifact_id
        self.value = 0.0

    @classmethod
    def start(cls, description: str) -> Progress:
        from prefect.artifacts import create_progress_artifact
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:
            return cls(None)
        artifact_id = create_progress_artifact(
            progress=0.0, key="sync-progress", description=description
        )
        return cls(artifact_id if isinstance(artifact_id, UUID) else None)

    def set(self, value: float) -> None:
        value = max(self.value, min(100.0, value))
        if value - self.value < 0.5 and value < 100.0:
            return  # not worth an API call
        self.value = value
        if self.artifact_id is None:
            return
        from prefect.artifacts import update_progress_artifact

        update_progress_artifact(artifact_id=self.artifact_id, progress=round(value, 1))

    def span(self, start: float, end: float) -> Span:
        return Span(self, start, end)


class Span:
    """A slice of the bar owned by one stage of one tool."""

    def __init__(self, progress: Progress, start: float, end: float) -> None:
        self.progress = progress
        self.start = start
        self.end = end
        self._filled = 0.0

    def page(self) -> None:
        """One more page read: fill half of what is left of this span."""
        self._filled += (1.0 - self._filled) / 2
        self.progress.set(self.start + (self.end - self.start) * self._filled)

    def fraction(self, done: int, total: int) -> None:
        self._filled = done / total if total else 1.0
        self.progress.set(self.start + (self.end - self.start) * self._filled)

    def finish(self) -> None:
        self.fraction(1, 1)

    def at(self, share: float) -> None:
        """Move to ``share`` (0 to 1) of this span."""
        self._filled = max(self._filled, min(1.0, share))
        self.progress.set(self.start + (self.end - self.start) * self._filled)

    def part(self, lo: float, hi: float) -> Span:
        """The slice from ``lo`` to ``hi`` (shares 0 to 1) of this span, for a sub-stage."""
        width = self.end - self.start
        return Span(self.progress, self.start + width * lo, self.start + width * hi)
