"""The one custom piece of the Pipedrive manifest: flat fields for what Pipedrive nests.

A person's emails and phones are lists (``[{value, primary, label}]``), and revsync's unified
id sits under ``custom_fields`` at a key that differs per account (a 40-character hash, a
connection option). The mapping file reads plain paths, so each record gains
``primary_email`` / ``primary_phone`` (the item marked primary, else the first) and
``revsync_unified_id`` (the custom field the connection names); a deal gains
``revsync_stage``: ``won`` or ``lost`` when its status says so (Pipedrive keeps a closed deal
in its last stage), else its ``stage_id``. The writer turns each back into Pipedrive's shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any

from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

__all__ = ["CLOSED_STATUSES", "STAGE", "UNIFIED_ID", "FlattenRecord", "deal_stage", "primary_value"]

UNIFIED_ID = "revsync_unified_id"
"""Where a record as read carries the value of the connection's revsync id custom field."""
STAGE = "revsync_stage"
"""Where a deal as read carries its stage, or its closed status."""
CLOSED_STATUSES = frozenset({"won", "lost"})


def deal_stage(record: Mapping[str, Any]) -> str | None:
    """``won``/``lost`` for a closed deal, else its stage id as text."""
    status = record.get("status")
    if status in CLOSED_STATUSES:
        return str(status)
    stage = record.get("stage_id")
    return str(stage) if stage not in (None, "") else None


def primary_value(items: Any) -> str | None:
    """The primary item's value of an emails/phones list (the first non-empty one else)."""
    if not isinstance(items, list):
        return None
    values = [i for i in items if isinstance(i, dict) and str(i.get("value") or "").strip()]
    for item in values:
        if item.get("primary"):
            return str(item["value"])
    return str(values[0]["value"]) if values else None


@dataclass
class FlattenRecord(RecordTransformation):
    """Adds ``primary_email``/``primary_phone`` (for the ``contact_lists`` named),
    ``revsync_unified_id`` (from ``custom_fields[config[unified_id_option]]``) and, for deals,
    ``revsync_stage``."""

    parameters: InitVar[Mapping[str, Any]]
    unified_id_option: str = ""
    contact_lists: list[str] = field(default_factory=list)
    deal: bool = False

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        del parameters

    def transform(
        self,
        record: dict[str, Any],
        config: Config | None = None,
        stream_state: StreamState | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> None:
        for name in self.contact_lists:
            record[f"primary_{name.removesuffix('s')}"] = primary_value(record.get(name))
        key = str((config or {}).get(self.unified_id_option) or "")
        custom = record.get("custom_fields")
        value = custom.get(key) if key and isinstance(custom, dict) else None
        record[UNIFIED_ID] = str(value) if value not in (None, "") else None
        if self.deal:
            record[STAGE] = deal_stage(record)
