"""Company matching through the sync flow against the sandbox: the seeded world's duplicate
companies end as one golden record each, look-alike organizations (same or near-same name,
another domain and country) stay apart, and a converged run writes nothing."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from flow_testkit import Tools
from sqlmodel import Session, select

from flows.sync import sync
from mappings.survivorship import load_rules
from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.world import generate_world
from state.db import engine_from_url
from state.models import GoldenRecord, Link, MatchDecision, ReviewItem

SEED_PEOPLE, SEED = 120, 7  # what tests/flows/conftest.py seeds
TOOLS = ("hubspot", "zendesk")
pytestmark = pytest.mark.connected(*TOOLS)


def _company_links() -> dict[str, str]:
    with Session(engine_from_url()) as session:
        rows = session.exec(select(Link).where(Link.entity == "company"))
        return {f"{x.tool}:{x.record_id}": x.unified_id for x in rows}


def _company_truth() -> tuple[dict[str, str], dict[str, str]]:
    """(record key -> org id, org id -> the org it looks like) of the seeded companies."""
    world = generate_world(SEED_PEOPLE, SEED, tools=TOOLS)
    streams = {"hubspot": "companies", "zendesk": "organizations"}
    truth = {
        f"{tool}:{key.split(':', 2)[2]}": org
        for key, org in world.truth.items()
        for tool, stream in streams.items()
        if key.startswith(f"{tool}:{stream}:")
    }
    lookalike = {o.id: o.lookalike_of for o in world.people.orgs if o.lookalike_of}
    return truth, lookalike


def _clusters(links: dict[str, str], truth: dict[str, str]) -> tuple[dict, dict]:
    goldens_of: dict[str, set[str]] = defaultdict(set)
    orgs_of: dict[str, set[str]] = defaultdict(set)
    for key, org in truth.items():
        if key in links:
            goldens_of[org].add(links[key])
            orgs_of[links[key]].add(org)
    return goldens_of, orgs_of


def test_duplicate_companies_merge_and_look_alikes_stay_apart(tools: Tools) -> None:
    first = sync(tools=list(TOOLS)).report
    assert first.status == "completed"
    assert first.tool("hubspot", "company").read > 0
    assert first.tool("zendesk", "company").read > 0

    links = _company_links()
    truth, lookalike = _company_truth()
    assert set(truth) <= set(links), "a seeded company was not linked"
    goldens_of, orgs_of = _clusters(links, truth)
    wrong = {g: orgs for g, orgs in orgs_of.items() if len(orgs) > 1}
    assert not wrong, f"distinct organizations merged: {wrong}"
    assert lookalike, "the seeded world has look-alike organizations"
    for org, other in lookalike.items():
        if goldens_of.get(org) and goldens_of.get(other):
            assert not goldens_of[org] & goldens_of[other], f"look-alikes {org}/{other} merged"
    duplicated = [org for org in goldens_of if sum(1 for o in truth.values() if o == org) > 1]
    assert duplicated, "the seeded world has duplicate companies"
    split = {org: g for org, g in goldens_of.items() if len(g) > 1}
    # A company left apart must at least be queued for review: e.g. a Zendesk organization
    # with no domain whose name alone agrees (look-alikes share names) is a human's call.
    with Session(engine_from_url()) as session:
        queued = [
            (r.left_key, r.right_key)
            for r in session.exec(select(ReviewItem).where(ReviewItem.entity == "company"))
        ]
    for org, uids in split.items():
        keys = {k for k, o in truth.items() if o == org} | {f"unified:{u}" for u in uids}
        assert any(a in keys and b in keys for a, b in queued), f"{org} apart, not in review"
    assert len(split) <= 0.1 * len(goldens_of), split

    with Session(engine_from_url()) as session:
        decisions = list(
            session.exec(select(MatchDecision).where(MatchDecision.entity == "company"))
        )
        goldens = list(session.exec(select(GoldenRecord).where(GoldenRecord.entity == "company")))
    assert len(goldens) == len(set().union(*goldens_of.values()))
    merged = [d for d in decisions if d.rule not in ("link", "new")]
    assert merged, "no company was merged"
    assert all(d.evidence.get("rule") for d in merged), "a merge without evidence"
    assert all(g.values.get("name") for g in goldens)

    second = sync(tools=list(TOOLS)).report
    assert second.tool("hubspot", "company").written == 0, second.rows()
    assert second.written == 0, second.rows()


def test_duplicate_companies_are_merged_in_hubspot_when_asked(
    tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.merges

    person_rules = load_rules("person")
    company_rules = load_rules("company").model_copy(update={"vendor_merge": ("hubspot",)})
    monkeypatch.setattr(
        flows.merges,
        "load_rules",
        lambda entity="person": company_rules if entity == "company" else person_rules,
    )

    sync(tools=list(TOOLS))

    merges = [r for r in tools.requests("hubspot") if r["path"].endswith("/companies/merge")]
    assert merges, "the seeded world has duplicate HubSpot companies"
    assert all(r["status"] == 200 for r in merges)
    assert not [r for r in tools.requests("hubspot") if r["path"].endswith("/contacts/merge")]
    by_golden: dict[str, list[str]] = defaultdict(list)
    for key, uid in _company_links().items():
        if key.startswith("hubspot:"):
            by_golden[uid].append(key)
    assert all(len(keys) == 1 for keys in by_golden.values()), "a duplicate is still linked"
    alive = {
        str(c["id"])
        for c in httpx.get(
            f"{tools.server.base_url('hubspot')}/crm/v3/objects/companies",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {SANDBOX_HUBSPOT_TOKEN}"},
        )
        .raise_for_status()
        .json()["results"]
    }
    linked = {key.partition(":")[2] for key in _company_links() if key.startswith("hubspot:")}
    assert linked <= alive, "a link points at a merged-away company"

    settled = sync(tools=list(TOOLS))
    assert settled.report.written == 0, settled.plan.writes
