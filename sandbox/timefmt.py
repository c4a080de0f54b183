"""Timestamp conversions shared by the vendors: ms epoch inside, each vendor's format outside."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_ms_z", "iso_offset", "ms_of", "parse_instant_ms"]


def ms_of(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return int(moment.timestamp() * 1000)


def iso_ms_z(ms: int) -> str:
    """HubSpot style: 2024-05-01T12:00:00.123Z."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_offset(ms: int) -> str:
    """Mailchimp style: 2024-05-01T12:00:00+00:00 (second precision)."""
    return datetime.fromtimestamp(ms // 1000, UTC).isoformat()


def parse_instant_ms(value: object) -> int:
    """Parse ms epoch (int or digit string) or ISO 8601 (date or datetime) into ms epoch.

    Naive ISO values are read as UTC, as the vendors do. Raises ValueError when unparseable.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
