"""The write side's seam: what the sync hands a connector and what it gets back.

A per-record rejection is an outcome (``ok=False``), never an exception, so one bad email does
not stop a batch; only a whole call that fails after retries raises ``WriteFailed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from connectors.connections import Connection
from connectors.errors import ErrorClass, WriteFailed
from connectors.http import build_client
from connectors.providers import Provider, provider_for

__all__ = [
    "HttpWriter",
    "WriteItem",
    "WriteOutcome",
    "Writer",
    "held_by_another",
    "upsert_isolating",
]


@dataclass(frozen=True)
class WriteItem:
    """One record to write: natural ``key`` (normalized email), tool id when linked, payload."""

    key: str
    record_id: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    unified_id: str | None = None
    """The golden record written (see ``HttpWriter.owner_of``)."""


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


def held_by_another(tool: str, label: str, found: str, key: str, owner: str) -> str:
    """Why a record a lookup found by ``key`` is not taken for a golden record: golden ``owner``
    holds it (one person in the tool, two golden records here)."""
    return (
        f"{tool} {label} {found} (found by {key}) is golden {owner}'s: the two golden records "
        "may be one person (revsync review)"
    )


@runtime_checkable
class Writer(Protocol):
    """Writes one tool's records in the vendor's bounded batches."""

    tool: str

    owners: Mapping[str, str]
    """Tool record id -> the golden record it is linked to (set by apply before writing)."""

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
        self.owners: Mapping[str, str] = {}

    def owner_of(self, item: WriteItem, found: str) -> str | None:
        """The other golden record that holds ``found``, the record a lookup found for an
        unlinked ``item`` (one person in the tool, two golden records here), else None: a
        writer refuses to write such a record rather than overwrite that golden's."""
        owner = self.owners.get(found)
        return owner if owner is not None and item.unified_id not in (None, owner) else None

    def claimed(self, item: WriteItem, found: str, label: str) -> WriteOutcome | None:
        """The refusal to write ``found`` for ``item`` when another golden record holds it."""
        owner = self.owner_of(item, found)
        if owner is None:
            return None
        error = held_by_another(self.tool, label, found, item.key, owner)
        return WriteOutcome(item.key, ok=False, error=f"{error}; not written")

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
