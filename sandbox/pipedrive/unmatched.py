"""Pipedrive's error envelope for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"success": false, "error", "errorCode", "error_info", "data", "additional_data"}``."""
    error = "Unknown method ." if status == 404 else f"Method {method} not allowed"
    body = {
        "success": False,
        "error": error,
        "errorCode": status,
        "error_info": "Please check developers.pipedrive.com for more information.",
        "data": None,
        "additional_data": None,
    }
    return body, {}
