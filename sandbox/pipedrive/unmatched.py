"""Pipedrive's error envelope for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

from sandbox.pipedrive.store import PipedriveError

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"success": false, "error", "errorCode", "error_info", "data", "additional_data"}``."""
    error = "Unknown method ." if status == 404 else f"Method {method} not allowed"
    return PipedriveError(status, error).body(), {}
