"""Account-defined fields through the vendors' own clients: Mailchimp merge fields and Zendesk
user fields are created by API, then member and user values follow their definitions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import mailchimp_marketing
import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError
from sandbox_testkit import fresh
from zenpy import Zenpy
from zenpy.lib.api_objects import User, UserField
from zenpy.lib.exception import APIException

from sandbox.credentials import (
    SANDBOX_MAILCHIMP_KEY,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
    SANDBOX_ZENDESK_SUBDOMAIN,
)
from sandbox.mailchimp.merge_fields import MERGE_FIELDS
from sandbox.server import SandboxServer

LIST = SANDBOX_MAILCHIMP_LIST_ID


@pytest.fixture
def mailchimp(sandbox: SandboxServer) -> mailchimp_marketing.Client:
    fresh(sandbox)
    mc = mailchimp_marketing.Client()
    mc.set_config({"api_key": SANDBOX_MAILCHIMP_KEY, "server": "us6"})
    mc.api_client.host = sandbox.base_url("mailchimp")
    return mc


@pytest.fixture
def zendesk(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zenpy]:
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


def _problem(err: ApiClientError) -> dict[str, object]:
    return json.loads(err.text) if isinstance(err.text, str) else dict(err.text)


def test_a_merge_field_created_by_api_is_listed_and_holds_typed_values(
    mailchimp: mailchimp_marketing.Client,
) -> None:
    member = mailchimp.lists.add_list_member(
        LIST, {"email_address": "grace@navy.mil", "status": "subscribed"}
    )
    created = mailchimp.lists.add_list_merge_field(
        LIST, {"tag": "NPS", "name": "NPS score", "type": "number"}
    )
    assert (created["tag"], created["type"]) == ("NPS", "number")
    assert created["merge_id"] == len(MERGE_FIELDS) + 1
    listed = mailchimp.lists.get_list_merge_fields(LIST)
    assert "NPS" in [f["tag"] for f in listed["merge_fields"]]
    assert listed["total_items"] == len(listed["merge_fields"])
    before = mailchimp.lists.get_list_member(LIST, member["id"])
    assert before["merge_fields"]["NPS"] == ""
    assert before["last_changed"] == member["last_changed"], "defining a field changes nobody"

    updated = mailchimp.lists.update_list_member(
        LIST, member["id"], {"merge_fields": {"NPS": "9", "NOSUCH": "x"}}
    )
    assert updated["merge_fields"]["NPS"] == 9
    assert "NOSUCH" not in updated["merge_fields"], "unknown tags are ignored"

    with pytest.raises(ApiClientError) as refused:
        mailchimp.lists.update_list_member(LIST, member["id"], {"merge_fields": {"NPS": "nine"}})
    assert refused.value.status_code == 400
    assert _problem(refused.value)["errors"] == [
        {"field": "NPS", "message": "Please enter a number"}
    ]


def test_a_merge_field_needs_a_name_a_known_type_and_a_free_tag(
    mailchimp: mailchimp_marketing.Client,
) -> None:
    for body, status in (
        ({"tag": "X", "type": "number"}, 400),
        ({"tag": "X", "name": "X", "type": "money"}, 400),
        ({"tag": "FNAME", "name": "First", "type": "text"}, 400),
    ):
        with pytest.raises(ApiClientError) as refused:
            mailchimp.lists.add_list_merge_field(LIST, body)
        assert refused.value.status_code == status
        assert _problem(refused.value)["title"] == "Invalid Resource"
    generated = mailchimp.lists.add_list_merge_field(LIST, {"name": "Plan", "type": "text"})
    assert generated["tag"] == f"MMERGE{generated['merge_id']}"


def test_a_user_field_created_by_api_is_read_back_on_every_user(zendesk: Zenpy) -> None:
    zendesk.user_fields.create(UserField(key="plan_tier", type="text", title="Plan"))
    zendesk.user_fields.create(UserField(key="nps_score", type="decimal", title="NPS"))
    assert sorted(f.key for f in zendesk.user_fields()) == ["nps_score", "plan_tier"]
    user = zendesk.users.create(User(name="Ada Lovelace", email="ada@engine.io"))
    assert user.user_fields == {"plan_tier": None, "nps_score": None}

    user.user_fields = {"nps_score": "9.5", "not_defined": "x"}
    updated = zendesk.users.update(user)
    assert updated.user_fields == {"plan_tier": None, "nps_score": 9.5}
    updated.user_fields = {"plan_tier": "Enterprise"}
    again = zendesk.users.update(updated)
    assert again.user_fields == {"plan_tier": "Enterprise", "nps_score": 9.5}, "keys merge"


def test_a_user_field_value_of_the_wrong_type_is_refused(zendesk: Zenpy) -> None:
    zendesk.user_fields.create(UserField(key="seats", type="integer", title="Seats"))
    user = zendesk.users.create(User(name="Ada Lovelace", email="ada@engine.io"))
    user.user_fields = {"seats": "many"}
    with pytest.raises(APIException) as refused:
        zendesk.users.update(user)
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["error"] == "RecordInvalid"
    with pytest.raises(APIException):
        zendesk.user_fields.create(UserField(key="seats", type="text", title="Again"))
