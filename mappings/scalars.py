"""Canonical text forms of numbers, booleans and dates, for custom fields.

Tools disagree on types: one sends a number property as the string ``"9"``, another as ``9``
or ``9.0``; a checkbox is ``true``, ``"true"`` or ``"Yes"``; a date is ``"2026-03-01"``,
midnight-UTC epoch milliseconds or ``"03/01/2026"``. The unified value is one string per
meaning (``"9"``, ``"true"``, ``"2026-03-01"``), so equal values hash equal whichever tool
they came from and a value written is not seen as changed when read back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from mappings.errors import MappingError, shorten

__all__ = [
    "canonical_boolean",
    "canonical_date",
    "canonical_datetime",
    "canonical_number",
    "date_out",
    "number_out",
]

_TRUE = frozenset({"true", "yes", "y", "1", "on", "checked"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "unchecked"})


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def canonical_number(value: object) -> str | None:
    """``9``, ``9.0``, ``"9"`` and ``" 9.00 "`` -> ``"9"``; ``"1e3"`` -> ``"1000"``."""
    if _blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(f"expected a number, got {type(value).__name__} {shorten(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(f"not a number: {shorten(value)}") from None
    if not number.is_finite():
        raise MappingError(f"not a finite number: {shorten(value)}")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def number_out(value: str, *, as_text: bool) -> object:
    """The canonical number as the tool takes it: a JSON number, or text when it wants text."""
    number = Decimal(value)
    if as_text:
        return value
    return int(number) if number == number.to_integral_value() else float(number)


def canonical_boolean(value: object) -> str | None:
    """``true``/``"Yes"``/``1`` -> ``"true"``; ``false``/``"no"``/``0`` -> ``"false"``."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and value in (0, 1):
        return "true" if value == 1 else "false"
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return "true"
        if word in _FALSE:
            return "false"
    raise MappingError(f"not a yes/no value: {shorten(value)}")


def canonical_date(value: object, fmt: str | None = None) -> str | None:
    """A calendar date as ``YYYY-MM-DD``.

    Accepts ISO dates, ISO date-times with an offset (their UTC date), epoch milliseconds
    (CRMs store dates as midnight UTC) and, when the field declares one, the tool's own
    ``strftime`` format (``%m/%d/%Y``).
    """
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise MappingError(f"not a date: {shorten(value)}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        stamp = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        return stamp.date().isoformat()
    if not isinstance(value, str):
        raise MappingError(f"expected a date, got {type(value).__name__} {shorten(value)}")
    text = value.strip()
    if fmt is not None:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).date().isoformat()
        except ValueError:
            pass
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"not a date: {shorten(value)}") from None
    if parsed.tzinfo is None:
        return parsed.date().isoformat()
    return parsed.astimezone(UTC).date().isoformat()


def canonical_datetime(value: object) -> str | None:
    """A moment as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    Accepts ISO date-times with an offset or ``Z`` (one without is taken as UTC) and epoch
    seconds or milliseconds (told apart by size: seconds would put milliseconds past 5138).
    """
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise MappingError(f"not a date-time: {shorten(value)}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number
        stamp = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MappingError(f"not a date-time: {shorten(value)}") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
    else:
        raise MappingError(f"expected a date-time, got {type(value).__name__} {shorten(value)}")
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_out(value: str, fmt: str | None = None) -> str:
    """The canonical date in the tool's format (ISO when it declares none)."""
    day = date.fromisoformat(value)
    return day.strftime(fmt) if fmt else day.isoformat()
