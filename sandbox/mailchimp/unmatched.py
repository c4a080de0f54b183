"""Mailchimp's problem-detail error for paths and methods it does not serve."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["unmatched"]

_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"


def unmatched(status: int, method: str, path: str) -> tuple[Any, dict[str, str]]:
    """RFC 9457 ``{type, title, status, detail, instance}`` as ``application/problem+json``."""
    if status == 404:
        title, detail = "Resource Not Found", "The requested resource could not be found."
    else:
        title = "Method Not Allowed"
        detail = (
            "The requested method and resource are not compatible. "
            "See the Allow header for this resource's available methods."
        )
    body = {"type": _DOCS, "title": title, "status": status, "detail": detail}
    body["instance"] = str(uuid.uuid4())
    return body, {"Content-Type": "application/problem+json; charset=utf-8"}
