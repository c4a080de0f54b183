"""The world generator: deterministic, pure, and messy in the documented ways."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.mailchimp.store import email_problem, subscriber_hash
from sandbox.seed import SEED_ANCHOR, World, generate_world
from sandbox.timefmt import parse_instant_ms


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(3000, 42)


def _by_person(world: World) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    hs: dict[str, list[dict]] = defaultdict(list)
    mc: dict[str, list[dict]] = defaultdict(list)
    for c in world.hubspot_contacts:
        hs[world.truth[f"hubspot:{c['hs_object_id']}"]].append(c)
    for m in world.mailchimp_members:
        mc[world.truth[f"mailchimp:{m['id']}"]].append(m)
    return hs, mc


def test_deterministic_for_a_seed() -> None:
    assert generate_world(200, 7) == generate_world(200, 7)
    assert generate_world(200, 7) != generate_world(200, 8)


def test_truth_covers_every_record(world: World) -> None:
    keys = {f"hubspot:{c['hs_object_id']}" for c in world.hubspot_contacts}
    keys |= {f"mailchimp:{m['id']}" for m in world.mailchimp_members}
    assert set(world.truth) == keys
    assert set(world.truth.values()) <= {p["id"] for p in world.people}


def test_population_overlap(world: World) -> None:
    hs, mc = _by_person(world)
    n = len(world.people)
    both = len(hs.keys() & mc.keys()) / n
    only_hs = len(hs.keys() - mc.keys()) / n
    only_mc = len(mc.keys() - hs.keys()) / n
    assert 0.50 < both < 0.60
    assert 0.20 < only_hs < 0.30
    assert 0.16 < only_mc < 0.24


def test_shared_people_differ_in_email_case_or_whitespace(world: World) -> None:
    hs, mc = _by_person(world)
    people = {p["id"]: p for p in world.people}
    differing = personal_vs_work = 0
    shared = hs.keys() & mc.keys()
    for pid in shared:
        hs_email, mc_email = hs[pid][0]["email"], mc[pid][0]["email_address"]
        if email_problem(hs_email):
            continue  # a typo in the CRM: the person is still one person
        if hs_email.strip().lower() != mc_email.lower():
            # The only other difference allowed: work address in one tool, personal in the other.
            addresses = {people[pid]["email"], people[pid]["personal_email"]}
            assert {hs_email.strip().lower(), mc_email.lower()} == addresses
            personal_vs_work += 1
            continue
        differing += hs_email != mc_email
    assert differing > 0.2 * len(shared)
    assert 0.1 * len(shared) < personal_vs_work < 0.35 * len(shared)


def test_phone_formats_vary_for_the_same_number(world: World) -> None:
    hs, mc = _by_person(world)
    same_digits_other_format = 0
    formats = set()
    raw: set[str] = set()
    for pid in hs.keys() & mc.keys():
        a, b = hs[pid][0]["phone"], mc[pid][0]["merge_fields"]["PHONE"]
        if a:
            raw.add(a)
            formats.add(re.sub(r"\d", "9", a))
        if a and b and a != b and re.sub(r"\D", "", a)[-9:] == re.sub(r"\D", "", b)[-9:]:
            same_digits_other_format += 1
    assert same_digits_other_format > 50
    assert len(formats) >= 8
    assert any(p.startswith(("+44", "+49", "0044")) for p in raw)


def test_conflicting_names_with_distinct_timestamps(world: World) -> None:
    hs, mc = _by_person(world)
    nicknames = sloppy = 0
    for pid in hs.keys() & mc.keys():
        a, b = hs[pid][0]["firstname"], mc[pid][0]["merge_fields"]["FNAME"]
        if a == b:
            continue
        if a.strip().lower() == b.strip().lower():
            sloppy += 1
        else:
            nicknames += 1
        assert parse_instant_ms(hs[pid][0]["lastmodifieddate"]) != parse_instant_ms(
            mc[pid][0]["last_changed"]
        )
    assert nicknames > 20
    assert sloppy > 20


def test_hubspot_duplicates_share_phone_and_name(world: World) -> None:
    hs, _ = _by_person(world)
    dupes = [records for records in hs.values() if len(records) > 1]
    share = len(dupes) / len(hs)
    assert 0.005 < share < 0.04
    for first, second in dupes:
        assert first["email"].strip().lower() != second["email"].strip().lower()
        assert first["lastname"].strip().lower() == second["lastname"].strip().lower()
        assert (
            re.sub(r"\D", "", first["phone"] or second["phone"])[-9:]
            == re.sub(r"\D", "", second["phone"])[-9:]
        )


def test_invalid_emails_only_in_hubspot(world: World) -> None:
    invalid = [c for c in world.hubspot_contacts if email_problem(c["email"])]
    assert 0.003 < len(invalid) / len(world.hubspot_contacts) < 0.03
    assert any("example.com" in c["email"] or "test.com" in c["email"] for c in invalid)
    assert all(email_problem(m["email_address"]) is None for m in world.mailchimp_members)
    assert all(m["id"] == subscriber_hash(m["email_address"]) for m in world.mailchimp_members)


def test_timestamps_in_the_past_year(world: World) -> None:
    low = SEED_ANCHOR - timedelta(days=365)
    for c in world.hubspot_contacts:
        created = parse_instant_ms(c["createdate"])
        modified = parse_instant_ms(c["lastmodifieddate"])
        assert parse_instant_ms(low.isoformat()) <= created <= modified
        assert modified < parse_instant_ms(SEED_ANCHOR.isoformat())
    for m in world.mailchimp_members:
        assert m["last_changed"].endswith("+00:00")
        assert m["timestamp_signup"] <= m["last_changed"]


def test_now_moves_the_window() -> None:
    now = datetime(2030, 6, 1, tzinfo=UTC)
    world = generate_world(50, 1, now=now)
    newest = max(parse_instant_ms(c["lastmodifieddate"]) for c in world.hubspot_contacts)
    assert newest < parse_instant_ms(now.isoformat())
    assert newest > parse_instant_ms((now - timedelta(days=365)).isoformat())


def test_statuses_are_mixed(world: World) -> None:
    statuses = Counter(m["status"] for m in world.mailchimp_members)
    assert statuses["subscribed"] > statuses["unsubscribed"] > 0
    assert statuses["cleaned"] > 0
