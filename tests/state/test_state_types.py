"""JSON and timestamp column types (no database needed)."""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel, SecretStr

from state.types import to_jsonable, utcnow


class _Color(enum.Enum):
    RED = "red"


class _Model(BaseModel):
    at: dt.datetime
    n: int


def test_aware_datetimes_become_utc_iso_strings() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    value = {"a": [dt.datetime(2024, 5, 1, 12, 30, tzinfo=paris)], "b": {"c": 1}}
    assert to_jsonable(value) == {"a": ["2024-05-01T10:30:00+00:00"], "b": {"c": 1}}


def test_plain_types_are_converted() -> None:
    uid = uuid.uuid4()
    out = to_jsonable(
        {
            "d": dt.date(2024, 1, 2),
            "dec": Decimal("1.50"),
            "u": uid,
            "e": _Color.RED,
            "s": {"x"},
            "t": (1, 2),
            "m": _Model(at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), n=3),
        }
    )
    assert out == {
        "d": "2024-01-02",
        "dec": "1.50",
        "u": str(uid),
        "e": "red",
        "s": ["x"],
        "t": [1, 2],
        "m": {"at": "2024-01-01T00:00:00Z", "n": 3},
    }


def test_none_stays_none() -> None:
    assert to_jsonable(None) is None


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match="naive"):
        to_jsonable({"at": dt.datetime(2024, 1, 1)})  # noqa: DTZ001


def test_secrets_are_refused_without_revealing_them() -> None:
    with pytest.raises(TypeError, match="secrets") as info:
        to_jsonable({"token": SecretStr("pat-na1-very-secret")})
    assert "very-secret" not in str(info.value)


def test_unknown_types_name_the_type_not_the_value() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "hunter2"

    with pytest.raises(TypeError, match="Opaque") as info:
        to_jsonable({"x": Opaque()})
    assert "hunter2" not in str(info.value)


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON"):
        to_jsonable({"score": math.nan})


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().utcoffset() == dt.timedelta(0)
