"""The official mailchimp-marketing client works against the sandbox with only the host changed."""

from __future__ import annotations

import json

import mailchimp_marketing
import pytest
from mailchimp_marketing.api_client import ApiClientError
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_MAILCHIMP_KEY, SANDBOX_MAILCHIMP_LIST_ID
from sandbox.mailchimp.merge_fields import MERGE_FIELDS
from sandbox.mailchimp.store import subscriber_hash
from sandbox.server import SandboxServer

LIST = SANDBOX_MAILCHIMP_LIST_ID


@pytest.fixture
def client(sandbox: SandboxServer) -> mailchimp_marketing.Client:
    fresh(sandbox)
    mc = mailchimp_marketing.Client()
    mc.set_config({"api_key": SANDBOX_MAILCHIMP_KEY, "server": "us6"})
    mc.api_client.host = sandbox.base_url("mailchimp")
    return mc


def _problem(err: ApiClientError) -> dict[str, object]:
    text = err.text
    return json.loads(text) if isinstance(text, str) else dict(text)


def test_get_list(client: mailchimp_marketing.Client) -> None:
    info = client.lists.get_list(LIST)
    assert info["id"] == LIST
    assert "member_count" in info["stats"]


def test_add_get_update_member(client: mailchimp_marketing.Client) -> None:
    added = client.lists.add_list_member(
        LIST,
        {
            "email_address": "Grace.Hopper@Navy.mil",
            "status": "subscribed",
            "merge_fields": {"FNAME": "Grace"},
        },
    )
    assert added["id"] == subscriber_hash("grace.hopper@navy.mil")
    assert added["email_address"] == "Grace.Hopper@Navy.mil"
    assert added["merge_fields"]["FNAME"] == "Grace"
    assert added["last_changed"].endswith("+00:00")

    by_hash = client.lists.get_list_member(LIST, added["id"])
    by_email = client.lists.get_list_member(LIST, "grace.hopper@navy.mil")
    assert by_hash["id"] == by_email["id"] == added["id"]

    updated = client.lists.update_list_member(
        LIST, added["id"], {"merge_fields": {"LNAME": "Hopper"}}
    )
    assert updated["merge_fields"] == {**added["merge_fields"], "LNAME": "Hopper"}


def test_add_existing_member_is_member_exists(client: mailchimp_marketing.Client) -> None:
    body = {"email_address": "x@corp.io", "status": "subscribed"}
    client.lists.add_list_member(LIST, body)
    with pytest.raises(ApiClientError) as info:
        client.lists.add_list_member(LIST, body)
    assert info.value.status_code == 400
    assert _problem(info.value)["title"] == "Member Exists"


def test_fake_email_is_rejected(client: mailchimp_marketing.Client) -> None:
    with pytest.raises(ApiClientError) as info:
        client.lists.add_list_member(
            LIST, {"email_address": "bob@example.com", "status": "subscribed"}
        )
    problem = _problem(info.value)
    assert problem["title"] == "Invalid Resource"
    assert "looks fake or invalid" in str(problem["detail"])


def test_set_list_member_upserts(client: mailchimp_marketing.Client) -> None:
    key = subscriber_hash("new@corp.io")
    created = client.lists.set_list_member(
        LIST, key, {"email_address": "new@corp.io", "status_if_new": "pending"}
    )
    assert created["status"] == "pending"
    again = client.lists.set_list_member(
        LIST,
        key,
        {
            "email_address": "new@corp.io",
            "status_if_new": "subscribed",
            "merge_fields": {"CITY": "Oslo"},
        },
    )
    assert again["status"] == "pending"  # status_if_new only applies on create
    assert again["merge_fields"]["CITY"] == "Oslo"
    assert again["contact_id"] == created["contact_id"]


