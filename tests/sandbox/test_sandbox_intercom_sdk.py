"""The official `python-intercom` SDK (Fern, module `intercom`) run against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from intercom import Intercom
from intercom.types import (
    CreateContactRequestWithEmail,
    CreateOrUpdateCompanyRequest,
    SingleFilterSearchRequest,
)
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[Intercom]:
    fresh(sandbox)
    with httpx.Client(timeout=10) as http:
        yield Intercom(
            token=SANDBOX_INTERCOM_TOKEN, base_url=sandbox.base_url("intercom"), httpx_client=http
        )


def test_sdk_contacts_create_update_list_search(client: Intercom) -> None:
    created = client.contacts.create(request=CreateContactRequestWithEmail(email="sdk@corp.io"))
    assert created.id
    assert created.email == "sdk@corp.io"
    updated = client.contacts.update(created.id, name="Sdk User", phone="+14155550123")
    assert updated.name == "Sdk User"
    for i in range(3):
        client.contacts.create(request=CreateContactRequestWithEmail(email=f"more{i}@corp.io"))
    listed = [c.email for c in client.contacts.list(per_page=2)]  # the pager follows cursors
    assert sorted(listed) == sorted(
        ["sdk@corp.io", "more0@corp.io", "more1@corp.io", "more2@corp.io"]
    )
    page = client.contacts.search(
        query=SingleFilterSearchRequest(field="email", operator="=", value="sdk@corp.io")
    )
    assert [c.id for c in page.items] == [created.id]


def test_sdk_companies_create_and_list(client: Intercom) -> None:
    company = client.companies.create_or_update(
        request=CreateOrUpdateCompanyRequest(company_id="acct-9", name="Globex")
    )
    assert company.company_id == "acct-9"
    contact = client.contacts.create(request=CreateContactRequestWithEmail(email="g@globex.com"))
    client.companies.attach_contact(contact_id=contact.id, company_id=company.id)
    # The SDK pager computes `page + 1`: it needs an explicit first page number.
    names = [c.name for c in client.companies.list(page=1)]
    assert names == ["Globex"]
