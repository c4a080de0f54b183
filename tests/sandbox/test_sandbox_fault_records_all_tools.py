"""expired_cursor, deleted_between_reads and merged_between_reads for all nine tools, over real
HTTP: the same switchboard, each vendor's own error shape and deletion/merge semantics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sandbox_testkit import HS_AUTH, MC_AUTH, control, fresh

from sandbox.credentials import (
    SANDBOX_AIRCALL_API_ID,
    SANDBOX_AIRCALL_API_TOKEN,
    SANDBOX_BREVO_KEY,
    SANDBOX_FRESHDESK_API_KEY,
    SANDBOX_INTERCOM_TOKEN,
    SANDBOX_MAILCHIMP_LIST_ID,
    SANDBOX_PIPEDRIVE_TOKEN,
    SANDBOX_SALESFORCE_TOKEN,
    SANDBOX_ZENDESK_API_TOKEN,
    SANDBOX_ZENDESK_EMAIL,
)
from sandbox.server import SandboxServer

Records = dict[str, dict[str, Any]]
SF_API = "/services/data/v62.0"
MEMBERS = f"/lists/{SANDBOX_MAILCHIMP_LIST_ID}/members"


@dataclass(frozen=True)
class Tool:
    """How to read one list of a tool, continue it, and read one record back."""

    name: str
    base: str
    client: dict[str, Any]
    list_path: str
    first: dict[str, str]
    records: Callable[[Any], list[dict[str, Any]]]
    next_page: Callable[[httpx.Response], tuple[str, dict[str, str]]]
    expired: Callable[[httpx.Response], bool]
    one: Callable[[str], str]
    merged: Callable[[httpx.Client, Records, str, str], bool]
    gone: Callable[[httpx.Response], bool] = lambda r: r.status_code == 404
    pick: Callable[[httpx.Client, Records], tuple[str, str]] | None = None
    seed_people: int = 120


def _id(rec: dict[str, Any]) -> str:
    return str(rec.get("id", rec.get("Id")))


# -- per-tool merge evidence ---------------------------------------------------------------


def _hubspot_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    got = c.get(
        f"/crm/v3/objects/contacts/{survivor}", params={"properties": "hs_merged_object_ids"}
    )
    return loser in (got.json()["properties"]["hs_merged_object_ids"] or "").split(";")


def _mailchimp_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"{MEMBERS}/{survivor}").json()
    return bool(now["last_changed"] > before[survivor]["last_changed"])


def _salesforce_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    q = f"SELECT Id, IsDeleted, MasterRecordId FROM Contact WHERE Id = '{loser}'"
    rows = c.get("/queryAll", params={"q": q}).json()["records"]
    return bool(rows[0]["IsDeleted"]) and rows[0]["MasterRecordId"] == survivor


def _pipedrive_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"/api/v2/persons/{survivor}").json()["data"]
    have = {str(e["value"]).lower() for e in now.get("emails", [])}
    return {str(e["value"]).lower() for e in before[loser].get("emails", [])} <= have


def _brevo_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"/contacts/{survivor}").json()
    lists_joined = set(before[loser]["listIds"]) <= set(now["listIds"])
    return lists_joined and now["modifiedAt"] >= before[survivor]["modifiedAt"]


def _zendesk_tickets(c: httpx.Client) -> list[dict[str, Any]]:
    return list(c.get("/tickets", params={"per_page": 100}).json()["tickets"])


def _zendesk_pick(c: httpx.Client, users: Records) -> tuple[str, str]:
    requesters = {str(t["requester_id"]) for t in _zendesk_tickets(c)}
    end_users = [i for i, u in users.items() if u["role"] == "end-user"]
    loser = next(i for i in end_users if i in requesters)
    return loser, next(i for i in end_users if i != loser)


def _zendesk_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    tickets = _zendesk_tickets(c)
    mine = [t for t in tickets if str(t["requester_id"]) == survivor]
    return bool(mine) and not [t for t in tickets if str(t["requester_id"]) == loser]


def _freshdesk_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"/contacts/{survivor}").json()
    email = (before[loser].get("email") or "").lower()
    return not email or email in now["other_emails"]


def _intercom_pick(c: httpx.Client, contacts: Records) -> tuple[str, str]:
    lead = next(i for i, r in contacts.items() if r["role"] == "lead")
    return lead, next(i for i, r in contacts.items() if r["role"] == "user")


def _intercom_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"/contacts/{survivor}").json()
    lead_phone = before[loser].get("phone")
    return now["role"] == "user" and (not lead_phone or bool(now.get("phone")))


def _aircall_merged(c: httpx.Client, before: Records, loser: str, survivor: str) -> bool:
    now = c.get(f"/contacts/{survivor}").json()["contact"]

    def digits(rec: dict[str, Any]) -> set[str]:
        return {"".join(ch for ch in p["value"] if ch.isdigit()) for p in rec["phone_numbers"]}

    return digits(before[loser]) <= digits(now)


def _from_query(key: str) -> Callable[[httpx.Response], tuple[str, dict[str, str]]]:
    """Next page = the same list with one parameter taken from the response's link."""

    def follow(r: httpx.Response) -> tuple[str, dict[str, str]]:
        url = httpx.URL(str(r.request.url))
        return "", {**dict(url.params), key: _NEXT[key](r)}

    return follow


