"""Salesforce's REST error array for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``[{"message", "errorCode"}]``: NOT_FOUND, or METHOD_NOT_ALLOWED on a known path."""
    if status == 404:
        return [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], {}
    message = f"HTTP Method '{method}' not allowed."
    return [{"errorCode": "METHOD_NOT_ALLOWED", "message": message}], {}
