"""The plan sends every part of a composed tool field (Zendesk's one ``name``), never one alone."""

from __future__ import annotations

from mappings.spec import load_mapping
from reconcile.plan import LinkView, build_plan

ZENDESK = load_mapping("zendesk", "person")
GOLDEN = {
    "email": "mary@acme.io",
    "first_name": "Mary Ann",
    "last_name": "Jones",
    "phone": "+14155550100",
}


def test_a_last_name_change_rewrites_the_whole_name() -> None:
    known = dict(GOLDEN, last_name="Smith")
    links = {"u1": [LinkView(tool="zendesk", record_id="10000000042", values=known)]}

    (write,) = build_plan({"u1": GOLDEN}, links, [ZENDESK]).writes

    assert write.op == "update"
    assert {f: (c.old, c.new) for f, c in write.changes.items()} == {
        "last_name": ("Smith", "Jones")
    }
    assert write.payload == {"name": "Mary Ann Jones"}, "the first name must not be lost"


def test_zendesk_users_are_not_created_from_other_tools_contacts() -> None:
    plan = build_plan({"u1": GOLDEN}, {}, [ZENDESK])

    assert plan.writes == []
    assert plan.skipped == []


def test_a_create_writes_the_composed_name_and_the_unified_id() -> None:
    creating = ZENDESK.model_copy(update={"creates": True})
    (write,) = build_plan({"u1": GOLDEN}, {}, [creating]).writes

    assert (write.op, write.natural_key) == ("create", "mary@acme.io")
    assert write.payload == {
        "email": "mary@acme.io",
        "name": "Mary Ann Jones",
        "phone": "+14155550100",
        "skip_verify_email": True,
        "external_id": "u1",
    }
