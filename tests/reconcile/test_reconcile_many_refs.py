"""References to many (the people on a deal): each member translated on its own, order and
duplicates of the tool's list never a change, and a write carrying only the members the
destination holds."""

from __future__ import annotations

import pytest

from mappings.errors import MappingConfigError
from mappings.idlists import canonical_ids
from mappings.spec import parse_mapping, to_unified
from reconcile.mapped import map_stream
from reconcile.plan import LinkView, build_plan
from reconcile.refs import RefIndex, reachable, reference_fields, to_golden, to_tool


def _deal_mapping(tool: str, **contacts: object) -> object:
    line = {"unified": "contact_ids", "tool": "person_ids", "transform": "id_list", **contacts}
    return parse_mapping(
        tool,
        {
            "entity": "deal",
            "stream": "deals",
            "id_field": "id",
            "updated_field": "updated_at",
            "natural_key": "unified_id",
            "external_id_field": "revsync_id",
            "fields": [{"unified": "name", "tool": "title", "transform": "text"}, line],
        },
    )


CRM = _deal_mapping("crm")
OTHER = _deal_mapping("other", options={"as_numbers": True})

REFS = RefIndex.build(
    [
        ("person", "crm", "11", "gold-ada"),
        ("person", "crm", "12", "gold-bob"),
        ("person", "crm", "13", "gold-ada"),  # an in-tool duplicate of Ada
        ("person", "other", "7", "gold-bob"),
    ]
)


def _deal(person_ids: object) -> dict[str, object]:
    return {
        "id": "d1",
        "title": "Renewal",
        "updated_at": "2026-12-01T10:00:00Z",
        **{"person_ids": person_ids},
    }


@pytest.mark.parametrize(
    ("value", "key", "within", "expected"),
    [
        (["12", "7", "12"], None, None, "12;7"),
        ([12, 7], None, None, "12;7"),
        ("7, 12", None, None, "12;7"),
        ([{"id": 7}, {"id": None}], "id", None, "7"),
        (
            {"rows": [{"ContactId": "003b"}, {"ContactId": "003a"}]},
            "ContactId",
            "rows",
            "003a;003b",
        ),
        ([], None, None, None),
        (None, None, "rows", None),
    ],
)
def test_an_id_set_has_one_text_form_whatever_the_tool_sends(
    value: object, key: str | None, within: str | None, expected: str | None
) -> None:
    assert canonical_ids(value, key, within) == expected


def test_a_deals_people_read_as_their_golden_ids_sorted() -> None:
    assert reference_fields(CRM) == {"contact_ids": "person"}
    mapped = map_stream(CRM, [_deal(["12", "11", "99"])], {}, REFS)

    (record,) = mapped.changed
    assert record.values["contact_ids"] == "gold-ada;gold-bob", "99 is not linked: left out"


def test_listing_a_duplicate_of_the_same_person_instead_is_no_change() -> None:
    first = map_stream(CRM, [_deal(["11", "12"])], {}, REFS)
    known = {"d1": {first.hashes["d1"]}}

    again = map_stream(CRM, [_deal(["12", "13"])], known, REFS)

    assert again.unchanged == 1


def test_a_write_carries_only_the_people_the_destination_holds() -> None:
    golden = {"name": "Renewal", "contact_ids": "gold-ada;gold-bob"}

    assert to_tool(OTHER, golden, REFS)["contact_ids"] == "7"
    assert reachable(OTHER, golden, REFS)["contact_ids"] == "gold-bob"
    links = {"u1": [LinkView(tool="other", record_id="d9", values={"name": "Renewal"})]}
    (write,) = build_plan({"u1": golden}, links, [OTHER], refs=REFS).writes
    assert write.payload == {"person_ids": [7]}

    echo = to_golden(OTHER, to_unified(OTHER, {**_deal(None), **write.payload}).values, REFS)
    links = {"u1": [LinkView(tool="other", record_id="d9", values=echo)]}
    assert build_plan({"u1": golden}, links, [OTHER], refs=REFS).writes == [], "converged"


def test_a_dry_run_leaves_out_people_the_run_would_create_first() -> None:
    third = _deal_mapping("third")
    golden = {"name": "Renewal", "contact_ids": "gold-ada;gold-bob"}
    refs = RefIndex.build([("person", "third", "t7", "gold-bob")])
    pending = refs.with_pending([("person", "third", "gold-ada")])
    links = {"u1": [LinkView(tool="third", record_id="d9", values={"name": "Renewal"})]}

    (write,) = build_plan({"u1": golden}, links, [third], refs=pending).writes

    assert write.payload == {"person_ids": ["t7"]}
    assert write.changes["contact_ids"].new == "gold-ada;gold-bob"


@pytest.mark.parametrize("transform", ["text", "number"])
def test_a_set_of_references_must_use_id_list(transform: str) -> None:
    with pytest.raises(MappingConfigError, match="set of person records"):
        _deal_mapping("crm", transform=transform)
