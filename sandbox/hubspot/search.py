"""HubSpot CRM search: filterGroups (OR of ANDs), sorts, offset paging and the 10,000 cap.

The incremental-read query (one range filter on the modification property, sorted by it)
is answered from the store's modification index in O(log n + page); anything else scans.
Calculated properties (a contact's ``associatedcompanyid``) filter and sort like stored ones.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sandbox.hubspot.store import HubSpotError, HubSpotObjects, HubSpotRecord
from sandbox.timefmt import parse_instant_ms

__all__ = ["SEARCH_CAP", "SearchPage", "run_search"]

SEARCH_CAP = 10_000
_MAX_LIMIT = 200
_MAX_GROUPS = 5
_MAX_FILTERS_PER_GROUP = 10
_MAX_FILTERS = 25
_RANGE_OPS = frozenset({"GT", "GTE", "LT", "LTE", "BETWEEN", "EQ"})
_OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)


class SearchPage:
    """One page of search results."""

    def __init__(self, total: int, records: list[HubSpotRecord], next_after: str | None) -> None:
        self.total = total
        self.records = records
        self.next_after = next_after


def _bad(message: str) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message)


def _is_date(objects: HubSpotObjects, name: str) -> bool:
    return name in ("createdate", objects.kind.mtime_property) or (
        name in objects.kind.date_properties
    )


def _comparable(objects: HubSpotObjects, name: str, value: Any) -> Any:
    if _is_date(objects, name):
        try:
            return parse_instant_ms(value)
        except ValueError as exc:
            raise _bad(f"{value} is not a valid value for property {name}") from exc
    if name == "hs_object_id":
        try:
            return int(str(value))
        except ValueError as exc:
            raise _bad(f"{value} is not a valid value for property {name}") from exc
    if name in objects.kind.number_properties:
        try:
            return float(str(value))
        except ValueError as exc:
            raise _bad(f"{value} is not a valid value for property {name}") from exc
    return str(value).casefold()


def _record_value(objects: HubSpotObjects, rec: HubSpotRecord, name: str) -> Any:
    if name == "hs_object_id":
        return rec.id
    if name == "createdate":
        return rec.created_ms
    if name == objects.kind.mtime_property:
        return rec.updated_ms
    raw = (
        objects.property_value(rec, name)
        if name in objects.kind.computed
        else rec.properties.get(name)
    )
    if raw is None:
        return None
    if name in objects.kind.date_properties:
        return parse_instant_ms(raw)
    if name in objects.kind.number_properties:
        return float(raw)
    return raw.casefold()


def _compile_filter(
    objects: HubSpotObjects, flt: dict[str, Any]
) -> Callable[[HubSpotRecord], bool]:
    name = flt.get("propertyName")
    op = flt.get("operator", "EQ")
    if not isinstance(name, str) or not name:
        raise _bad("Invalid input JSON: filter propertyName is required")
    if op not in _OPERATORS:
        raise _bad(f"Invalid input JSON: operator {op} is not one of {sorted(_OPERATORS)}")
    if op == "HAS_PROPERTY":
        return lambda r: _record_value(objects, r, name) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda r: _record_value(objects, r, name) in (None, "")
    if op in ("IN", "NOT_IN"):
        values = {_comparable(objects, name, v) for v in flt.get("values") or []}
        if op == "IN":
            return lambda r: _record_value(objects, r, name) in values
        return lambda r: _record_value(objects, r, name) not in values
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(flt.get("value", "")).casefold().strip("*")
        positive = op == "CONTAINS_TOKEN"

        def contains(r: HubSpotRecord) -> bool:
            value = _record_value(objects, r, name)
            found = value is not None and token in str(value)
            return found if positive else not found

        return contains
    if "value" not in flt:
        raise _bad(f"Invalid input JSON: filter on {name} with {op} needs a value")
    value = _comparable(objects, name, flt["value"])
    if op == "BETWEEN":
        if "highValue" not in flt:
            raise _bad("BETWEEN needs highValue")
        high = _comparable(objects, name, flt["highValue"])
        return lambda r: (v := _record_value(objects, r, name)) is not None and value <= v <= high
    if op == "NEQ":
        return lambda r: _record_value(objects, r, name) != value
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == value,
        "LT": lambda v: v < value,
        "LTE": lambda v: v <= value,
        "GT": lambda v: v > value,
        "GTE": lambda v: v >= value,
    }
    test = compare[op]

    def check(r: HubSpotRecord) -> bool:
        v = _record_value(objects, r, name)
        if v is None:
            return False
        try:
            return bool(test(v))
        except TypeError:
            return False

    return check


def _sorts(body: dict[str, Any]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for item in body.get("sorts") or []:
        if isinstance(item, str):
            out.append((item.lstrip("-"), item.startswith("-")))
        elif isinstance(item, dict) and item.get("propertyName"):
            out.append((item["propertyName"], item.get("direction") == "DESCENDING"))
        else:
            raise _bad("Invalid input JSON: sorts")
    return out


def _range_of(
    objects: HubSpotObjects, filters: list[dict[str, Any]]
) -> tuple[int | None, int | None] | None:
    """Inclusive ms bounds when every filter is a range on the modification property."""
    low: int | None = None
    high: int | None = None
    for flt in filters:
        if flt.get("propertyName") != objects.kind.mtime_property:
            return None
        op = flt.get("operator", "EQ")
        if op not in _RANGE_OPS or "value" not in flt:
            return None
        v = _comparable(objects, objects.kind.mtime_property, flt["value"])
        lows = {"GT": v + 1, "GTE": v, "EQ": v, "BETWEEN": v}
        highs = {"LT": v - 1, "LTE": v, "EQ": v}
        if op == "BETWEEN":
            highs["BETWEEN"] = _comparable(objects, objects.kind.mtime_property, flt["highValue"])
        if op in lows:
            low = lows[op] if low is None else max(low, lows[op])
        if op in highs:
            high = highs[op] if high is None else min(high, highs[op])
    return low, high


def run_search(objects: HubSpotObjects, body: dict[str, Any]) -> SearchPage:
    """Evaluate a PublicObjectSearchRequest body against one object type."""
    if not isinstance(body, dict):
        raise _bad("Invalid input JSON")
    limit = body.get("limit", 10)
    try:
        limit = int(limit)
        after = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise _bad("Invalid input JSON: limit and after must be integers") from exc
    if limit < 0 or limit > _MAX_LIMIT:
        raise _bad(f"Invalid input JSON: limit must be between 0 and {_MAX_LIMIT}")
    if after >= SEARCH_CAP:
        raise _bad(
            f"There was a problem with the request: the search API cannot page beyond "
            f"{SEARCH_CAP} results (after={after})."
        )
    limit = min(limit, SEARCH_CAP - after)
    groups = body.get("filterGroups") or []
    if len(groups) > _MAX_GROUPS:
        raise _bad(f"Invalid input JSON: too many filterGroups (max {_MAX_GROUPS})")
    n_filters = 0
    for group in groups:
        count = len(group.get("filters") or [])
        n_filters += count
        if count > _MAX_FILTERS_PER_GROUP:
            raise _bad(
                f"Invalid input JSON: too many filters in a group (max {_MAX_FILTERS_PER_GROUP})"
            )
    if n_filters > _MAX_FILTERS:
        raise _bad(f"Invalid input JSON: too many filters (max {_MAX_FILTERS})")
    sorts = _sorts(body)
    query = str(body.get("query") or "").strip().casefold()
    mtime = objects.kind.mtime_property

    fast = not query and len(groups) <= 1 and len(sorts) == 1 and sorts[0][0] == mtime
    bounds = _range_of(objects, groups[0].get("filters") or []) if fast and groups else (None, None)
    if fast and bounds is not None:
        lo, hi = objects.store.mtime_range(*bounds)
        total = hi - lo
        descending = sorts[0][1]
        if descending:
            start, stop = hi - after - limit, hi - after
            keys = objects.store.keys_by_mtime(max(lo, start), max(lo, stop), descending=True)
        else:
            keys = objects.store.keys_by_mtime(lo + after, min(hi, lo + after + limit))
        records = [r for k in keys if (r := objects.record(k)) is not None]
    else:
        matchers = [[_compile_filter(objects, f) for f in (g.get("filters") or [])] for g in groups]
        hits: list[HubSpotRecord] = []
        for key in objects.store.iter_keys():
            rec = objects.record(key)
            if rec is None:
                continue
            if matchers and not any(all(m(rec) for m in group) for group in matchers):
                continue
            if query and not _matches_query(rec, query):
                continue
            hits.append(rec)
        for name, descending in reversed(sorts or [("hs_object_id", False)]):
            hits.sort(key=partial(_sort_key, objects, name=name), reverse=descending)
        total = len(hits)
        records = hits[after : after + limit]
    next_after = str(after + limit) if after + limit < total and limit > 0 else None
    return SearchPage(total, records, next_after)


def _sort_key(objects: HubSpotObjects, rec: HubSpotRecord, *, name: str) -> tuple[int, Any, int]:
    value = _record_value(objects, rec, name)
    if value is None:
        return (1, "", rec.id)
    return (0, value, rec.id)


def _matches_query(rec: HubSpotRecord, query: str) -> bool:
    for name in (
        "email", "firstname", "lastname", "phone", "company", "name", "domain", "dealname",
    ):  # fmt: skip
        value = rec.properties.get(name)
        if value and query in value.casefold():
            return True
    return False
