"""The official Brevo SDK (``brevo-python``, module ``brevo``) against the sandbox.

Only the base URL changes (``Brevo(api_key=..., base_url=<sandbox>/brevo/v3)``): the SDK's own
paths, ``api-key`` header and response models must accept what the sandbox serves.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from brevo import Brevo, ImportContactsRequestJsonBodyItem
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


def test_sdk_imports_contacts_through_a_process(client: Brevo, sandbox: SandboxServer) -> None:
    with sandbox.state.lock:
        sandbox.state.brevo.add_list(2, "Newsletter", sandbox.state.now_ms())
    client.contacts.create_contact(email="known@hopper.dev", attributes={"FIRSTNAME": "Old"})
    started = client.contacts.import_contacts(
        json_body=[
            ImportContactsRequestJsonBodyItem(
                email="ada@hopper.dev", attributes={"FIRSTNAME": "Ada", "NOT_AN_ATTRIBUTE": 1}
            ),
            ImportContactsRequestJsonBodyItem(
                email="known@hopper.dev", attributes={"FIRSTNAME": "New"}
            ),
            ImportContactsRequestJsonBodyItem(email="not an email", attributes={}),
        ],
        list_ids=[2],
        update_existing_contacts=True,
    )
    assert started.process_id is not None
    # Nothing is imported before the process completes.
    with pytest.raises(ApiError):
        client.contacts.get_contact_info("ada@hopper.dev")
    statuses = [client.process.get_process(started.process_id).status for _ in range(3)]
    assert statuses == ["in_process", "completed", "completed"]
    ada = client.contacts.get_contact_info("ada@hopper.dev")
    assert ada.list_ids == [2]
    assert ada.attributes is not None
    assert ada.attributes.model_dump() == {"FIRSTNAME": "Ada"}  # unknown attributes ignored
    known = client.contacts.get_contact_info("known@hopper.dev")
    assert known.attributes is not None
    assert known.attributes.model_dump()["FIRSTNAME"] == "New"
    assert client.contacts.get_contacts(limit=10).count == 2  # the bad row was skipped
    with pytest.raises(ApiError) as missing:
        client.process.get_process(999)
    assert missing.value.status_code == 404


def test_sdk_links_contacts_to_a_company_and_filters_companies_by_name(client: Brevo) -> None:
    grace = client.contacts.create_contact(email="grace@hopper.dev")
    ada = client.contacts.create_contact(email="ada@hopper.dev")
    assert grace.id is not None
    assert ada.id is not None
    made = client.companies.create_a_company(
        name="Hopper Labs", attributes={"domain": "hopper.dev"}
    )
    client.companies.create_a_company(name="Other", attributes={"domain": "other.dev"})
    client.companies.link_and_unlink_company_with_contact_and_deal(
        made.id, link_contact_ids=[grace.id, ada.id]
    )
    client.companies.link_and_unlink_company_with_contact_and_deal(
        made.id, unlink_contact_ids=[ada.id]
    )
    company = client.companies.get_a_company(made.id)
    assert company.linked_contacts_ids == [grace.id]
    found = client.companies.get_all_companies(filters_attributes_name="hopper labs")
    assert [c.id for c in found.items or []] == [made.id]
