"""Errors raised while mapping tool records to and from the unified model.

A ``MappingError`` means one record cannot be mapped: the caller dead-letters that record
with ``reason`` and goes on with the run. It never means the mapping file is wrong; a broken
mapping file raises ``MappingConfigError`` at load time so the run stops before reading.

    ValueError
     ├── MappingError        one record is malformed (skippable)
     └── MappingConfigError  a mapping / survivorship file is invalid (fatal)
"""

from __future__ import annotations

__all__ = ["MappingConfigError", "MappingError"]

_MAX_VALUE_CHARS = 80


def shorten(value: object) -> str:
    """A bounded repr for error messages, so a huge payload never floods a dead letter."""
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        return text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


class MappingError(ValueError):
    """One record cannot be mapped; ``reason`` says why in words an operator can act on."""

    def __init__(
        self,
        reason: str,
        *,
        tool: str | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.tool = tool
        self.record_id = record_id
        self.field = field
        where = ", ".join(
            f"{name}={value}"
            for name, value in (("tool", tool), ("record", record_id), ("field", field))
            if value is not None
        )
        super().__init__(f"{reason} ({where})" if where else reason)

    def with_context(
        self, *, tool: str | None = None, record_id: str | None = None, field: str | None = None
    ) -> MappingError:
        """Copy with the context the raiser did not know (transforms do not know the record)."""
        return MappingError(
            self.reason,
            tool=self.tool or tool,
            record_id=self.record_id or record_id,
            field=self.field or field,
        )


class MappingConfigError(ValueError):
    """A mapping or survivorship file is invalid: fix the file, nothing will sync until then."""
