"""Bulk API 2.0 query jobs through simple-salesforce's bulk2 client: CSV pages with
``Sforce-Locator`` paging until ``null``, every Contact once."""

from __future__ import annotations

import csv
import io

import requests
from sandbox_testkit import control
from simple_salesforce import Salesforce

from sandbox.credentials import SANDBOX_SALESFORCE_TOKEN
from sandbox.server import SandboxServer


def test_bulk2_query_pages_csv_until_the_locator_is_null(
    sandbox: SandboxServer, plain_http_session: requests.Session
) -> None:
    control(sandbox, "POST", "/reset")
    control(sandbox, "POST", "/seed", {"people": 60, "seed": 16, "tools": ["salesforce"]})
    instance = sandbox.base_url("salesforce").split("://", 1)[1]
    sf = Salesforce(
        instance=instance, session_id=SANDBOX_SALESFORCE_TOKEN, version="62.0",
        session=plain_http_session,
    )  # fmt: skip
    total = sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    pages = list(sf.bulk2.Contact.query("SELECT Id, Email FROM Contact", max_records=7, wait=0))
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert total > 7
    assert len(pages) == -(-total // 7)
    assert len({r["Id"] for r in rows}) == total
    assert set(rows[0]) == {"Id", "Email"}
