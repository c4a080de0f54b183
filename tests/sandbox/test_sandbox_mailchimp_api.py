"""Mailchimp emulation edge cases over raw HTTP: auth, concurrency, maxima, filters, edits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sandbox_testkit import MC_AUTH, control, fresh

from sandbox.credentials import SANDBOX_MAILCHIMP_KEY, SANDBOX_MAILCHIMP_LIST_ID
from sandbox.mailchimp.store import ADMIN_UNSUBSCRIBE, email_problem, subscriber_hash
from sandbox.server import SandboxServer

LIST = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}"


@pytest.fixture
def mc(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    fresh(sandbox)
    with httpx.Client(base_url=sandbox.base_url("mailchimp"), auth=MC_AUTH, timeout=10) as c:
        yield c


def _add(mc: httpx.Client, email: str, status: str = "subscribed") -> dict[str, object]:
    response = mc.post(f"{LIST}/members", json={"email_address": email, "status": status})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("auth", "headers", "title"),
    [
        (None, {}, "API Key Missing"),
        (("u", "0123456789abcdef0123456789abcdef-us1"), {}, "API Key Invalid"),
        (("u", "nope-us6"), {}, "API Key Invalid"),
        (None, {"Authorization": "Bearer wrong-us6"}, "API Key Invalid"),
    ],
)
def test_auth_failures(
    sandbox: SandboxServer, auth: tuple[str, str] | None, headers: dict[str, str], title: str
) -> None:
    response = httpx.get(sandbox.base_url("mailchimp") + LIST, auth=auth, headers=headers)
    assert response.status_code == 401
    problem = response.json()
    assert problem["title"] == title
    assert set(problem) >= {"type", "title", "status", "detail", "instance"}


def test_bearer_key_accepted(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_MAILCHIMP_KEY}"}
    assert httpx.get(sandbox.base_url("mailchimp") + LIST, headers=headers).status_code == 200


def test_eleventh_concurrent_request_is_429(mc: httpx.Client, sandbox: SandboxServer) -> None:
    gate = sandbox.state.limits["mailchimp"]
    held = 0
    try:
        while gate.acquire(SANDBOX_MAILCHIMP_KEY):  # ten requests "in flight"
            held += 1
        assert held == 10
        limited = mc.get(LIST)
        assert limited.status_code == 429
        assert not [h for h in limited.headers if h.lower().startswith("x-ratelimit")]
        gate.release(SANDBOX_MAILCHIMP_KEY)
        held -= 1
        assert mc.get(LIST).status_code == 200
    finally:
        for _ in range(held):
            gate.release(SANDBOX_MAILCHIMP_KEY)


def test_batch_subscribe_max_500(mc: httpx.Client) -> None:
    members = [{"email_address": f"m{i}@corp.io", "status": "subscribed"} for i in range(501)]
    too_many = mc.post(LIST, json={"members": members})
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "members"
    ok = mc.post(LIST, json={"members": members[:500]}).json()
    assert ok["total_created"] == 500


def test_batch_without_update_existing_reports_contact_exists(mc: httpx.Client) -> None:
    _add(mc, "old@corp.io")
    body = mc.post(
        LIST, json={"members": [{"email_address": "OLD@corp.io", "status": "subscribed"}]}
    )
    errors = body.json()["errors"]
    assert errors[0]["error_code"] == "ERROR_CONTACT_EXISTS"


def test_count_is_capped_at_1000(mc: httpx.Client) -> None:
    members = [{"email_address": f"c{i}@corp.io", "status": "subscribed"} for i in range(500)]
    for chunk in (
        members,
        [{**m, "email_address": "x" + m["email_address"]} for m in members],
        [{**m, "email_address": "y" + m["email_address"]} for m in members[:50]],
    ):
        mc.post(LIST, json={"members": chunk})
    page = mc.get(f"{LIST}/members", params={"count": 5000}).json()
    assert page["total_items"] == 1050
    assert len(page["members"]) == 1000


def test_since_last_changed_and_status_filters(mc: httpx.Client, sandbox: SandboxServer) -> None:
    old_clock = sandbox.state.clock
    base = old_clock()
    try:
        sandbox.state.clock = lambda: base - timedelta(days=2)
        _add(mc, "old@corp.io")
        _add(mc, "gone@corp.io", status="unsubscribed")
        sandbox.state.clock = lambda: base
        _add(mc, "new@corp.io")
    finally:
        sandbox.state.clock = old_clock
    since = (base - timedelta(days=1)).isoformat()
    recent = mc.get(f"{LIST}/members", params={"since_last_changed": since}).json()
    assert [m["email_address"] for m in recent["members"]] == ["new@corp.io"]
    assert recent["total_items"] == 1
    unsub = mc.get(f"{LIST}/members", params={"status": "unsubscribed"}).json()
    assert [m["email_address"] for m in unsub["members"]] == ["gone@corp.io"]
    bad = mc.get(f"{LIST}/members", params={"since_last_changed": "yesterday"})
    assert bad.status_code == 400


def test_human_edit_bumps_last_changed(mc: httpx.Client, sandbox: SandboxServer) -> None:
    old_clock = sandbox.state.clock
    base = old_clock()
    try:
        sandbox.state.clock = lambda: base - timedelta(hours=1)
        member = _add(mc, "human@corp.io")
    finally:
        sandbox.state.clock = old_clock
    edited = control(
        sandbox, "PATCH", f"/mailchimp/members/{member['id']}", {"merge_fields": {"FNAME": "Hu"}}
    )
    assert edited["merge_fields"]["FNAME"] == "Hu"
    assert str(edited["last_changed"]) > str(member["last_changed"])
    since = str(member["last_changed"]).replace("+00:00", "Z")
    changed = mc.get(f"{LIST}/members", params={"since_last_changed": since}).json()
    assert [m["email_address"] for m in changed["members"]] == ["human@corp.io"]


def test_email_change_moves_subscriber_hash(mc: httpx.Client) -> None:
    member = _add(mc, "before@corp.io")
    moved = mc.patch(f"{LIST}/members/{member['id']}", json={"email_address": "after@corp.io"})
    assert moved.json()["id"] == subscriber_hash("after@corp.io")
    assert mc.get(f"{LIST}/members/{member['id']}").status_code == 404
    by_contact = mc.get(f"{LIST}/members/{member['contact_id']}")
    assert by_contact.json()["email_address"] == "after@corp.io"


def test_put_with_mismatched_hash_is_rejected(mc: httpx.Client) -> None:
    response = mc.put(
        f"{LIST}/members/{subscriber_hash('a@corp.io')}",
        json={"email_address": "b@corp.io", "status_if_new": "subscribed"},
    )
    assert response.status_code == 400


def test_unknown_list_is_404(mc: httpx.Client) -> None:
    response = mc.get("/lists/nope/members")
    assert response.status_code == 404
    assert response.json()["title"] == "Resource Not Found"


def test_merge_fields_listing(mc: httpx.Client) -> None:
    tags = [f["tag"] for f in mc.get(f"{LIST}/merge-fields").json()["merge_fields"]]
    assert tags == [
        "FNAME",
        "LNAME",
        "PHONE",
        "COMPANY",
        "JOBTITLE",
        "LIFECYCLE",
        "CITY",
        "COUNTRY",
    ]


@pytest.mark.parametrize(
    ("email", "rejected"),
    [
        ("jane@example.com", True),
        ("jane@test.com", True),
        ("jane@@corp.io", True),
        ("jane corp.io", True),
        ("jane@corp", True),
        ("Jane.Doe@Corp.io", False),
        ("o'brien+news@mail.co.uk", False),
    ],
)
def test_email_problem(email: str, rejected: bool) -> None:
    assert (email_problem(email) is not None) is rejected


def test_unsubscribed_members_carry_their_reason(mc: httpx.Client, sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/seed", {"people": 200, "seed": 3, "tools": ["mailchimp"]})
    seeded = mc.get(f"{LIST}/members", params={"status": "unsubscribed", "count": 1000}).json()
    assert seeded["members"]
    assert all(m["unsubscribe_reason"] for m in seeded["members"])
    subscribed = mc.get(f"{LIST}/members", params={"status": "subscribed"}).json()["members"]
    assert all("unsubscribe_reason" not in m for m in subscribed)

    member = _add(mc, "leaving@corp.io")
    path = f"{LIST}/members/{member['id']}"
    left = mc.patch(path, json={"status": "unsubscribed"}).json()
    assert left["unsubscribe_reason"] == ADMIN_UNSUBSCRIBE
    back = mc.patch(path, json={"status": "subscribed"}).json()
    assert "unsubscribe_reason" not in back
