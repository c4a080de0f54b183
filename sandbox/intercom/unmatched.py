"""Intercom's ``error.list`` for paths and methods it does not serve."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"type": "error.list", "request_id", "errors": [{"code", "message"}]}``."""
    if status == 404:
        error = {"code": "not_found", "message": "Resource Not Found"}
    else:
        error = {"code": "method_not_allowed", "message": f"{method} is not allowed"}
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [error]}, {}
