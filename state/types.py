"""Column types shared by the state tables.

SQLite has no timezone-aware timestamp and PostgreSQL hands back datetimes in the session's
zone, so every timestamp column goes through `UTCDateTime`: aware UTC in, aware UTC out, on
both backends. JSON columns go through `JSONValue`, which turns aware datetimes (and a few
other plain types) into JSON before the driver sees them, and refuses secrets outright.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, SecretBytes, SecretStr
from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["JSONValue", "UTCDateTime", "to_jsonable", "utcnow"]


def utcnow() -> dt.datetime:
    """The one clock default of the state tables (callers may pass their own `at`)."""
    return dt.datetime.now(dt.UTC)


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to the state store: pass an aware UTC datetime")
    return value.astimezone(dt.UTC)


def _json_default(value: Any) -> Any:
    # Names the type only, never the value: a rejected value may be sensitive.
    if isinstance(value, SecretStr | SecretBytes):
        raise TypeError("secrets must never be stored in the state store")
    if isinstance(value, dt.datetime):
        try:
            return _as_utc(value).isoformat()
        except ValueError:
            raise TypeError("naive datetime in a JSON value: pass aware UTC datetimes") from None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"value of type {type(value).__name__} cannot be stored as JSON")


def to_jsonable(value: Any) -> Any:
    """Return `value` as plain JSON data (dicts, lists, str, numbers, bool, None).

    Aware datetimes become ISO 8601 strings in UTC. NaN and infinities are refused because
    PostgreSQL's json type refuses them too, and an early error names the cause.
    """
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_json_default, allow_nan=False))


class UTCDateTime(TypeDecorator[dt.datetime]):
    """`DateTime(timezone=True)` that only accepts and only returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return _as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite rows written by hand or by another tool
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:  # SQLite stores the UTC wall time without an offset
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class JSONValue(TypeDecorator[Any]):
    """JSON column that stores SQL NULL for None and serializes datetimes as ISO strings."""

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return to_jsonable(value)
