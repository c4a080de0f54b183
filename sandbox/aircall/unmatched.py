"""Aircall's error for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"error", "troubleshoot"}``."""
    if status == 404:
        return {"error": "Not found", "troubleshoot": "Check the path of the request"}, {}
    return {"error": "Method not allowed", "troubleshoot": f"{method} is not served here"}, {}
