"""Identity resolution through the sync flow against the sandbox: seeded duplicates end as one
golden record, same-name look-alikes stay apart, a review rejection splits for good."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from typing import Any

import httpx
import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.review import accept, list_reviews, split
from flows.sync import sync
from mappings.errors import MappingError
from mappings.spec import load_mapping, to_unified
from mappings.survivorship import load_rules
from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.world import generate_world
from state.db import engine_from_url
from state.models import GoldenRecord, Link, MatchDecision, ReviewItem

# Written about the first three tools: the five-tool world is test_crm_hub_e2e's.
pytestmark = pytest.mark.connected("hubspot", "mailchimp", "zendesk")

SEED_PEOPLE, SEED = 120, 7  # what tests/flows/conftest.py seeds


def _links() -> dict[str, str]:
    with Session(engine_from_url()) as session:
        return {
            f"{x.tool}:{x.record_id}": x.unified_id
            for x in session.exec(select(Link).where(Link.entity == "person"))
        }


def _seeded_records() -> list[tuple[str, str, dict[str, str | None]]]:
    """(record key, person id, mapped values) of the seeded HubSpot and Mailchimp records."""
    world = generate_world(SEED_PEOPLE, SEED, tools=("hubspot", "mailchimp"))
    out: list[tuple[str, str, dict[str, str | None]]] = []
    for tool in ("hubspot", "mailchimp"):
        mapping = load_mapping(tool)
        for raw in world.seeds[tool].streams[mapping.stream]:
            shaped = {"id": raw["hs_object_id"], "properties": raw} if tool == "hubspot" else raw
            try:
                record = to_unified(mapping, shaped)
            except MappingError:
                continue
            if record.values.get("email"):
                person = world.truth[f"{tool}:{mapping.stream}:{record.record_id}"]
                out.append((record.key, person, dict(record.values)))
    return out


def _seeded_truth() -> dict[str, str]:
    """Record key -> person id of the seeded HubSpot and Mailchimp records (valid ones)."""
    return {key: person for key, person, _ in _seeded_records()}


def _seeded_values() -> dict[str, dict[str, str | None]]:
    return {key: values for key, _, values in _seeded_records()}


def test_seeded_duplicates_become_one_golden_and_look_alikes_stay_apart(tools: Tools) -> None:
    alike_a = tools.create_hubspot(
        {"email": "maria.garcia@acme-look.io", "firstname": "Maria", "lastname": "Garcia",
         "phone": "+1 415 555 0142", "city": "Austin", "company": "Acme Look"}
    )  # fmt: skip
    alike_b = tools.create_hubspot(
        {"email": "mgarcia@globex-look.com", "firstname": "Maria", "lastname": "Garcia",
         "phone": "+44 20 7946 0321", "city": "London", "company": "Globex Look"}
    )  # fmt: skip

    sync()

    links = _links()
    with Session(engine_from_url()) as s_:
        ev = [
            d.evidence
            for d in s_.exec(select(MatchDecision).where(MatchDecision.entity == "person"))
            if d.record_id in (alike_a, alike_b)
        ]
    assert links[f"hubspot:{alike_a}"] != links[f"hubspot:{alike_b}"], ev
    truth = _seeded_truth()
    seeded = {k: v for k, v in truth.items() if k in links}
    assert len(seeded) > SEED_PEOPLE  # both tools were read
    goldens_of: dict[str, set[str]] = defaultdict(set)
    people_of: dict[str, set[str]] = defaultdict(set)
    for key, person in seeded.items():
        goldens_of[person].add(links[key])
        people_of[links[key]].add(person)
    merged_wrongly = {g: p for g, p in people_of.items() if len(p) > 1}
    assert not merged_wrongly, f"distinct people merged: {merged_wrongly}"
    split_people = {p: g for p, g in goldens_of.items() if len(g) > 1}
    # Every duplicate the seed made with a shared key (email or phone) is found; the rest
    # (another address, no phone: only name and company agree) are review candidates.
    values = _seeded_values()
    for person in split_people:
        keys = [k for k, p in seeded.items() if p == person]
        emails = {values[k].get("email") for k in keys}
        phones = [values[k].get("phone") for k in keys if values[k].get("phone")]
        assert len(emails) == len(keys), f"{person}: a shared email was not merged"
        assert len(set(phones)) == len(phones), f"{person}: a shared phone was not merged"
    assert len(split_people) <= 0.10 * len(goldens_of), split_people
    with Session(engine_from_url()) as session:
        queued = {
            frozenset((r.left_key, r.right_key))
            for r in session.exec(select(ReviewItem).where(ReviewItem.entity == "person"))
        }
    reviewed = [
        p
        for p in split_people
        if any(
            frozenset(pair) in queued
            for pair in itertools.combinations([k for k, q in seeded.items() if q == p], 2)
        )
    ]
    assert len(reviewed) >= len(split_people) // 2, (split_people, reviewed)
    with Session(engine_from_url()) as session:
        decisions = list(
            session.exec(select(MatchDecision).where(MatchDecision.entity == "person"))
        )
    assert decisions
    assert all("rule" in d.evidence for d in decisions)
    probabilistic = [d for d in decisions if d.rule in ("email", "probabilistic")]
    assert all(d.evidence["comparisons"] and d.score is not None for d in probabilistic)


def test_a_split_is_clean_and_respected_by_later_runs(tools: Tools) -> None:
    sync()
    links = _links()
    by_golden: dict[str, list[str]] = defaultdict(list)
    for key, uid in links.items():
        by_golden[uid].append(key)
    uid, members = next((u, sorted(m)) for u, m in sorted(by_golden.items()) if len(m) >= 2)
    record = members[1]

    touched = split(engine_from_url(), record)

    after = _links()
    assert after[record] != uid
    assert after[members[0]] == uid
    assert set(touched) == {uid, after[record]}
    tool, _, record_id = record.partition(":")
    if tool == "hubspot":
        tools.edit_hubspot(record_id, {"jobtitle": "Head of Review"})
        sync()
        again = _links()
        assert again[record] != again[members[0]], "a rejected pair merged again"


@pytest.mark.people(60)
def test_a_review_decision_reaches_the_tools_on_the_next_incremental_run(tools: Tools) -> None:
    sync()
    engine = engine_from_url()
    pending = list_reviews(engine, "person")
    assert pending, "the seeded world leaves pairs to review"
    survivor = accept(engine, pending[0].id or 0)

    after = sync()
    assert after.report.status == "completed"
    planned = {w.unified_id for w in after.plan.writes}
    assert survivor in planned, "the accepted pair was not planned by the incremental run"
    assert after.report.written > 0
    settled = sync().report
    assert settled.written == 0, settled.tools


# --- vendor-side merges ------------------------------------------------------------------


def _hubspot_merge(tools: Tools, primary: str, merged: str) -> dict[str, Any]:
    response = httpx.post(
        f"{tools.server.base_url('hubspot')}/crm/v3/objects/contacts/merge",
        json={"primaryObjectId": primary, "objectIdToMerge": merged},
        headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
    ).raise_for_status()
    return dict(response.json())


def _hubspot_by_golden() -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for key, uid in _links().items():
        tool, _, record_id = key.partition(":")
        if tool == "hubspot":
            out[uid].append(record_id)
    return {uid: sorted(ids, key=int) for uid, ids in out.items()}


def _provenance_names(record_id: str) -> bool:
    with Session(engine_from_url()) as session:
        rows = list(session.exec(select(GoldenRecord).where(GoldenRecord.entity == "person")))
    for row in rows:
        for source in row.provenance.values():
            if source["tool"] == "hubspot" and source["record_id"] == record_id:
                return True
            if f"hubspot:{record_id}" in (source.get("votes") or {}):
                return True
    return False


def _goldens() -> set[str]:
    with Session(engine_from_url()) as session:
        return {
            g.unified_id
            for g in session.exec(select(GoldenRecord).where(GoldenRecord.entity == "person"))
        }


def test_merges_made_in_hubspot_are_followed(tools: Tools) -> None:
    sync()
    by_golden = _hubspot_by_golden()
    links = _links()
    # Two contacts revsync already holds as one person (an in-tool duplicate), and two
    # contacts of different people that a human decides are one (the vendor's word wins).
    dup_uid, (dup_keep, dup_gone) = next(
        (uid, ids[:2]) for uid, ids in sorted(by_golden.items()) if len(ids) >= 2
    )
    mailchimp_of = {uid for key, uid in links.items() if key.startswith("mailchimp:")}
    singles = [
        (uid, ids[0])
        for uid, ids in sorted(by_golden.items())
        if len(ids) == 1 and uid in mailchimp_of
    ]
    (keep_uid, keep), (gone_uid, gone) = singles[0], singles[1]
    gone_mailchimp = sorted(k for k, u in links.items() if u == gone_uid and "mailchimp" in k)
    contacts, members = len(tools.hubspot_contacts()), len(tools.mailchimp_members())
    _hubspot_merge(tools, dup_keep, dup_gone)
    merged = _hubspot_merge(tools, keep, gone)
    assert gone in merged["properties"]["hs_merged_object_ids"].split(";")

    sync()

    after = _links()
    assert f"hubspot:{dup_gone}" not in after
    assert f"hubspot:{gone}" not in after
    assert after[f"hubspot:{dup_keep}"] == dup_uid
    assert after[f"hubspot:{keep}"] == keep_uid
    assert all(after[k] == keep_uid for k in gone_mailchimp), "the joined person's links moved"
    assert gone_uid not in _goldens()
    assert [u for u in _hubspot_by_golden().values() if keep in u] == [[keep]]
    assert not _provenance_names(dup_gone)
    assert not _provenance_names(gone)
    assert len(tools.hubspot_contacts()) == contacts - 2
    assert len(tools.mailchimp_members()) == members

    settled = sync()
    assert settled.report.written == 0, settled.plan.writes
    assert _links() == after


def _duplicates_artifact() -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sync-duplicates"]))
        )
    latest = max(found, key=lambda a: a.created or 0)
    data = latest.data
    return list(json.loads(data) if isinstance(data, str) else data)  # type: ignore[arg-type]


def _merge_requests(tools: Tools) -> list[dict[str, Any]]:
    return [r for r in tools.requests("hubspot") if r["path"].endswith("/contacts/merge")]


def test_in_tool_duplicates_are_reported_and_not_merged_by_default(tools: Tools) -> None:
    contacts = {c["id"] for c in tools.hubspot_contacts()}

    sync()

    groups = {uid: ids for uid, ids in _hubspot_by_golden().items() if len(ids) > 1}
    assert groups, "the seeded world has HubSpot duplicates"
    rows = _duplicates_artifact()
    reported = {
        row["unified_id"]: row
        for row in rows
        if row["tool"] == "hubspot" and row["entity"] == "person"
    }
    assert set(reported) == set(groups)
    for uid, ids in groups.items():
        assert reported[uid]["records"] == ", ".join(ids)
        assert reported[uid]["action"] == "reported"
        assert all(i in reported[uid]["evidence"] for i in ids)
    assert not _merge_requests(tools)
    assert contacts <= {c["id"] for c in tools.hubspot_contacts()}


def test_in_tool_duplicates_are_merged_through_the_api_when_asked(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.merges

    rules = load_rules().model_copy(update={"vendor_merge": ("hubspot",)})
    monkeypatch.setattr(flows.merges, "load_rules", lambda entity="person": rules)
    contacts = {c["id"] for c in tools.hubspot_contacts()}

    sync()

    merges = _merge_requests(tools)
    assert merges
    assert all(r["status"] == 200 for r in merges)
    assert all(len(ids) == 1 for ids in _hubspot_by_golden().values())
    now = {c["id"] for c in tools.hubspot_contacts()}
    gone = contacts - now
    assert len(gone) == len(merges)
    hubspot_rows = [row for row in _duplicates_artifact() if row["tool"] == "hubspot"]
    assert {row["action"] for row in hubspot_rows} == {"merged in the tool"}
    linked = {k.partition(":")[2] for k in _links() if k.startswith("hubspot:")}
    assert linked <= now, "a link points at a merged-away contact"
    assert not any(_provenance_names(g) for g in gone)

    settled = sync()
    assert settled.report.written == 0, settled.plan.writes
    assert len(_merge_requests(tools)) == len(merges)


@pytest.mark.people(40)
def test_a_contact_archived_in_hubspot_is_unlinked_and_not_created_again(tools: Tools) -> None:
    sync()
    links = _links()
    mailchimp_of = {uid: key for key, uid in links.items() if key.startswith("mailchimp:")}
    contact, uid = next(
        (key.partition(":")[2], uid)
        for key, uid in sorted(links.items())
        if key.startswith("hubspot:") and uid in mailchimp_of
    )
    httpx.delete(
        f"{tools.server.base_url('hubspot')}/crm/v3/objects/contacts/{contact}",
        headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
    ).raise_for_status()

    # Archives are read by full runs (the nightly deployment), not by every incremental one.
    after = sync(mode="full")
    assert after.report.status == "completed"
    now = _links()
    assert f"hubspot:{contact}" not in now
    assert now[mailchimp_of[uid]] == uid, "the golden lives on in the other tools"
    assert not _provenance_names(contact)
    with Session(engine_from_url()) as session:
        rules = {
            d.rule
            for d in session.exec(select(MatchDecision).where(MatchDecision.record_id == contact))
        }
    assert "deleted_in_tool" in rules
    held = [s for s in after.plan.skipped if (s.tool, s.unified_id) == ("hubspot", uid)]
    assert held, "the archived contact would be created again"
    assert "deleted in hubspot" in held[0].reason
    assert not [w for w in after.plan.writes if (w.tool, w.unified_id) == ("hubspot", uid)]
    settled = sync().report
    assert settled.written == 0, settled.tools
