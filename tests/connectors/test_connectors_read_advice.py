"""A read that stopped on a 404 says "check the base URL", not "re-run later"."""

from __future__ import annotations

from connectors.errors import ErrorClass
from connectors.runner import _read_failed


def test_a_404_read_names_the_base_url_variable() -> None:
    text = "HTTP Status Code: 404. Error: Not found."
    failed = _read_failed("hubspot", "contacts", [(text, None)], [])
    assert failed.message.endswith("check the base URL (REVSYNC_HUBSPOT_BASE_URL), then re-run")
    assert failed.status == 404
    assert failed.error_class is ErrorClass.FATAL


def test_a_5xx_read_still_says_re_run_later() -> None:
    failed = _read_failed("hubspot", "contacts", [("HTTP Status Code: 503.", None)], [])
    assert failed.message.endswith("re-run later; it resumes from the last checkpoint")
    assert failed.error_class is ErrorClass.RETRY
