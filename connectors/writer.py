"""The write side's seam: what the sync hands a connector and what it gets back.

A per-record rejection is an outcome (``ok=False``), never an exception, so one bad email does
not stop a batch; only a whole call that fails after retries raises ``WriteFailed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["WriteItem", "WriteOutcome", "Writer"]


@dataclass(frozen=True)
class WriteItem:
    """One record to write: natural ``key`` (normalized email), tool id when linked, payload."""

    key: str
    record_id: str | None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one item; ``data`` is the record as the tool returned it."""

    key: str
    ok: bool
    record_id: str | None = None
    created: bool = False
    error: str | None = None
    data: dict[str, Any] | None = None


@runtime_checkable
class Writer(Protocol):
    """Writes one tool's records in the vendor's bounded batches."""

    tool: str

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One outcome per item, in input order."""
        ...

    def close(self) -> None:
        """Release the HTTP client if the writer owns it."""
        ...
