"""The custom pieces of the Zendesk manifest: reading a time-based incremental export, and
joining a sideload to the records it belongs to.

``/api/v2/incremental/organizations`` pages by time: the next page starts at this page's
``end_time`` (the ``updated_at`` of its last item) *inclusive*, so the items of that last second
come again at the top of the next page. Dropping them here, from every page but the last,
emits each item once without remembering anything between pages: the next page holds all of
them (unless more than a page shares one second, which no ``start_time`` can page through: that
read fails with the reason instead of asking for the same page forever).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.dpath_extractor import DpathExtractor
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

__all__ = ["SideloadExtractor", "TimeExportExtractor", "epoch_seconds"]


def epoch_seconds(value: Any) -> int | None:
    """Unix seconds of a Zendesk timestamp (``2024-05-01T12:00:00Z``); None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError:
        return None


@dataclass
class TimeExportExtractor(DpathExtractor):
    """:class:`DpathExtractor` that leaves the page's last second to the next page."""

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        records = list(super().extract_records(response))
        body = response.json() if records else {}
        if not records or not isinstance(body, dict) or body.get("end_of_stream", True):
            yield from records
            return
        end_time = body.get("end_time")
        if not isinstance(end_time, int):
            yield from records
            return
        kept = [r for r in records if (epoch_seconds(r.get("updated_at")) or 0) < end_time]
        if not kept:
            raise AirbyteTracedException(
                message=(
                    f"Zendesk's time-based export returned a full page of {len(records)} items "
                    f"all updated in the same second ({end_time}), which no start_time can page "
                    "past; the read stops here rather than ask for the same page forever."
                ),
                failure_type=FailureType.system_error,
            )
        yield from kept


@dataclass
class SideloadExtractor(DpathExtractor):
    """:class:`DpathExtractor` that puts on each record its item of a sideload.

    A sideload (``include=metric_sets``) comes beside the records, as a top-level list whose
    items name their record (``ticket_id``): each record gets the matching item under
    ``joined_as`` (None when the page has none for it), so a mapping reads it as a path.
    """

    sideload: str = ""
    key: str = ""
    joined_as: str = ""

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        records = list(super().extract_records(response))
        body = response.json() if records else {}
        items = body.get(self.sideload) if isinstance(body, dict) else None
        by_record = {item.get(self.key): item for item in items or [] if isinstance(item, dict)}
        for record in records:
            record[self.joined_as] = by_record.get(record.get("id"))
            yield record
