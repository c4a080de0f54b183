"""The official Brevo SDK (``brevo-python``, module ``brevo``) against the sandbox.

Only the base URL changes (``Brevo(api_key=..., base_url=<sandbox>/brevo/v3)``): the SDK's own
paths, ``api-key`` header and response models must accept what the sandbox serves.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from brevo import Brevo
from brevo.core.api_error import ApiError
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_BREVO_KEY
from sandbox.server import SandboxServer


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[Brevo]:
    fresh(sandbox)
    sandbox.state.configure_limit("brevo", max_requests=10_000)
    # our own httpx client only so the test can close its sockets (filterwarnings = error)
    with httpx.Client(timeout=10) as http:
        yield Brevo(
            api_key=SANDBOX_BREVO_KEY,
            base_url=sandbox.base_url("brevo"),
            max_retries=0,
            httpx_client=http,
        )
    sandbox.state.configure_limit("brevo", max_requests=10)


def test_sdk_create_upsert_update_get_and_list(client: Brevo) -> None:
    created = client.contacts.create_contact(
        email="Grace@Hopper.dev", attributes={"FIRSTNAME": "Grace", "SMS": "+14155550199"}
    )
    assert created is not None
    assert created.id is not None
    upserted = client.contacts.create_contact(
        email="grace@hopper.dev", attributes={"LASTNAME": "Hopper"}, update_enabled=True
    )
    assert upserted is None  # 204: an existing contact was updated
    client.contacts.update_contact(str(created.id), attributes={"JOB_TITLE": "Admiral"})
    info = client.contacts.get_contact_info("grace@hopper.dev")
    assert info.id == created.id
    assert info.attributes is not None
    page = client.contacts.get_contacts(
        limit=10, sort="asc", modified_since="2000-01-01T00:00:00.000Z"
    )
    assert page.count == 1
    contact = page.contacts[0]
    assert contact.email == "grace@hopper.dev"
    assert contact.modified_at >= contact.created_at


def test_sdk_sees_duplicate_and_not_found_errors(client: Brevo) -> None:
    client.contacts.create_contact(email="dup@hopper.dev")
    with pytest.raises(ApiError) as dup:
        client.contacts.create_contact(email="dup@hopper.dev")
    assert dup.value.status_code == 400
    with pytest.raises(ApiError) as missing:
        client.contacts.get_contact_info("nobody@hopper.dev")
    assert missing.value.status_code == 404
