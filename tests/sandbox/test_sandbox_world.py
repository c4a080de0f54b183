"""The one world generator: deterministic, independent per tool, unique identities, scalable."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import httpx
import phonenumbers
import pytest
from sandbox_testkit import control, fresh

from sandbox import world as world_mod
from sandbox.server import SandboxServer
from sandbox.world import (
    PHONE_STYLES,
    format_phone,
    generate_people,
    generate_world,
    older_newer_timestamps,
    record_times,
)


def test_people_are_deterministic_and_differ_by_seed() -> None:
    a, b = generate_people(300, 5), generate_people(300, 5)
    assert list(a.people) == list(b.people)
    assert a.orgs == b.orgs
    assert list(generate_people(300, 6).people) != list(a.people)


def test_identities_are_unique_and_well_formed() -> None:
    world = generate_people(20_000, 3)
    people = list(world.people)
    emails = [p.work_email for p in people] + [p.personal_email for p in people if p.personal_email]
    assert len(emails) == len({e.lower() for e in emails})
    phones = [p.phone for p in people] + [p.mobile for p in people if p.mobile]
    assert len(phones) == len(set(phones))
    domains = {o.id: o.domain for o in world.orgs}
    assert all(p.work_email.endswith("@" + domains[p.org_id]) for p in people)
    assert 0.55 < sum(p.personal_email is not None for p in people) / len(people) < 0.75
    for p in people[:300]:
        assert p.created_at <= p.updated_at < world.now
        assert p.created_at.tzinfo is UTC
        assert phonenumbers.is_valid_number(phonenumbers.parse(p.phone))


def test_every_phone_style_parses_back_to_the_same_number() -> None:
    for p in list(generate_people(400, 9).people):
        for number in filter(None, (p.phone, p.mobile)):
            region = "US" if number.startswith("+1") else p.country
            for style in PHONE_STYLES:
                parsed = phonenumbers.parse(format_phone(number, style), region)
                e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                assert e164 == number, (style, number)


def test_a_tool_data_does_not_depend_on_which_other_tools_are_rendered() -> None:
    alone = generate_world(500, 4, tools=["mailchimp"])
    together = generate_world(500, 4, tools=["hubspot", "mailchimp"])
    assert alone.seeds["mailchimp"] == together.seeds["mailchimp"]
    assert "hubspot" not in alone.seeds
    assert set(together.truth) == set(together.seeds["hubspot"].truth) | set(
        together.seeds["mailchimp"].truth
    )


def test_missing_seed_module_is_skipped_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(world_mod.TOOL_SEEDERS, "hubspot", "sandbox.no_such_seed_module")
    with caplog.at_level(logging.INFO, logger="sandbox.world"):
        world = generate_world(50, 1, tools=["hubspot", "mailchimp"])
    assert list(world.seeds) == ["mailchimp"]
    assert "sandbox.no_such_seed_module" in caplog.text


def test_truth_names_people_and_orgs() -> None:
    world = generate_world(400, 2, tools=["hubspot", "mailchimp"])
    people = {p.id for p in world.people.people}
    orgs = {o.id for o in world.people.orgs}
    for key, who in world.truth.items():
        tool, stream, _ = key.split(":", 2)
        assert who in (orgs if stream in ("companies", "deals") else people), key
        assert tool in ("hubspot", "mailchimp")


def test_time_helpers_stay_in_the_year_before_now() -> None:
    world = generate_people(1, 1, now=datetime(2030, 1, 1, tzinfo=UTC))
    rng = random.Random(1)
    for _ in range(200):
        created, modified = record_times(rng, world)
        assert world.now_ms - 366 * 86_400_000 < created <= modified < world.now_ms
        older, newer = older_newer_timestamps(rng, world)
        assert older < newer


def test_seed_endpoint_takes_tools_and_exposes_truth(sandbox: SandboxServer) -> None:
    fresh(sandbox)
    counts = control(sandbox, "POST", "/seed", {"people": 100, "seed": 1, "tools": ["mailchimp"]})
    assert counts["people"] == 100
    assert counts["tools"]["mailchimp"]["members"] == counts["mailchimp_members"] > 50
    assert "hubspot" not in counts["tools"]
    truth = control(sandbox, "GET", "/truth?tool=mailchimp")
    assert len(truth) == counts["mailchimp_members"]
    assert control(sandbox, "GET", "/truth?tool=hubspot") == {}
    bad = httpx.post(f"{sandbox.url}/_sandbox/seed", json={"people": 5, "tools": ["myspace"]})
    assert bad.status_code == 400
    fresh(sandbox)
    assert control(sandbox, "GET", "/truth") == {}
