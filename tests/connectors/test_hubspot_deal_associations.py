"""Reading a deal's associations out of a v4 batch/read answer: the Primary company wins, a
lone unlabelled company is the primary, several unlabelled ones leave it unknown, and records
HubSpot reports as errors (no associations) simply have none."""

from __future__ import annotations

from connectors.hubspot.components import associations_of

PRIMARY = {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
UNLABELED = {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}


def _result(from_id: str, *targets: tuple[int, list[dict[str, object]]]) -> dict[str, object]:
    return {
        "from": {"id": from_id},
        "to": [{"toObjectId": to_id, "associationTypes": types} for to_id, types in targets],
    }


def test_the_primary_label_names_the_company_whatever_its_position() -> None:
    body = {"results": [_result("1", (30, [UNLABELED]), (20, [UNLABELED, PRIMARY]))]}

    assert associations_of(body) == {"1": {"ids": ["20", "30"], "primary": "20"}}


def test_a_single_unlabelled_company_is_the_primary_and_two_are_unknown() -> None:
    body = {
        "results": [
            _result("1", (7, [UNLABELED])),
            _result("2", (7, [UNLABELED]), (8, [UNLABELED])),
        ]
    }

    found = associations_of(body)

    assert found["1"]["primary"] == "7"
    assert found["2"] == {"ids": ["7", "8"], "primary": None}


def test_a_multi_status_answer_keeps_its_results_and_ignores_its_errors() -> None:
    body = {
        "status": "COMPLETE",
        "results": [_result("1", (7, [PRIMARY]))],
        "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"fromObjectId": ["2"]}}
        ],
        "numErrors": 1,
    }

    assert associations_of(body) == {"1": {"ids": ["7"], "primary": "7"}}
    assert associations_of({"results": None}) == {}
    assert associations_of("not json") == {}
