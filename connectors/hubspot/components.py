"""The one custom piece of the HubSpot manifest: the associations of a page of records.

CRM search returns no associations, and reading them per record would cost a call per deal.
v4 ``POST /crm/v4/associations/{from}/{to}/batch/read`` answers up to 1,000 records in one
call, so each page of search results (100) costs one more call per associated type. Each
record gains ``associations.<type>``: ``ids`` (every associated record id, as text, sorted)
and ``primary`` (the one labelled Primary; the only one when a single record is associated
without that label; otherwise None).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import requests
from airbyte_cdk.sources.declarative.extractors.dpath_extractor import DpathExtractor
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester

__all__ = ["AssociationsExtractor", "associations_of"]

BATCH_READ_MAX = 1000
"""Inputs per v4 associations batch/read call (HubSpot's cap since 2025-02-10)."""


def associations_of(body: object) -> dict[str, dict[str, Any]]:
    """From id -> ``{ids, primary}``, out of one batch/read answer (200 or 207: records
    without associations are errors there, and have none)."""
    out: dict[str, dict[str, Any]] = {}
    results = body.get("results") if isinstance(body, dict) else None
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict) or not isinstance(result.get("from"), dict):
            continue
        from_id = str(result["from"].get("id"))
        ids: list[str] = []
        primary: str | None = None
        for target in result.get("to") or []:
            if not isinstance(target, dict) or target.get("toObjectId") is None:
                continue
            to_id = str(target["toObjectId"])
            ids.append(to_id)
            labels = {t.get("label") for t in target.get("associationTypes") or [] if t}
            if "Primary" in labels:
                primary = to_id
        unique = sorted(set(ids))
        if primary is None and len(unique) == 1:
            primary = unique[0]
        out[from_id] = {"ids": unique, "primary": primary}
    return out


@dataclass
class AssociationsExtractor(DpathExtractor):
    """:class:`DpathExtractor` adding each record's associations, one batch/read per type."""

    associations_requester: HttpRequester | None = None
    from_object_type: str = ""
    to_object_types: list[str] = field(default_factory=list)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        records = list(super().extract_records(response))
        ids = [str(r["id"]) for r in records if r.get("id") is not None]
        found: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.to_object_types}
        for to_type in self.to_object_types:
            for start in range(0, len(ids), BATCH_READ_MAX):
                found[to_type].update(self._read(to_type, ids[start : start + BATCH_READ_MAX]))
        for record in records:
            own = str(record.get("id"))
            record["associations"] = {
                to_type: found[to_type].get(own, {"ids": [], "primary": None})
                for to_type in self.to_object_types
            }
        yield from records

    def _read(self, to_type: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        if self.associations_requester is None or not ids:
            return {}
        answer = self.associations_requester.send_request(
            path=f"crm/v4/associations/{self.from_object_type}/{to_type}/batch/read",
            request_body_json={"inputs": [{"id": i} for i in ids]},
        )
        return associations_of(answer.json()) if answer is not None else {}
