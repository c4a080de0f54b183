"""References through the hub: a tool's company id in, the golden company's id inside, the
destination tool's own company id out, and nothing sent where that tool holds no such company."""

from __future__ import annotations

import pytest

from mappings.errors import MappingConfigError
from mappings.spec import load_mapping, parse_mapping, to_unified
from reconcile.mapped import map_stream
from reconcile.plan import LinkView, build_plan
from reconcile.refs import RefIndex, reference_fields, referenced_entities, to_golden, to_tool

HUBSPOT = load_mapping("hubspot", "person")
ZENDESK = load_mapping("zendesk", "person")

REFS = RefIndex.build(
    [
        ("company", "hubspot", "5001", "gold-acme"),
        ("company", "hubspot", "5002", "gold-acme"),  # an in-tool duplicate of Acme
        ("company", "zendesk", "20000000001", "gold-acme"),
        ("company", "hubspot", "5003", "gold-globex"),
    ]
)


def _contact(company_id: str | None) -> dict[str, object]:
    return {
        "id": "101",
        "properties": {
            "email": "ada@acme.io",
            "firstname": "Ada",
            "lastmodifieddate": "2026-12-01T10:00:00Z",
            "associatedcompanyid": company_id,
        },
        "updatedAt": "2026-12-01T10:00:00Z",
    }


def test_the_mappings_declare_which_fields_point_at_which_entity() -> None:
    assert reference_fields(HUBSPOT) == {"company_id": "company"}
    assert referenced_entities([HUBSPOT, ZENDESK]) == {"company"}
    assert reference_fields(load_mapping("hubspot", "company")) == {}


def test_a_read_reference_becomes_the_golden_id_of_the_linked_record() -> None:
    mapped = map_stream(HUBSPOT, [_contact("5002")], {}, REFS)

    (record,) = mapped.changed
    assert record.values["company_id"] == "gold-acme"


def test_a_reference_to_a_record_revsync_has_not_linked_reads_as_unknown() -> None:
    mapped = map_stream(HUBSPOT, [_contact("9999")], {}, REFS)

    assert mapped.changed[0].values["company_id"] is None


def test_the_hash_is_over_golden_ids_so_another_duplicate_of_the_same_company_is_no_change() -> (
    None
):
    first = map_stream(HUBSPOT, [_contact("5001")], {}, REFS)
    known = {"101": {first.hashes["101"]}}

    again = map_stream(HUBSPOT, [_contact("5002")], known, REFS)
    moved = map_stream(HUBSPOT, [_contact("5003")], known, REFS)

    assert (again.unchanged, len(moved.changed)) == (1, 1)


def test_golden_ids_go_out_as_each_tools_own_record_id() -> None:
    golden = {"email": "ada@acme.io", "company_id": "gold-acme"}

    assert to_tool(HUBSPOT, golden, REFS)["company_id"] == "5001", "the smallest of duplicates"
    assert to_tool(ZENDESK, golden, REFS)["company_id"] == "20000000001"
    assert to_golden(ZENDESK, {"company_id": "20000000001"}, REFS) == {"company_id": "gold-acme"}


def test_a_create_carries_the_destination_tools_company_id() -> None:
    golden = {"email": "ada@acme.io", "first_name": "Ada", "company_id": "gold-acme"}

    plan = build_plan({"u1": golden}, {}, [HUBSPOT], refs=REFS)

    (write,) = plan.writes
    assert write.payload["associatedcompanyid"] == "5001"
    assert write.changes["company_id"].new == "gold-acme", "the journal speaks golden ids"


def test_a_company_the_destination_does_not_hold_is_never_pointed_at() -> None:
    golden = {"email": "ada@acme.io", "first_name": "Ada", "company_id": "gold-globex"}
    links = {"u1": [LinkView(tool="zendesk", record_id="7", values={**golden, "company_id": None})]}

    plan = build_plan({"u1": golden}, links, [ZENDESK], refs=REFS)

    assert plan.writes == [], "Zendesk has no organization for Globex: nothing to point at"


def test_an_update_moves_the_record_to_the_goldens_company() -> None:
    golden = {"email": "ada@acme.io", "first_name": "Ada", "company_id": "gold-acme"}
    known = {**golden, "company_id": "gold-globex"}
    links = {"u1": [LinkView(tool="zendesk", record_id="7", values=known)]}

    plan = build_plan({"u1": golden}, links, [ZENDESK], refs=REFS)

    (write,) = plan.writes
    assert write.payload == {"organization_id": 20000000001}
    assert (write.changes["company_id"].old, write.changes["company_id"].new) == (
        "gold-globex",
        "gold-acme",
    )


def test_the_echo_of_a_written_reference_reads_back_as_the_same_golden_id() -> None:
    golden = {"email": "ada@acme.io", "first_name": "Ada", "company_id": "gold-acme"}
    links = {"u1": [LinkView(tool="zendesk", record_id="7", values={**golden, "company_id": None})]}
    (write,) = build_plan({"u1": golden}, links, [ZENDESK], refs=REFS).writes
    user = {"id": 7, "updated_at": "2026-12-01T10:00:00Z", "role": "end-user", **write.payload}

    read = to_golden(ZENDESK, to_unified(ZENDESK, user).values, REFS)

    assert read["company_id"] == "gold-acme"


@pytest.mark.parametrize(
    "line",
    [
        {"unified": "company_id", "tool": "org", "transform": "email"},
        {"unified": "company_id", "tool": "org", "identity": True},
    ],
)
def test_a_reference_must_carry_plain_record_ids(line: dict[str, object]) -> None:
    document = {
        "entity": "person",
        "stream": "people",
        "updated_field": "updated_at",
        "natural_key": "email",
        "fields": [{"unified": "email", "tool": "email", "transform": "email"}, line],
    }
    with pytest.raises(MappingConfigError, match="refers to a company"):
        parse_mapping("acme", document)
