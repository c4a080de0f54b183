"""The plan builder: pure, so every case is a small table of golden values and known links."""

from __future__ import annotations

from mappings.spec import load_mapping
from reconcile.plan import LinkView, build_plan

HUBSPOT = load_mapping("hubspot")
MAILCHIMP = load_mapping("mailchimp")

GOLDEN = {
    "email": "ada@lovelace.io",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "+14155550100",
    "company": "Analytical Engines",
    "job_title": "Engineer",
    "lifecycle_stage": "customer",
    "city": "London",
    "country": None,
}


def test_a_golden_record_missing_from_a_tool_is_created_by_its_natural_key() -> None:
    plan = build_plan({"u1": GOLDEN}, {}, [HUBSPOT, MAILCHIMP])

    assert [(w.tool, w.op, w.natural_key) for w in plan.writes] == [
        ("hubspot", "create", "ada@lovelace.io"),
        ("mailchimp", "create", "ada@lovelace.io"),
    ]
    hubspot = plan.writes[0]
    assert hubspot.record_id is None
    assert hubspot.changes["first_name"].new == "Ada"
    assert hubspot.changes["first_name"].old is None
    assert "country" not in hubspot.changes, "an empty golden value is never written"


def test_a_linked_record_gets_only_the_fields_that_differ_and_never_its_identity() -> None:
    known = dict(GOLDEN, email="ADA.personal@example.org", job_title="Analyst", city=None)
    links = {"u1": [LinkView(tool="hubspot", record_id="101", values=known)]}

    plan = build_plan({"u1": GOLDEN}, links, [HUBSPOT])

    (write,) = plan.writes
    assert (write.op, write.record_id, write.natural_key) == (
        "update",
        "101",
        "ADA.personal@example.org",
    )
    assert {f: (c.old, c.new) for f, c in write.changes.items()} == {
        "job_title": ("Analyst", "Engineer"),
        "city": (None, "London"),
    }


def test_a_record_that_already_holds_the_golden_values_is_not_written() -> None:
    links = {"u1": [LinkView(tool="mailchimp", record_id="h1", values=dict(GOLDEN))]}

    plan = build_plan({"u1": GOLDEN}, links, [MAILCHIMP])

    assert plan.writes == []
    assert plan.skipped == []


def test_a_golden_record_without_the_natural_key_is_skipped_with_a_reason() -> None:
    plan = build_plan({"u1": dict(GOLDEN, email=None)}, {}, [MAILCHIMP])

    assert plan.writes == []
    (skipped,) = plan.skipped
    assert skipped.tool == "mailchimp"
    assert "email" in skipped.reason


def test_each_in_tool_duplicate_is_updated_under_its_own_key() -> None:
    links = {
        "u1": [
            LinkView(
                tool="hubspot", record_id="2", values=dict(GOLDEN, email="a2@x.io", city="Paris")
            ),
            LinkView(
                tool="hubspot", record_id="1", values=dict(GOLDEN, email="a1@x.io", city="Rome")
            ),
        ]
    }

    plan = build_plan({"u1": GOLDEN}, links, [HUBSPOT])

    assert [(w.record_id, w.natural_key, w.changes["city"].new) for w in plan.writes] == [
        ("1", "a1@x.io", "London"),
        ("2", "a2@x.io", "London"),
    ]


def test_the_plan_does_not_depend_on_input_order() -> None:
    goldens = {f"u{i}": dict(GOLDEN, email=f"p{i}@x.io") for i in range(20)}
    shuffled = dict(reversed(list(goldens.items())))

    assert build_plan(goldens, {}, [HUBSPOT, MAILCHIMP]) == build_plan(
        shuffled, {}, [HUBSPOT, MAILCHIMP]
    )


def test_a_tool_whose_connector_never_creates_gets_updates_only() -> None:
    golden = {"u1": {"email": "new@acme.io", "first_name": "Ada"}}
    assert [w.op for w in build_plan(golden, {}, [HUBSPOT]).writes] == ["create"]
    assert build_plan(golden, {}, [HUBSPOT], never_creates={"hubspot"}).writes == []
