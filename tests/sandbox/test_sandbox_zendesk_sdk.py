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
from zenpy.lib.api_objects import Organization, Ticket, User, UserField
from zenpy.lib.exception import APIException

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


def test_a_user_field_created_by_api_is_read_back_on_every_user(zenpy_client: Zenpy) -> None:
    zenpy_client.user_fields.create(UserField(key="plan_tier", type="text", title="Plan"))
    zenpy_client.user_fields.create(UserField(key="nps_score", type="decimal", title="NPS"))
    assert sorted(f.key for f in zenpy_client.user_fields()) == ["nps_score", "plan_tier"]
    user = zenpy_client.users.create(User(name="Ada Lovelace", email="ada@engine.io"))
    assert user.user_fields == {"plan_tier": None, "nps_score": None}

    user.user_fields = {"nps_score": "9.5", "not_defined": "x"}
    updated = zenpy_client.users.update(user)
    assert updated.user_fields == {"plan_tier": None, "nps_score": 9.5}
    updated.user_fields = {"plan_tier": "Enterprise"}
    again = zenpy_client.users.update(updated)
    assert again.user_fields == {"plan_tier": "Enterprise", "nps_score": 9.5}, "keys merge"


def test_a_user_field_value_of_the_wrong_type_is_refused(zenpy_client: Zenpy) -> None:
    zenpy_client.user_fields.create(UserField(key="seats", type="integer", title="Seats"))
    user = zenpy_client.users.create(User(name="Ada Lovelace", email="ada@engine.io"))
    user.user_fields = {"seats": "many"}
    with pytest.raises(APIException) as refused:
        zenpy_client.users.update(user)
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["error"] == "RecordInvalid"
    with pytest.raises(APIException):
        zenpy_client.user_fields.create(UserField(key="seats", type="text", title="Again"))
