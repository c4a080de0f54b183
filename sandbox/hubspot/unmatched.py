"""HubSpot's error object for paths and methods it does not serve."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """HubSpot's ``{status, message, correlationId, category}`` error."""
    category = "OBJECT_NOT_FOUND" if status == 404 else "METHOD_NOT_ALLOWED"
    message = (
        "Resource not found"
        if status == 404
        else f"HTTP method {method} is not supported by this resource"
    )
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    return body, {}
