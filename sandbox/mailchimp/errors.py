"""Mailchimp's error: a problem-detail response (RFC 9457), raised by the store, rendered by
the routes."""

from __future__ import annotations

__all__ = ["MailchimpError"]


class MailchimpError(Exception):
    """A Mailchimp problem-detail response (RFC 9457)."""

    def __init__(
        self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
