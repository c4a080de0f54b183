"""The official `python-intercom` SDK (Fern, module `intercom`) run against the sandbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from intercom import Intercom
from intercom.conversations import ConversationsManageRequestBody_Close
from intercom.types import (
    CreateContactRequestWithEmail,
    CreateOrUpdateCompanyRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
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


def _seed_world(sandbox: SandboxServer, people: int = 40) -> dict[str, str]:
    """A small seeded world; its truth (record key -> person)."""
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10) as control:
        control.post("/seed", json={"people": people, "seed": 3}).raise_for_status()
        truth: dict[str, str] = control.get("/truth").raise_for_status().json()
    return truth


def test_sdk_conversations_list_find_search_and_close(
    client: Intercom, sandbox: SandboxServer
) -> None:
    truth = _seed_world(sandbox)
    seeded = {k.split(":")[2] for k in truth if k.startswith("intercom:conversations:")}
    assert seeded
    listed = list(client.conversations.list(per_page=7))  # the pager follows starting_after
    assert len({c.id for c in listed}) == len(listed)
    assert seeded <= {c.id for c in listed}
    one = next(c for c in listed if c.id in seeded and c.state != "closed")
    found = client.conversations.find(one.id)
    assert found.id == one.id
    assert found.contacts is not None
    assert found.contacts.contacts
    person = truth[f"intercom:conversations:{one.id}"]
    assert truth[f"intercom:contacts:{found.contacts.contacts[0].id}"] == person

    closed = client.conversations.manage(
        one.id, request=ConversationsManageRequestBody_Close(type="admin", admin_id="991267601")
    )
    assert closed.state == "closed"
    assert closed.open is False
    assert closed.statistics is not None
    assert closed.statistics.last_close_at == closed.updated_at

    # The SDK's search pager asks the same page again for ever (it does not pass the cursor
    # on): read the first page only, and pages by hand below.
    query = SingleFilterSearchRequest(field="updated_at", operator=">", value="0")
    first = client.conversations.search(query=query, pagination=StartingAfterPaging(per_page=5))
    assert len(first.items) == 5
    pages = itertools.islice(first.iter_pages(), 3)
    assert [p.items[0].id for p in pages] == [first.items[0].id] * 3, "the SDK pager was fixed"
    ids: list[str] = []
    after: str | None = None
    for _ in range(len(listed)):  # bounded: one page per conversation at most
        page = client.conversations.search(
            query=query, pagination=StartingAfterPaging(per_page=5, starting_after=after)
        )
        ids += [c.id for c in page.items]
        nxt = page.response.pages.next if page.response and page.response.pages else None
        after = nxt.starting_after if nxt else None
        if not after:
            break
    assert sorted(ids) == sorted(c.id for c in listed)