_NEXT: dict[str, Callable[[httpx.Response], str]] = {
    "after": lambda r: r.json()["paging"]["next"]["after"],
    "offset": lambda r: str(int(r.request.url.params.get("offset", "0")) + 5),
    "cursor": lambda r: r.json()["additional_data"]["next_cursor"],
    "page[after]": lambda r: r.json()["meta"]["after_cursor"],
    "page": lambda r: str(int(r.request.url.params.get("page", "1")) + 1),
    "starting_after": lambda r: r.json()["pages"]["next"]["starting_after"],
}


TOOLS = [
    Tool(
        name="hubspot",
        base="",
        client={"headers": HS_AUTH},
        list_path="/crm/v3/objects/contacts",
        first={"limit": "5"},
        records=lambda b: b["results"],
        next_page=_from_query("after"),
        expired=lambda r: r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR",
        one=lambda i: f"/crm/v3/objects/contacts/{i}",
        merged=_hubspot_merged,
    ),
    Tool(
        name="mailchimp",
        base="",
        client={"auth": MC_AUTH},
        list_path=MEMBERS,
        first={"count": "5"},
        records=lambda b: b["members"],
        next_page=_from_query("offset"),
        expired=lambda r: (
            r.status_code == 400
            and r.headers["content-type"].startswith("application/problem+json")
        ),
        one=lambda i: f"{MEMBERS}/{i}",
        merged=_mailchimp_merged,
    ),
    Tool(
        name="salesforce",
        base=SF_API,
        client={
            "headers": {
                "Authorization": f"Bearer {SANDBOX_SALESFORCE_TOKEN}",
                "Sforce-Query-Options": "batchSize=200",
            }
        },
        list_path="/query",
        first={"q": "SELECT Id, Email FROM Contact"},
        records=lambda b: b["records"],
        next_page=lambda r: (r.json()["nextRecordsUrl"].removeprefix(SF_API), {}),
        expired=lambda r: (
            r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
        ),
        one=lambda i: f"/sobjects/Contact/{i}",
        merged=_salesforce_merged,
        seed_people=800,
    ),
    Tool(
        name="pipedrive",
        base="",
        client={"headers": {"x-api-token": SANDBOX_PIPEDRIVE_TOKEN}},
        list_path="/api/v2/persons",
        first={"limit": "5"},
        records=lambda b: b["data"],
        next_page=_from_query("cursor"),
        expired=lambda r: r.status_code == 400 and r.json()["success"] is False,
        one=lambda i: f"/api/v2/persons/{i}",
        merged=_pipedrive_merged,
    ),
    Tool(
        name="brevo",
        base="",
        client={"headers": {"api-key": SANDBOX_BREVO_KEY}},
        list_path="/contacts",
        first={"limit": "5", "sort": "asc"},
        records=lambda b: b["contacts"],
        next_page=_from_query("offset"),
        expired=lambda r: r.status_code == 400 and r.json()["code"] == "invalid_parameter",
        one=lambda i: f"/contacts/{i}",
        merged=_brevo_merged,
    ),
    Tool(
        name="zendesk",
        base="/api/v2",
        client={"auth": (f"{SANDBOX_ZENDESK_EMAIL}/token", SANDBOX_ZENDESK_API_TOKEN)},
        list_path="/users",
        first={"page[size]": "40"},
        records=lambda b: b["users"],
        next_page=_from_query("page[after]"),
        expired=lambda r: (
            r.status_code == 400 and r.json()["error"] == "InvalidPaginationParameter"
        ),
        one=lambda i: f"/users/{i}",
        gone=lambda r: r.status_code == 404 or r.json()["user"]["active"] is False,
        merged=_zendesk_merged,
        pick=_zendesk_pick,
    ),
    Tool(
        name="freshdesk",
        base="/api/v2",
        client={"auth": (SANDBOX_FRESHDESK_API_KEY, "X")},
        list_path="/contacts",
        first={"per_page": "5"},
        records=lambda b: b,
        next_page=_from_query("page"),
        expired=lambda r: r.status_code == 400 and r.json()["errors"][0]["field"] == "page",
        one=lambda i: f"/contacts/{i}",
        gone=lambda r: r.status_code == 404 or r.json()["deleted"] is True,
        merged=_freshdesk_merged,
    ),
    Tool(
        name="intercom",
        base="",
        client={
            "headers": {
                "Authorization": f"Bearer {SANDBOX_INTERCOM_TOKEN}",
                "Intercom-Version": "2.16",
            }
        },
        list_path="/contacts",
        first={"per_page": "40"},
        records=lambda b: b["data"],
        next_page=_from_query("starting_after"),
        expired=lambda r: (
            r.status_code == 400 and r.json()["errors"][0]["code"] == "parameter_invalid"
        ),
        one=lambda i: f"/contacts/{i}",
        # deleted: 404; merged away: 410 with the survivor in Link (the 2.16 spec)
        gone=lambda r: r.status_code in (404, 410),
        merged=_intercom_merged,
        pick=_intercom_pick,
        seed_people=400,
    ),
    Tool(
        name="aircall",
        base="/v1",
        client={"auth": (SANDBOX_AIRCALL_API_ID, SANDBOX_AIRCALL_API_TOKEN)},
        list_path="/contacts",
        first={"per_page": "5"},
        records=lambda b: b["contacts"],
        next_page=_from_query("page"),
        expired=lambda r: r.status_code == 400 and r.json()["error"] == "Invalid parameters",
        one=lambda i: f"/contacts/{i}",
        merged=_aircall_merged,
    ),
]


