"""Brevo's ``errorModel`` for paths and methods it does not serve."""

from __future__ import annotations

from typing import Any

__all__ = ["unmatched"]


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """``{"code", "message"}`` with codes from the spec's enum."""
    if status == 404:
        return {"code": "document_not_found", "message": "Invalid route"}, {}
    return {"code": "method_not_allowed", "message": f"{method} is not allowed here"}, {}
