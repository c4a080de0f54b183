"""Freshdesk's error for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"code", "message"}``, as Freshdesk answers outside validation errors."""
    if status == 404:
        return {"code": "invalid_path", "message": "This path is not valid"}, {}
    return {"code": "method_not_allowed", "message": f"{method} method is not allowed."}, {}
