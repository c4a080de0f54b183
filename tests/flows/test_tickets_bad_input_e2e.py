"""Bad input around tickets, over real HTTP against the sandbox: a ticket whose requester was
deleted keeps no person and the run goes on; a ticket whose requester was merged away ends on
the survivor's golden person; a helpdesk user with a malformed email is one dead letter with its
reason; a custom field the helpdesk types otherwise is one clear dead letter on the write, the
other writes of the run land."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from flow_testkit import Tools, entity_links, golden_values
from sqlmodel import Session, select

from flows.sync import sync
from mappings.spec import MAPPINGS_DIR
from state.db import engine_from_url
from state.models import DeadLetter

pytestmark = pytest.mark.people(40)


def _tickets(helpdesk: str) -> dict[str, dict[str, Any]]:
    """A helpdesk's ticket id -> its golden ticket's values."""
    goldens = golden_values("ticket")
    links = entity_links("ticket").items()
    return {rid: goldens[uid] for (tool, rid), uid in links if tool == helpdesk}


def _letters(tool: str) -> list[DeadLetter]:
    """The tool's open dead letters about people and tickets (the seeded world's look-alike
    organizations are refused by name: test_sync_e2e's subject)."""
    with Session(engine_from_url()) as session:
        query = select(DeadLetter).where(DeadLetter.tool == tool)
        found = session.exec(query.where(DeadLetter.resolved_at == None))  # noqa: E711
        return [d for d in found if d.stream not in ("organizations", "companies")]


def _conversations(tools: Tools) -> list[dict[str, Any]]:
    page = tools.intercom("GET", "/conversations", params={"per_page": 150})
    assert "next" not in page["pages"], "a small world fits one page"
    return list(page["conversations"])


def _requester(conversation: dict[str, Any]) -> str:
    return str(conversation["contacts"]["contacts"][0]["id"])


@pytest.mark.connected("hubspot", "zendesk", "intercom")
def test_deleted_requesters_leave_their_tickets_without_a_person_and_a_bad_email_is_a_letter(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools.server.state.zendesk, "recent_exclusion_s", 0)
    # An end user deleted in Zendesk (their tickets stay), a contact deleted in Intercom (its
    # conversations stay, naming a contact that is gone).
    seeded = tools.zendesk("GET", "/tickets", params={"per_page": 100})["tickets"]
    gone_user = seeded[0]["requester_id"]
    orphans = {str(t["id"]) for t in seeded if t["requester_id"] == gone_user}
    tools.zendesk("DELETE", f"/users/{gone_user}")
    conversation = _conversations(tools)[0]
    tools.intercom("DELETE", f"/contacts/{_requester(conversation)}")
    # A user whose address Zendesk's own check lets through but is no email (two dots in a
    # row), who wrote a ticket.
    bad = tools.zendesk(
        "POST", "/users", json={"user": {"name": "Ann Lee", "email": "ann..lee@acme.io"}}
    )
    ticket = {"subject": "Hello", "comment": {"body": "Hi"}, "requester_id": bad["user"]["id"]}
    bad_ticket = str(tools.zendesk("POST", "/tickets", json={"ticket": ticket})["ticket"]["id"])

    report = sync().report

    assert report.status == "completed"
    zendesk = _tickets("zendesk")
    for rid in (*orphans, bad_ticket):
        assert rid in zendesk, "the ticket is kept"
        assert not zendesk[rid].get("requester_id"), (rid, zendesk[rid])
    intercom = _tickets("intercom")
    assert not intercom[str(conversation["id"])].get("requester_id")
    # The rest went on: the other tickets have their person.
    for helpdesk, tickets in (("zendesk", zendesk), ("intercom", intercom)):
        assert sum(bool(v.get("requester_id")) for v in tickets.values()) >= 5, helpdesk
    letters = _letters("zendesk")
    assert [(d.stage, d.stream, d.record_id) for d in letters] == [
        ("map", "users", str(bad["user"]["id"]))
    ], [(d.stage, d.record_id, d.reason) for d in letters]
    assert "invalid email syntax" in letters[0].reason
    assert ("zendesk", str(gone_user)) not in entity_links("person")
    assert not _letters("intercom")

    # A linked requester deleted after the run, then an agent answers their ticket: the
    # ticket is read again and keeps no person; the link to the deleted user goes.
    people = entity_links("person")
    later = next(
        t
        for t in seeded
        if t["requester_id"] != gone_user and zendesk[str(t["id"])].get("requester_id")
    )
    assert ("zendesk", str(later["requester_id"])) in people
    tools.zendesk("DELETE", f"/users/{later['requester_id']}")
    tools.zendesk("PUT", f"/tickets/{later['id']}", json={"ticket": {"priority": "high"}})

    second = sync().report

    assert second.status == "completed"
    reread = _tickets("zendesk")[str(later["id"])]
    assert reread["priority"] == "high"
    assert not reread.get("requester_id"), reread
    assert ("zendesk", str(later["requester_id"])) not in entity_links("person")
    assert [d.record_id for d in _letters("zendesk")] == [str(bad["user"]["id"])]


