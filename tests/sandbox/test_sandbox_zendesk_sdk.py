"""The most used Zendesk client, ``zenpy``, against the sandbox.

zenpy always builds ``https://{subdomain}.{domain}/api/v2``; its supported override is the pair
of environment variables ``ZENPY_FORCE_NETLOC`` / ``ZENPY_FORCE_SCHEME`` (read on every
request), so only the base URL changes: ``http://127.0.0.1:<port>/zendesk``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sandbox_testkit import fresh
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization, Ticket, User

from sandbox.credentials import (
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
    SANDBOX_ZENDESK_SUBDOMAIN,
)
from sandbox.server import SandboxServer


@pytest.fixture
def zenpy_client(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zenpy]:
    fresh(sandbox)
    base = urlsplit(sandbox.base_url("zendesk"))
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", base.scheme)
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", base.netloc + base.path)
    with requests.Session() as session:
        yield Zenpy(
            subdomain=SANDBOX_ZENDESK_SUBDOMAIN,
            email=SANDBOX_ZENDESK_EMAIL,
            token=SANDBOX_ZENDESK_API_TOKEN,
            session=session,
        )


def test_zenpy_users_create_update_upsert_search_list(zenpy_client: Zenpy) -> None:
    created = zenpy_client.users.create(User(name="Ada Lovelace", email="ada@engine.io"))
    assert created.id is not None
    created.phone = "+441234567890"
    updated = zenpy_client.users.update(created)
    assert updated.phone == "+441234567890"
    upserted = zenpy_client.users.create_or_update(
        User(name="Ada L.", email="ADA@engine.io", external_id="crm-7")
    )
    assert upserted.id == created.id
    assert upserted.external_id == "crm-7"
    found = list(zenpy_client.users.search(query="email:ada@engine.io"))
    assert [u.id for u in found] == [created.id]
    zenpy_client.users.create(User(name="Charles Babbage", email="charles@engine.io"))
    names = sorted(u.name for u in zenpy_client.users(cursor_pagination=1))
    assert names == ["Ada L.", "Charles Babbage"]


def test_zenpy_tickets_and_organizations(zenpy_client: Zenpy) -> None:
    org = zenpy_client.organizations.create(Organization(name="Analytical Engines"))
    user = zenpy_client.users.create(
        User(name="Ada", email="ada@engine.io", organization_id=org.id)
    )
    audit = zenpy_client.tickets.create(
        Ticket(subject="Engine jammed", description="Please help", requester_id=user.id)
    )
    assert audit.ticket.requester_id == user.id
    assert audit.ticket.organization_id == org.id
    tickets = list(zenpy_client.tickets())
    assert [t.subject for t in tickets] == ["Engine jammed"]
    assert [o.name for o in zenpy_client.organizations()] == ["Analytical Engines"]
