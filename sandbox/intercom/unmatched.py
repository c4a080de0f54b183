"""Intercom's ``error.list`` for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

from sandbox.intercom.errors import intercom_error_body

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"type": "error.list", "request_id", "errors": [{"code", "message"}]}``."""
    if status == 404:
        return intercom_error_body("not_found", "Resource Not Found"), {}
    return intercom_error_body("method_not_allowed", f"{method} is not allowed"), {}
