"""The write side's seam: what the sync hands a connector and what it gets back.

A per-record rejection is an outcome (``ok=False``), never an exception, so one bad email does
not stop a batch; only a whole call that fails after retries raises ``WriteFailed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.providers import Provider, provider_for

__all__ = ["HttpWriter", "WriteItem", "WriteOutcome", "Writer", "upsert_isolating"]


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
    transient: bool = False
    """The whole call failed (an outage, retries exhausted), not this record: a later run
    tries again."""
    gone: bool = False
    """The linked record no longer exists in the tool (merged away or deleted there): the
    sync follows it to its survivor instead of dead-lettering the write."""


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


class HttpWriter:
    """What every writer holds: the shared client (built unless given, then owned), the
    vendor's batch size, and the secrets to scrub from any message."""

    tool: str

    def __init__(
        self, conn: Connection, client: httpx.Client | None = None, *, batch_size: int | None = None
    ) -> None:
        self._provider: Provider = provider_for(self.tool)
        self._secrets = [value.get_secret_value() for value in conn.secrets.values()]
        self._owns_client = client is None
        self._client = client if client is not None else build_client(conn, self._provider)
        self._batch_size = min(batch_size or self._provider.batch_max, self._provider.batch_max)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def upsert_isolating(writer: Writer, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
    """``writer.upsert``, but a call refused for its content (a 4xx that is neither auth nor
    rate limit) is split in halves until each refused record stands alone: one bad record in
    a batch costs its own dead letter, not its neighbours'. Other failures raise as before.
    """
    try:
        return writer.upsert(entity, items)
    except WriteFailed as exc:
        if exc.error_class is not ErrorClass.SKIP:
            raise
        if len(items) == 1:
            (item,) = items
            return [WriteOutcome(item.key, ok=False, record_id=item.record_id, error=str(exc))]
    middle = len(items) // 2
    return upsert_isolating(writer, entity, items[:middle]) + upsert_isolating(
        writer, entity, items[middle:]
    )