@pytest.fixture(params=TOOLS, ids=[t.name for t in TOOLS])
def tool(request: pytest.FixtureRequest, sandbox: SandboxServer) -> Iterator[Tool]:
    spec: Tool = request.param
    fresh(sandbox)
    seed = {"people": spec.seed_people, "seed": 11, "tools": [spec.name]}
    control(sandbox, "POST", "/seed", seed)
    yield spec
    control(sandbox, "DELETE", "/faults")


@pytest.fixture
def client(tool: Tool, sandbox: SandboxServer) -> Iterator[httpx.Client]:
    base = sandbox.base_url(tool.name) + tool.base
    with httpx.Client(base_url=base, timeout=10, **tool.client) as c:
        yield c


def _page(tool: Tool, client: httpx.Client) -> tuple[httpx.Response, Records]:
    first = client.get(tool.list_path, params=tool.first)
    assert first.status_code == 200, first.text
    records = {_id(r): r for r in tool.records(first.json())}
    assert len(records) >= 2
    return first, records


def _arm(sandbox: SandboxServer, tool: Tool, kind: str, **extra: Any) -> None:
    fault = {"tool": tool.name, "kind": kind, "method": "GET", **extra}
    control(sandbox, "POST", "/faults", fault)


def test_expired_cursor(tool: Tool, client: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool, "expired_cursor")
    first, _ = _page(tool, client)  # no cursor yet: served
    path, params = tool.next_page(first)
    expired = client.get(path or tool.list_path, params=params)
    assert tool.expired(expired), (expired.status_code, expired.text)
    assert control(sandbox, "GET", "/faults") == []


def test_deleted_between_reads(tool: Tool, client: httpx.Client, sandbox: SandboxServer) -> None:
    _arm(sandbox, tool, "deleted_between_reads", path=f"{tool.list_path}$")
    _, records = _page(tool, client)
    served = next(iter(records))  # the first record of the body is the one deleted
    assert tool.gone(client.get(tool.one(served)))
    again = client.get(tool.list_path, params=tool.first)
    assert served not in {_id(r) for r in tool.records(again.json())}
    assert control(sandbox, "GET", "/faults") == []


def test_merged_between_reads(tool: Tool, client: httpx.Client, sandbox: SandboxServer) -> None:
    _, records = _page(tool, client)
    loser, survivor = tool.pick(client, records) if tool.pick else tuple(list(records)[:2])
    _arm(
        sandbox,
        tool,
        "merged_between_reads",
        path=f"{tool.list_path}$",
        record=loser,
        into=survivor,
    )
    again = client.get(tool.list_path, params=tool.first)
    assert loser in {_id(r) for r in tool.records(again.json())}  # served, then merged
    assert control(sandbox, "GET", "/faults") == []
    assert tool.gone(client.get(tool.one(loser)))
    assert client.get(tool.one(survivor)).status_code == 200
    assert tool.merged(client, records, loser, survivor)
    after = client.get(tool.list_path, params=tool.first)
    assert loser not in {_id(r) for r in tool.records(after.json())}