def test_members_paging_and_since_last_changed(
    client: mailchimp_marketing.Client, sandbox: SandboxServer
) -> None:
    for i in range(5):
        client.lists.add_list_member(
            LIST, {"email_address": f"m{i}@corp.io", "status": "subscribed"}
        )
    page = client.lists.get_list_members_info(LIST, count=2, offset=2)
    assert page["total_items"] == 5
    assert [m["email_address"] for m in page["members"]] == ["m2@corp.io", "m3@corp.io"]

    newest = client.lists.update_list_member(LIST, "m0@corp.io", {"merge_fields": {"FNAME": "Z"}})
    since = client.lists.get_list_members_info(
        LIST, since_last_changed=newest["last_changed"], count=1000
    )
    assert "m0@corp.io" in [m["email_address"] for m in since["members"]]
    assert all(m["last_changed"] >= newest["last_changed"] for m in since["members"])

    trimmed = client.lists.get_list_members_info(
        LIST, fields=["members.email_address", "total_items"], count=1
    )
    assert set(trimmed) == {"members", "total_items"}
    assert set(trimmed["members"][0]) == {"email_address"}


def test_batch_list_members(client: mailchimp_marketing.Client) -> None:
    client.lists.add_list_member(LIST, {"email_address": "old@corp.io", "status": "subscribed"})
    result = client.lists.batch_list_members(
        LIST,
        {
            "members": [
                {"email_address": "old@corp.io", "status": "unsubscribed"},
                {"email_address": "fresh@corp.io", "status": "subscribed"},
                {"email_address": "nobody@test.com", "status": "subscribed"},
            ],
            "update_existing": True,
        },
    )
    assert result["total_created"] == 1
    assert result["total_updated"] == 1
    assert result["error_count"] == 1
    assert result["errors"][0]["email_address"] == "nobody@test.com"
    assert result["updated_members"][0]["status"] == "unsubscribed"


def test_a_merge_field_created_by_api_is_listed_and_holds_typed_values(
    client: mailchimp_marketing.Client,
) -> None:
    member = client.lists.add_list_member(
        LIST, {"email_address": "grace@navy.mil", "status": "subscribed"}
    )
    created = client.lists.add_list_merge_field(
        LIST, {"tag": "NPS", "name": "NPS score", "type": "number"}
    )
    assert (created["tag"], created["type"]) == ("NPS", "number")
    assert created["merge_id"] == len(MERGE_FIELDS) + 1
    listed = client.lists.get_list_merge_fields(LIST)
    assert "NPS" in [f["tag"] for f in listed["merge_fields"]]
    assert listed["total_items"] == len(listed["merge_fields"])
    before = client.lists.get_list_member(LIST, member["id"])
    assert before["merge_fields"]["NPS"] == ""
    assert before["last_changed"] == member["last_changed"], "defining a field changes nobody"

    updated = client.lists.update_list_member(
        LIST, member["id"], {"merge_fields": {"NPS": "9", "NOSUCH": "x"}}
    )
    assert updated["merge_fields"]["NPS"] == 9
    assert "NOSUCH" not in updated["merge_fields"], "unknown tags are ignored"

    with pytest.raises(ApiClientError) as refused:
        client.lists.update_list_member(LIST, member["id"], {"merge_fields": {"NPS": "nine"}})
    assert refused.value.status_code == 400
    assert _problem(refused.value)["errors"] == [
        {"field": "NPS", "message": "Please enter a number"}
    ]


def test_a_merge_field_needs_a_name_a_known_type_and_a_free_tag(
    client: mailchimp_marketing.Client,
) -> None:
    for body, status in (
        ({"tag": "X", "type": "number"}, 400),
        ({"tag": "X", "name": "X", "type": "money"}, 400),
        ({"tag": "FNAME", "name": "First", "type": "text"}, 400),
    ):
        with pytest.raises(ApiClientError) as refused:
            client.lists.add_list_merge_field(LIST, body)
        assert refused.value.status_code == status
        assert _problem(refused.value)["title"] == "Invalid Resource"
    generated = client.lists.add_list_merge_field(LIST, {"name": "Plan", "type": "text"})
    assert generated["tag"] == f"MMERGE{generated['merge_id']}"
