"""What the revsync writer wrote to Intercom, read back by the official client
(``python-intercom``) over real HTTP against the sandbox: the writer speaks the API the SDK
expects, and the merge the SDK makes is what the writer follows."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from contract_kit import connection, write
from intercom import Intercom
from intercom.types import CreateContactRequestWithEmail, CreateContactRequestWithRole

from connectors.intercom.writer import IntercomWriter
from connectors.registry import writer_for
from connectors.writer import WriteItem
from sandbox.credentials import SANDBOX_INTERCOM_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def workspace(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    sandbox.state.reset()
    yield sandbox
    sandbox.state.faults.clear()
    sandbox.state.reset()


@pytest.fixture
def sdk(workspace: SandboxServer) -> Iterator[Intercom]:
    with httpx.Client(timeout=10) as http:
        yield Intercom(
            token=SANDBOX_INTERCOM_TOKEN, base_url=workspace.base_url("intercom"), httpx_client=http
        )


def test_the_sdk_reads_back_what_the_writer_wrote(workspace: SandboxServer, sdk: Intercom) -> None:
    conn = connection(workspace, "intercom")
    (company,) = write(
        conn,
        "company",
        [
            WriteItem(
                "gold-c1", None, {"company_id": "gold-c1", "name": "Acme", "website": "acme.io"}
            )
        ],
    )
    assert company.ok, company.error
    assert company.record_id is not None
    person = {
        "email": "ada@acme.io",
        "name": "Ada Lovelace",
        "phone": "+14155550142",
        "custom_attributes": {"plan_tier": "gold"},
        "company_ref": company.record_id,
    }
    (created,) = write(conn, "person", [WriteItem("ada@acme.io", None, person)])
    assert (created.ok, created.created) == (True, True), created.error
    assert created.record_id is not None
    update = {"name": "Ada King", "custom_attributes": {"plan_tier": "platinum"}}
    (updated,) = write(conn, "person", [WriteItem("ada@acme.io", created.record_id, update)])
    assert updated.ok, updated.error

    contact = sdk.contacts.find(created.record_id)
    assert (contact.email, contact.name, contact.phone) == (
        "ada@acme.io",
        "Ada King",
        "+14155550142",
    )
    assert contact.role == "user"
    assert (contact.custom_attributes or {})["plan_tier"] == "platinum"
    attached = sdk.contacts.list_attached_companies(created.record_id)
    assert [(c.id, c.company_id, c.name) for c in attached] == [
        (company.record_id, "gold-c1", "Acme")
    ]
    assert sdk.companies.find(company.record_id).website == "acme.io"


def test_a_lead_the_sdk_merged_into_a_user_is_gone_and_its_survivor_found(
    workspace: SandboxServer, sdk: Intercom
) -> None:
    lead = sdk.contacts.create(request=CreateContactRequestWithRole(role="lead"))
    sdk.contacts.update(lead.id, email="grace@navy.mil", name="Grace Hopper")
    conn = connection(workspace, "intercom")
    (user,) = write(
        conn, "person", [WriteItem("grace@navy.mil", None, {"email": "grace@navy.mil"})]
    )
    assert user.ok, user.error
    assert user.record_id == lead.id  # the lead holding the email was found, not duplicated
    # The visitor signs up (a user with the same address); the lead is merged into it.
    made = sdk.contacts.create(request=CreateContactRequestWithEmail(email="grace@navy.mil"))
    sdk.contacts.merge_lead_in_user(lead_id=lead.id, contact_id=made.id)

    (gone,) = write(conn, "person", [WriteItem("grace@navy.mil", lead.id, {"name": "G. Hopper"})])

    assert (gone.ok, gone.gone) == (False, True)
    writer = writer_for(conn)
    assert isinstance(writer, IntercomWriter)
    try:
        assert writer.find_survivor("grace@navy.mil") == made.id
    finally:
        writer.close()
