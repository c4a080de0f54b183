"""What the revsync writer wrote to Zendesk, read back by zenpy (the most used Zendesk client)
over real HTTP against the sandbox: the writer speaks the API the SDK expects.

zenpy builds ``https://{subdomain}.zendesk.com/api/v2``; its own override is the pair of
environment variables ``ZENPY_FORCE_NETLOC`` / ``ZENPY_FORCE_SCHEME`` (read on every request).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from contract_kit import connection, write
from zenpy import Zenpy

from connectors.writer import WriteItem
from sandbox import credentials
from sandbox.server import SandboxServer


@pytest.fixture
def zendesk(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    sandbox.state.reset()
    yield sandbox
    sandbox.state.reset()


@pytest.fixture
def zenpy_client(zendesk: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zenpy]:
    base = urlsplit(zendesk.base_url("zendesk"))
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", base.scheme)
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", base.netloc + base.path)
    with requests.Session() as session:
        yield Zenpy(
            subdomain=credentials.SANDBOX_ZENDESK_SUBDOMAIN,
            email=credentials.SANDBOX_ZENDESK_EMAIL,
            token=credentials.SANDBOX_ZENDESK_API_TOKEN,
            session=session,
        )


def test_zenpy_reads_back_the_users_and_organization_the_writer_wrote(
    zendesk: SandboxServer, zenpy_client: Zenpy
) -> None:
    conn = connection(zendesk, "zendesk")
    (org,) = write(
        conn,
        "company",
        [WriteItem("unified-org-1", None, {"name": "Northwind", "external_id": "unified-org-1"})],
    )
    assert org.ok, org.error
    assert org.record_id is not None
    people = [
        WriteItem(
            "ada@northwind.example",
            None,
            {
                "name": "Ada Lovelace",
                "phone": "+14155550100",
                "external_id": "unified-1",
                "organization_id": int(org.record_id),
                "skip_verify_email": True,
            },
        ),
        WriteItem("not-an-email", None, {"name": "Broken", "skip_verify_email": True}),
    ]
    ada, broken = write(conn, "person", people)
    assert ada.ok, ada.error
    assert not broken.ok

    user = zenpy_client.users(id=int(str(ada.record_id)))
    assert (user.name, user.email, user.phone) == (
        "Ada Lovelace",
        "ada@northwind.example",
        "+14155550100",
    )
    assert user.external_id == "unified-1"
    assert user.organization_id == int(org.record_id)
    found = zenpy_client.organizations(id=int(org.record_id))
    assert (found.name, found.external_id) == ("Northwind", "unified-org-1")
    members = list(zenpy_client.organizations.users(found))
    assert [u.id for u in members] == [user.id]
    assert "not-an-email" not in {u.email for u in zenpy_client.users()}

    # An update by the writer is what zenpy sees next.
    (renamed,) = write(
        conn, "person", [WriteItem("ada@northwind.example", str(user.id), {"name": "Ada King"})]
    )
    assert renamed.ok, renamed.error
    zenpy_client.disable_caching()  # zenpy keeps objects it fetched by id
    assert zenpy_client.users(id=user.id).name == "Ada King"
