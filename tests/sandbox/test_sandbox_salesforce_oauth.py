"""The sandbox's Salesforce login service: the refresh-token grant issues the session id the
API gate accepts, refuses wrong credentials as Salesforce does, and faults pass it over."""

from __future__ import annotations

import base64

import httpx
import pytest
from sandbox_testkit import fresh

from sandbox.credentials import (
    SANDBOX_SALESFORCE_CLIENT_ID,
    SANDBOX_SALESFORCE_CLIENT_SECRET,
    SANDBOX_SALESFORCE_REFRESH_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
)
from sandbox.faults import Fault
from sandbox.server import SandboxServer

GRANT = {
    "grant_type": "refresh_token",
    "client_id": SANDBOX_SALESFORCE_CLIENT_ID,
    "client_secret": SANDBOX_SALESFORCE_CLIENT_SECRET,
    "refresh_token": SANDBOX_SALESFORCE_REFRESH_TOKEN,
}


@pytest.fixture
def base(sandbox: SandboxServer) -> str:
    fresh(sandbox)
    return sandbox.base_url("salesforce")


def test_the_refresh_grant_issues_the_session_the_api_accepts(base: str) -> None:
    answer = httpx.post(f"{base}/services/oauth2/token", data=GRANT)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["access_token"] == SANDBOX_SALESFORCE_TOKEN
    assert body["token_type"] == "Bearer"
    assert body["instance_url"].endswith("/salesforce")
    limits = httpx.get(
        f"{body['instance_url']}/services/data/v62.0/limits",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert limits.status_code == 200
    # the login service is not the API: no allocation counted, no usage header
    assert "sforce-limit-info" not in answer.headers


def test_client_credentials_may_come_as_basic_auth(base: str) -> None:
    pair = f"{SANDBOX_SALESFORCE_CLIENT_ID}:{SANDBOX_SALESFORCE_CLIENT_SECRET}".encode()
    answer = httpx.post(
        f"{base}/services/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": SANDBOX_SALESFORCE_REFRESH_TOKEN},
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("wrong", ["client_secret", "refresh_token"])
def test_wrong_credentials_are_invalid_grant(base: str, wrong: str) -> None:
    answer = httpx.post(f"{base}/services/oauth2/token", data={**GRANT, wrong: "nope"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


def test_a_wrong_client_id_and_grant_type_are_refused(base: str) -> None:
    wrong_id = httpx.post(f"{base}/services/oauth2/token", data={**GRANT, "client_id": "x"})
    assert (wrong_id.status_code, wrong_id.json()["error"]) == (400, "invalid_client_id")
    wrong_grant = httpx.post(
        f"{base}/services/oauth2/token", data={**GRANT, "grant_type": "password"}
    )
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_faults_for_every_path_pass_the_token_endpoint_over(
    sandbox: SandboxServer, base: str
) -> None:
    sandbox.state.faults.add(Fault(tool="salesforce", kind="500", count=1))
    try:
        assert httpx.post(f"{base}/services/oauth2/token", data=GRANT).status_code == 200
        api = httpx.get(
            f"{base}/services/data/v62.0/limits",
            headers={"Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}"},
        )
        assert api.status_code == 500  # the fault was kept for the API
        sandbox.state.faults.add(Fault(tool="salesforce", kind="500", count=1, path="oauth2/token"))
        assert httpx.post(f"{base}/services/oauth2/token", data=GRANT).status_code == 500
    finally:
        sandbox.state.faults.clear()
