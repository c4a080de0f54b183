"""What the revsync writer wrote, read back by simple-salesforce (the vendor's community
client) over real HTTP against the sandbox: the writer speaks the API the SDK expects.

The writer signs in through the sandbox's OAuth token endpoint with the connector's declared
sandbox values; the SDK is handed the session id that endpoint issues, like an app sharing one.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from contract_kit import connection, write
from simple_salesforce import Salesforce

from connectors.salesforce.writer import EXTERNAL_ID_FIELD
from connectors.writer import WriteItem
from sandbox import credentials
from sandbox.server import SandboxServer


@pytest.fixture
def sandbox_org(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    sandbox.state.reset()
    yield sandbox
    sandbox.state.faults.clear()
    sandbox.state.reset()


def _session_id(sandbox: SandboxServer) -> str:
    answer = httpx.post(
        f"{sandbox.base_url('salesforce')}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": credentials.SANDBOX_SALESFORCE_CLIENT_ID,
            "client_secret": credentials.SANDBOX_SALESFORCE_CLIENT_SECRET,
            "refresh_token": credentials.SANDBOX_SALESFORCE_REFRESH_TOKEN,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


@pytest.fixture
def sdk(sandbox_org: SandboxServer, plain_http_session: requests.Session) -> Salesforce:
    instance = sandbox_org.base_url("salesforce").split("://", 1)[1]
    return Salesforce(
        instance=instance,
        session_id=_session_id(sandbox_org),
        version="62.0",
        session=plain_http_session,
    )


def test_the_sdk_reads_back_contacts_and_accounts_the_writer_upserted(
    sandbox_org: SandboxServer, sdk: Salesforce
) -> None:
    conn = connection(sandbox_org, "salesforce")
    people = [
        WriteItem(
            key=f"u-person-{n}",
            record_id=None,
            properties={
                "Email": f"grace{n}@navy.example",
                "FirstName": "Grace",
                "LastName": f"Hopper{n}",
                "Title": "Rear Admiral",
                EXTERNAL_ID_FIELD: f"u-person-{n}",
            },
        )
        for n in range(3)
    ]
    created = write(conn, "person", people)
    assert all(o.ok and o.created for o in created), [o.error for o in created]

    got = sdk.Contact.get_by_custom_id(EXTERNAL_ID_FIELD, "u-person-1")
    assert (got["Id"], got["Email"], got["LastName"], got["Title"]) == (
        created[1].record_id,
        "grace1@navy.example",
        "Hopper1",
        "Rear Admiral",
    )
    rows = sdk.query_all(
        f"SELECT Id, {EXTERNAL_ID_FIELD}, Name FROM Contact WHERE {EXTERNAL_ID_FIELD} != null"
    )["records"]
    assert sorted(r["Name"] for r in rows) == ["Grace Hopper0", "Grace Hopper1", "Grace Hopper2"]

    # A replayed create (the crash case) and an update by id: still three Contacts.
    replay = write(conn, "person", people[:1])
    assert replay[0].ok
    assert not replay[0].created
    assert replay[0].record_id == created[0].record_id
    (update,) = write(
        conn,
        "person",
        [WriteItem(key="u-person-2", record_id=created[2].record_id, properties={"Title": "RADM"})],
    )
    assert update.ok
    assert sdk.Contact.get(created[2].record_id)["Title"] == "RADM"
    assert sdk.query("SELECT COUNT() FROM Contact")["totalSize"] == 3

    (account,) = write(
        conn,
        "company",
        [
            WriteItem(
                key="u-company-1",
                record_id=None,
                properties={
                    "Name": "Navy Labs",
                    "Website": "navy.example",
                    EXTERNAL_ID_FIELD: "u-company-1",
                },
            )
        ],
    )
    assert account.ok
    assert account.created
    got_account = sdk.Account.get(account.record_id)
    assert (got_account["Name"], got_account["Website"], got_account[EXTERNAL_ID_FIELD]) == (
        "Navy Labs",
        "navy.example",
        "u-company-1",
    )


def test_a_record_salesforce_refuses_is_one_failed_outcome_with_its_code(
    sandbox_org: SandboxServer, sdk: Salesforce
) -> None:
    conn = connection(sandbox_org, "salesforce")
    items = [
        WriteItem(
            key="u-ok", record_id=None, properties={"LastName": "Ok", EXTERNAL_ID_FIELD: "u-ok"}
        ),
        WriteItem(
            key="u-bad", record_id=None, properties={"Email": "x@y.io", EXTERNAL_ID_FIELD: "u-bad"}
        ),
    ]
    ok, bad = write(conn, "person", items)
    assert ok.ok
    assert not bad.ok
    assert bad.error is not None
    assert bad.error.startswith("REQUIRED_FIELD_MISSING")
    assert sdk.query("SELECT COUNT() FROM Contact")["totalSize"] == 1


def test_revsync_check_proves_read_and_write_access(sandbox_org: SandboxServer) -> None:
    from connectors.check import check_connection

    result = check_connection(connection(sandbox_org, "salesforce"))
    assert result.ok, result.lines()
    assert [p.name for p in result.probes] == [
        "read contacts (API Enabled, Read on Contact)",
        "write access (Create and Edit on Contact)",
    ]
    assert result.probes[1].detail == "granted (createable True, updateable True)"
    # The org's whole allocation, from GET /limits: what a run has to spend before it starts.
    assert result.headroom is not None
    left, _, rest = result.headroom.partition(" of ")
    limit, _, source = rest.partition(" calls left ")
    assert source == "(GET /limits DailyApiRequests)"
    assert 0 < int(left) < int(limit)
    assert not list(sandbox_org.state.salesforce.tables["Contact"].store.values())
