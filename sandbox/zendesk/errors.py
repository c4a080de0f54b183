"""Zendesk's error bodies, raised by the store and the account configuration, rendered by the
routes exactly as Zendesk sends them."""

from __future__ import annotations

from typing import Any

__all__ = ["ZendeskError", "not_found", "record_invalid"]


class ZendeskError(Exception):
    """A Zendesk API error: status and the JSON body exactly as Zendesk sends it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def not_found() -> ZendeskError:
    return ZendeskError(404, {"error": "RecordNotFound", "description": "Not found"})


def record_invalid(field: str, description: str, error: str = "InvalidValue") -> ZendeskError:
    """Zendesk's classic validation error: 422 ``RecordInvalid`` with per-field details."""
    return ZendeskError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [{"description": description, "error": error}]},
        },
    )
