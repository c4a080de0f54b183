"""Small value coercions the writers share when they shape a payload."""

from __future__ import annotations

from typing import Any

__all__ = ["as_integer", "merged_domains", "text_or_none"]


def text_or_none(value: Any) -> str | None:
    """The value as trimmed text; None for None or blank."""
    text = str(value).strip() if value is not None else ""
    return text or None


def as_integer(value: Any) -> Any:
    """12, 12.0, "12" (and "-3") as integers; anything else as it came, for the tool to say
    what is wrong with it (mapped values may arrive as text or floats)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value


def merged_domains(ours: list[Any], current: list[str]) -> list[str]:
    """Our domains first (the one read back), then the record's others, each once (case
    aside): helpdesks file people into companies by these, so a human's extra ones stay."""
    out: list[str] = []
    for domain in [*ours, *current]:
        text = str(domain).strip()
        if text and text.lower() not in {d.lower() for d in out}:
            out.append(text)
    return out
