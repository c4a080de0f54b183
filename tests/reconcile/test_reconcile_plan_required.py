"""A mapping field marked ``required`` keeps the plan from creating a record without it."""

from __future__ import annotations

from mappings.spec import parse_mapping
from reconcile.plan import build_plan

SECTION = {
    "stream": "contacts",
    "id_field": "id",
    "updated_field": "updated",
    "natural_key": "email",
    "fields": [
        {"unified": "email", "tool": "email", "transform": "email", "identity": True},
        {"unified": "first_name", "tool": "first", "transform": "name"},
        {"unified": "last_name", "tool": "last", "transform": "name", "required": True},
    ],
}

MAPPING = parse_mapping("acme", {"entity": "person", **SECTION})


def test_a_golden_record_lacking_a_required_field_is_skipped_with_the_reason() -> None:
    plan = build_plan({"u1": {"email": "cher@x.io", "first_name": "Cher"}}, {}, [MAPPING])
    assert plan.writes == []
    (skipped,) = plan.skipped
    assert skipped.unified_id == "u1"
    assert "last_name" in skipped.reason
    assert "acme" in skipped.reason


def test_it_is_created_once_the_field_is_known() -> None:
    golden = {"email": "ada@x.io", "first_name": "Ada", "last_name": "Lovelace"}
    plan = build_plan({"u1": golden}, {}, [MAPPING])
    (write,) = plan.writes
    assert (write.op, write.payload["last"]) == ("create", "Lovelace")
    assert plan.skipped == []
