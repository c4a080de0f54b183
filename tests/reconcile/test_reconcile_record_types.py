"""Record types: one entity read from two objects of one tool (a CRM's leads beside its
contacts). Each record is written with its own type's section, a create takes the type its
policy picks, and a record that names what it became is followed there."""

from __future__ import annotations

import pytest

from mappings.errors import MappingConfigError
from mappings.spec import load_mappings, parse_mapping_file
from reconcile.merges import vendor_merges
from reconcile.plan import LinkView, build_plan, type_for_create

PERSON = load_mappings("salesforce")["person"]
CATEGORIES = {"mailchimp": "emailing", "hubspot": "crm"}
GOLDEN = {"email": "ada@acme.io", "last_name": "Lovelace", "city": "London", "company": "Acme"}


def test_each_record_is_of_the_type_its_id_says() -> None:
    assert PERSON.for_record("00Q5g0000000001").record_type == "lead"
    assert PERSON.for_record("0035g0000000001") is PERSON
    assert PERSON.of_type("lead").stream == "leads"
    assert PERSON.of_type(None) is PERSON


@pytest.mark.parametrize(
    ("known_to", "expected"),
    [({"emailing"}, "lead"), ({"emailing", "crm"}, None), ({"crm"}, None), (set(), None)],
)
def test_a_create_takes_the_type_its_policy_picks(known_to: set[str], expected: str | None) -> None:
    assert type_for_create(PERSON, known_to).record_type == expected


def test_updates_and_creates_speak_their_types_fields() -> None:
    links = {
        "u1": [LinkView(tool="salesforce", record_id="00Q1", values={"email": "ada@acme.io"})],
        "u2": [LinkView(tool="mailchimp", record_id="m2", values={})],
        "u3": [LinkView(tool="hubspot", record_id="h3", values={})],
    }
    goldens = {uid: GOLDEN for uid in links}

    plan = build_plan(goldens, links, [PERSON], categories=CATEGORIES)

    by_id = {w.unified_id: w for w in plan.writes}
    assert (by_id["u1"].op, by_id["u1"].record_type) == ("update", "lead")
    assert by_id["u1"].payload["City"] == "London", "a Lead's city field, not MailingCity"
    assert (by_id["u2"].op, by_id["u2"].record_type) == ("create", "lead")
    assert by_id["u2"].payload["Company"] == "Acme"
    assert (by_id["u3"].op, by_id["u3"].record_type) == ("create", None)
    assert "MailingCity" in by_id["u3"].payload
    assert "Company" not in by_id["u3"].payload


def test_a_lead_create_without_its_required_company_is_skipped_with_the_reason() -> None:
    links = {"u2": [LinkView(tool="mailchimp", record_id="m2", values={})]}
    golden = {k: v for k, v in GOLDEN.items() if k != "company"}

    plan = build_plan({"u2": golden}, links, [PERSON], categories=CATEGORIES)

    assert plan.writes == []
    assert "no company" in plan.skipped[0].reason


def test_a_converted_lead_is_a_merge_into_its_contact() -> None:
    lead = PERSON.of_type("lead")
    raws = [
        {"Id": "00Q1", "IsConverted": True, "ConvertedContactId": "0039"},
        {"Id": "00Q2", "IsDeleted": True, "MasterRecordId": "00Q3"},
        {"Id": "00Q4", "ConvertedContactId": None},
    ]

    assert vendor_merges(lead, raws) == {"0039": ["00Q1"], "00Q3": ["00Q2"]}


@pytest.mark.parametrize(
    ("lead", "message"),
    [
        ({"stream": "contacts"}, "another stream"),
        ({"id_prefix": None}, "needs an id_prefix"),
    ],
)
def test_a_record_type_is_told_apart_by_stream_and_id(
    lead: dict[str, object], message: str
) -> None:
    section = {
        "stream": "contacts",
        "updated_field": "updated",
        "natural_key": "email",
        "fields": [{"unified": "email", "tool": "Email", "transform": "email"}],
    }
    kind = {**section, "stream": "leads", "id_prefix": "00Q", **lead}
    with pytest.raises(MappingConfigError, match=message):
        parse_mapping_file("crm", {"person": {**section, "record_types": {"lead": kind}}})
