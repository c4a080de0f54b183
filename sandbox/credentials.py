"""The only credentials the sandbox accepts: fixed, fake, and safe to print in docs and tests."""

from __future__ import annotations

__all__ = [
    "SANDBOX_HUBSPOT_TOKEN",
    "SANDBOX_MAILCHIMP_DC",
    "SANDBOX_MAILCHIMP_KEY",
    "SANDBOX_MAILCHIMP_LIST_ID",
]

SANDBOX_HUBSPOT_TOKEN = "pat-na1-sandbox-0000"
SANDBOX_MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
SANDBOX_MAILCHIMP_DC = "us6"
SANDBOX_MAILCHIMP_LIST_ID = "a1b2c3d4e5"
