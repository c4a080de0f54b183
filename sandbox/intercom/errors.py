"""Intercom's ``error.list`` body, shared by the routes, the metadata reads and unmatched paths
(its own module so none of them imports another's router)."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["intercom_error_body"]


def intercom_error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """``{"type": "error.list", "request_id", "errors": [{"code", "message"[, "field"]}]}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [error]}
