"""Zendesk's classic error for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"error": "InvalidEndpoint", "description": ...}``, as Zendesk answers either case."""
    return {"error": "InvalidEndpoint", "description": "Not found"}, {}
