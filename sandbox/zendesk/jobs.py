"""Zendesk background jobs: ``*_many`` calls answer with a ``job_status`` that must be polled.

Why: a connector must not assume a bulk write is done when the POST returns. Here a job is
``queued`` when created, ``working`` (half its items applied) at the first poll and
``completed`` (all applied, ``results[]`` per item) at the second; the records only appear as
the job advances, as on the real service.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Job", "JobBoard", "JobStep"]

JobStep = Callable[[], dict[str, Any]]
"""Applies one item of the job and returns its result entry (id/index/action/...)."""

_KEEP = 100


@dataclass
class Job:
    """One bulk job: its steps run as it is polled."""

    id: str
    job_type: str
    steps: list[JobStep]
    status: str = "queued"
    results: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0

    def advance(self) -> None:
        """One poll's worth of progress: queued -> working (half) -> completed."""
        self.polls += 1
        if self.status == "completed":
            return
        total = len(self.steps)
        target = total if self.polls >= 2 or total <= 1 else total // 2
        while len(self.results) < target:
            self.results.append(self.steps[len(self.results)]())
        self.status = "completed" if len(self.results) >= total else "working"

    def to_json(self, url: str) -> dict[str, Any]:
        done = self.status == "completed"
        return {
            "id": self.id,
            "job_type": self.job_type,
            "url": url,
            "total": len(self.steps),
            "progress": len(self.results) if self.status != "queued" else None,
            "status": self.status,
            "message": "Completed" if done else None,
            "results": list(self.results) if self.status != "queued" else None,
        }


class JobBoard:
    """The account's recent jobs (the last 100 are kept, as Zendesk documents)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def clear(self) -> None:
        self._jobs.clear()

    def submit(self, job_type: str, steps: list[JobStep]) -> Job:
        job = Job(id=secrets.token_hex(16), job_type=job_type, steps=steps)
        self._jobs[job.id] = job
        while len(self._jobs) > _KEEP:
            self._jobs.pop(next(iter(self._jobs)))
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def drain(self) -> None:
        """Finish every pending job (tests and the control plane)."""
        for job in self._jobs.values():
            while job.status != "completed":
                job.advance()