@pytest.mark.connected("hubspot", "zendesk", "intercom")
def test_a_ticket_whose_requester_was_merged_away_ends_on_the_survivors_golden_person(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools.server.state.zendesk, "recent_exclusion_s", 0)
    assert sync().report.status == "completed"
    people = entity_links("person")

    # Zendesk: an end user who asked something merged into another end user.
    tickets = tools.zendesk("GET", "/tickets", params={"per_page": 100})["tickets"]
    asked = {t["requester_id"] for t in tickets}
    users = tools.zendesk("GET", "/users", params={"per_page": 100})["users"]
    linked = [
        u["id"]
        for u in users
        if u["role"] == "end-user" and u["active"] and ("zendesk", str(u["id"])) in people
    ]
    source = next(u for u in linked if u in asked)
    target = next(u for u in linked if u != source)
    moved = {str(t["id"]) for t in tickets if t["requester_id"] == source}
    tools.zendesk("PUT", f"/users/{source}/merge", json={"user": {"id": target}})

    # Intercom: a lead who started a conversation merged into a user.
    contacts = {c["id"]: c for c in tools.intercom("GET", "/contacts")["data"]}
    conversation = next(
        c for c in _conversations(tools) if contacts[_requester(c)]["role"] == "lead"
    )
    lead = _requester(conversation)
    user = next(c["id"] for c in contacts.values() if c["role"] == "user")
    tools.intercom("POST", "/contacts/merge", json={"from": lead, "into": user})

    report = sync().report

    assert report.status == "completed"
    after = entity_links("person")
    survivor = after[("zendesk", str(target))]
    assert after.get(("zendesk", str(source)), survivor) == survivor, "followed to the survivor"
    zendesk = _tickets("zendesk")
    assert moved
    assert {zendesk[rid]["requester_id"] for rid in moved} == {survivor}
    into = after[("intercom", user)]
    assert after.get(("intercom", lead), into) == into, "the lead followed to the user"
    assert _tickets("intercom")[str(conversation["id"])]["requester_id"] == into
    assert not _letters("zendesk")
    assert not _letters("intercom")


def _account_mappings(target: Path) -> Path:
    """The shipped mappings plus a text field nps_score that Zendesk holds as a decimal."""
    target.mkdir()
    for path in MAPPINGS_DIR.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    for tool, line in (
        ("hubspot", {"unified": "nps_score", "tool": "properties.nps_score"}),
        ("zendesk", {"unified": "nps_score", "tool": "user_fields.nps_score"}),
    ):
        path = target / f"{tool}.yaml"
        document = yaml.safe_load(path.read_text())
        if tool == "hubspot":
            document["person"]["custom_fields"] = [
                {"name": "nps_score", "type": "text", "authoritative": "hubspot"}
            ]
        document["person"]["fields"].append(line)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


@pytest.mark.connected("hubspot", "zendesk")
def test_a_custom_field_of_the_wrong_type_in_a_helpdesk_write_is_one_clear_dead_letter(
    tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools.server.state.zendesk, "recent_exclusion_s", 0)
    assert sync().report.status == "completed"
    people = entity_links("person")
    hubspot_of = {uid: rid for (tool, rid), uid in people.items() if tool == "hubspot"}
    both = sorted(
        (rid, hubspot_of[uid])
        for (tool, rid), uid in people.items()
        if tool == "zendesk" and uid in hubspot_of
    )
    (wrong_zd, wrong_hs), (right_zd, right_hs) = both[:2]

    # The admin makes a decimal user field in Zendesk and a text property in HubSpot; sales
    # ops map both to one text field. One person's score is typed as words.
    tools.zendesk(
        "POST",
        "/user_fields",
        json={"user_field": {"key": "nps_score", "type": "decimal", "title": "NPS"}},
    )
    hubspot_property = {
        "name": "nps_score",
        "label": "NPS",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
    }
    tools.hubspot("POST", "/crm/v3/properties/contacts", json=hubspot_property)
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(_account_mappings(tmp_path / "mappings")))
    tools.edit_hubspot(wrong_hs, {"nps_score": "nine"})
    tools.edit_hubspot(right_hs, {"nps_score": "9"})

    report = sync().report

    assert report.status == "completed"
    letters = _letters("zendesk")
    assert [(d.stage, d.record_id) for d in letters] == [("apply", wrong_zd)], [
        (d.record_id, d.reason) for d in letters
    ]
    assert "nps_score" in letters[0].reason, letters[0].reason
    assert report.tool("zendesk", "person").updated == 1, report.tools
    written = tools.zendesk("GET", f"/users/{right_zd}")["user"]["user_fields"]
    assert written["nps_score"] == 9
    refused = tools.zendesk("GET", f"/users/{wrong_zd}")["user"]["user_fields"]
    assert refused.get("nps_score") is None

    again = sync().report
    assert again.status == "completed"
    assert [d.record_id for d in _letters("zendesk")] == [wrong_zd], "one letter, not two"
