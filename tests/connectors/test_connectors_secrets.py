"""No secret in exception messages, reprs or log records, on reads and writes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import requests_mock as rm
import respx
from pydantic import SecretStr

from connectors.auth import ApiKeyBasicAuth, BearerAuth
from connectors.connections import Connection
from connectors.errors import ConnectorError, ReadFailed, WriteFailed
from connectors.http import build_client
from connectors.hubspot.writer import HubSpotWriter
from connectors.mailchimp.writer import MailchimpWriter, subscriber_hash
from connectors.retry import RetrySettings
from connectors.runner import cdk_sleep, read_stream
from connectors.writer import WriteItem

TOKEN = "pat-na1-s3cr3t-t0ken"
KEY = "f00dfeedf00dfeedf00dfeedf00dfeed-us6"
HS = Connection(
    tool="hubspot", base_url="https://api.hubapi.com", secrets={"access_token": SecretStr(TOKEN)}
)
MC = Connection(
    tool="mailchimp",
    base_url="https://us6.api.mailchimp.com/3.0",
    secrets={"api_key": SecretStr(KEY)},
    options={"list_id": "L1"},
)


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    with cdk_sleep(lambda _s: None):
        yield caplog


def _assert_clean(caplog: pytest.LogCaptureFixture, exc: BaseException | None = None) -> None:
    texts = [r.getMessage() for r in caplog.records]
    if exc is not None:
        texts += [str(exc), repr(exc)]
        cause = exc.__cause__ or exc.__context__
        texts += [str(cause)] if cause else []
    for secret in (TOKEN, KEY, KEY.split("-")[0]):
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"secret leaked: {leaks[:2]}"
    assert caplog.records, "the test should have produced some logs"


def test_write_failure_and_logs_hold_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    with respx.mock(base_url="https://api.hubapi.com") as router:
        router.post("/crm/v3/objects/contacts/batch/upsert").mock(
            side_effect=[httpx.Response(503), httpx.Response(401, json={"message": f"bad {TOKEN}"})]
        )
        client = build_client(HS, retry=RetrySettings.no_wait())
        with pytest.raises(WriteFailed) as caught:
            HubSpotWriter(HS, client).upsert("person", [WriteItem("a@b.co", None, {})])
    assert "check the private app token" in str(caught.value)
    assert "bad **********" in str(caught.value)  # the vendor echoed it; we masked it
    _assert_clean(caplog, caught.value)


def test_mailchimp_write_logs_hold_no_key(caplog: pytest.LogCaptureFixture) -> None:
    with respx.mock(base_url="https://us6.api.mailchimp.com/3.0") as router:
        router.put(url__regex=r"/lists/L1/members/\w+").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(401, json={"detail": "no"})]
        )
        client = build_client(MC, retry=RetrySettings.no_wait())
        with pytest.raises(WriteFailed) as caught:
            MailchimpWriter(MC, client).upsert(
                "person", [WriteItem("a@b.co", subscriber_hash("a@b.co"), {})]
            )
    _assert_clean(caplog, caught.value)


def test_read_failure_and_logs_hold_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    with rm.Mocker() as mock:
        mock.post(
            "https://api.hubapi.com/crm/v3/objects/contacts/search",
            status_code=401,
            json={"status": "error", "message": f"Authentication credentials {TOKEN} not found"},
        )
        with pytest.raises(ReadFailed) as caught:
            list(read_stream(HS, "contacts", None))
    _assert_clean(caplog, caught.value)


def test_auth_and_error_reprs_hold_no_secret() -> None:
    assert TOKEN not in repr(BearerAuth(SecretStr(TOKEN)))
    assert KEY not in repr(ApiKeyBasicAuth(SecretStr(KEY)))
    err = ConnectorError("x", tool="hubspot", request="POST /crm/v3/objects/contacts/search")
    assert str(err) == "x (tool=hubspot, request=POST /crm/v3/objects/contacts/search)"
