"""Freshdesk's company name autocomplete in the sandbox: the lookup the writer makes before it
creates a company (names are unique in Freshdesk)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_FRESHDESK_API_KEY
from sandbox.server import SandboxServer


@pytest.fixture
def fd(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    base = sandbox.base_url("freshdesk") + "/api/v2"
    with httpx.Client(base_url=base, auth=(SANDBOX_FRESHDESK_API_KEY, "X"), timeout=10) as client:
        yield client


def test_companies_are_found_by_the_start_of_their_name_case_blind(fd: httpx.Client) -> None:
    for name in ("Acme", "Acme Group", "Globex"):
        fd.post("/companies", json={"name": name, "domains": [f"{name[:4].lower()}.io"]})

    found = fd.get("/companies/autocomplete", params={"name": "acme"})

    assert found.status_code == 200
    assert sorted(c["name"] for c in found.json()["companies"]) == ["Acme", "Acme Group"]
    assert set(found.json()["companies"][0]) == {"id", "name"}
    assert fd.get("/companies/autocomplete", params={"name": "Initech"}).json() == {"companies": []}
    blank = fd.get("/companies/autocomplete")
    assert blank.status_code == 400
    assert blank.json()["errors"][0]["field"] == "name"
