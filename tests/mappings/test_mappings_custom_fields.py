"""Custom unified fields declared in mapping files: types, the catalog, survivorship."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mappings.custom import custom_fields_in
from mappings.errors import MappingConfigError, MappingError
from mappings.scalars import canonical_boolean, canonical_date, canonical_number
from mappings.spec import (
    MAPPINGS_DIR,
    from_unified,
    load_mappings,
    parse_mapping_file,
    requested_fields,
    to_unified,
)
from mappings.survivorship import load_rules
from mappings.transforms import TRANSFORMS, TransformContext

STAMP = "2026-01-02T03:04:05Z"


def _section(fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "stream": "contacts",
        "updated_field": "updated",
        "natural_key": "email",
        "write_root": "properties",
        "fields": [{"unified": "email", "tool": "properties.email", "transform": "email"}, *fields],
        **extra,
    }


def _write(directory: Path, tool: str, document: dict[str, Any]) -> None:
    (directory / f"{tool}.yaml").write_text(yaml.safe_dump(document))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [(9, "9"), (9.0, "9"), ("9", "9"), (" 9.50 ", "9.5"), ("1e3", "1000"), ("-0", "0"), ("", None)],
)
def test_numbers_have_one_text_form(given: object, canonical: str | None) -> None:
    assert canonical_number(given) == canonical


@pytest.mark.parametrize(
    ("given", "canonical"),
    [(True, "true"), ("Yes", "true"), (1, "true"), ("off", "false"), (False, "false")],
)
def test_booleans_have_one_text_form(given: object, canonical: str) -> None:
    assert canonical_boolean(given) == canonical


def test_dates_from_iso_epoch_milliseconds_offsets_and_the_tools_format() -> None:
    midnight = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    assert canonical_date("2026-03-01") == "2026-03-01"
    assert canonical_date(midnight) == canonical_date(str(midnight)) == "2026-03-01"
    assert canonical_date("2026-03-01T23:30:00-05:00") == "2026-03-02"
    assert canonical_date("03/01/2026", "%m/%d/%Y") == "2026-03-01"


@pytest.mark.parametrize(
    ("transform", "options", "canonical"),
    [
        ("number", {}, "9.5"),
        ("number", {"as_text": True}, "12"),
        ("boolean", {}, "true"),
        ("boolean", {"as_text": True}, "false"),
        ("date", {}, "2026-03-01"),
        ("date", {"format": "%d/%m/%Y"}, "2026-03-01"),
    ],
)
def test_typed_transforms_read_back_what_they_write(
    transform: str, options: dict[str, Any], canonical: str
) -> None:
    ctx = TransformContext(field="f", options=options)
    sent = TRANSFORMS[transform].outbound(canonical, ctx)
    assert TRANSFORMS[transform].inbound(sent, ctx) == canonical
    assert TRANSFORMS[transform].inbound(canonical, ctx) == canonical


def test_a_value_that_does_not_parse_is_dropped_with_a_warning() -> None:
    ctx = TransformContext(field="nps_score")
    assert TRANSFORMS["number"].inbound("nine", ctx) is None
    assert len(ctx.warnings) == 1
    assert "nps_score" in ctx.warnings[0]


def test_a_field_declared_in_one_file_is_mapped_by_another_with_its_types_transform(
    tmp_path: Path,
) -> None:
    custom = [{"name": "nps_score", "type": "number"}, {"name": "renewal", "type": "date"}]
    _write(tmp_path, "crm", {"person": _section([], custom_fields=custom)})
    line = {"unified": "nps_score", "tool": "properties.nps"}
    explicit = {"unified": "renewal", "tool": "properties.renewal", "transform": "text"}
    document = {"person": _section([line, explicit])}

    catalog = custom_fields_in(tmp_path)
    mapping = parse_mapping_file("mail", document, catalog)["person"]

    assert {f.unified: f.transform for f in mapping.fields}["nps_score"] == "number"
    assert {f.unified: f.transform for f in mapping.fields}["renewal"] == "text"
    raw = {"id": "1", "updated": STAMP, "properties": {"email": "a@b.io", "nps": 7.0}}
    assert to_unified(mapping, raw).values["nps_score"] == "7"
    assert from_unified(mapping, {"nps_score": "7"}, create=False) == {"nps": 7}
    assert requested_fields(mapping) == ("email", "nps", "renewal")
    with pytest.raises(MappingConfigError, match="nps_score"):
        parse_mapping_file("mail", document)  # without the catalog it is unknown


def test_two_files_declaring_a_field_differently_are_named(tmp_path: Path) -> None:
    _write(tmp_path, "crm", {"person": _section([], custom_fields=[{"name": "tier"}])})
    other = [{"name": "tier", "type": "number"}]
    _write(tmp_path, "mail", {"person": _section([], custom_fields=other)})
    with pytest.raises(MappingConfigError, match=r"crm\.yaml and mail\.yaml"):
        custom_fields_in(tmp_path)


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"name": "email"}, "built-in"),
        ({"name": "Plan Tier"}, "snake_case"),
        ({"name": "tier", "type": "money"}, "invalid custom field"),
    ],
)
def test_bad_declarations_are_refused(
    tmp_path: Path, declared: dict[str, Any], message: str
) -> None:
    _write(tmp_path, "crm", {"person": _section([], custom_fields=[declared])})
    with pytest.raises(MappingConfigError, match=message):
        custom_fields_in(tmp_path)


def _account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custom: list[dict[str, Any]]) -> Path:
    for path in MAPPINGS_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    document = yaml.safe_load((tmp_path / "hubspot.yaml").read_text())
    document["person"]["custom_fields"] = custom
    (tmp_path / "hubspot.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(tmp_path))
    return tmp_path


def test_custom_fields_bring_their_survivorship_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = load_rules("person")
    custom = [
        {"name": "plan_tier", "authoritative": "hubspot"},
        {"name": "segment", "survivorship": "most_frequent"},
    ]
    _account(tmp_path, monkeypatch, custom)

    rules = load_rules("person")

    assert rules.authoritative == {**shipped.authoritative, "plan_tier": "hubspot"}
    assert rules.rule("segment") == "most_frequent"
    assert rules.rule("country") == shipped.rule("country")
    assert "person" in load_mappings("hubspot")


def test_a_field_with_rules_in_both_places_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _account(tmp_path, monkeypatch, [{"name": "segment", "authoritative": "hubspot"}])
    rules = yaml.safe_load((directory / "survivorship.yaml").read_text())
    rules["person"]["fields"]["segment"] = "most_frequent"
    (directory / "survivorship.yaml").write_text(yaml.safe_dump(rules))
    with pytest.raises(MappingConfigError, match="segment"):
        load_rules("person")


def test_every_custom_type_names_a_transform() -> None:
    from typing import get_args

    from mappings.custom import CustomType

    assert set(get_args(CustomType)) <= set(TRANSFORMS)


def test_a_datetime_is_canonical_utc_whole_seconds_from_any_form() -> None:
    from mappings.scalars import canonical_datetime

    want = "2026-03-01T09:30:00Z"
    assert canonical_datetime("2026-03-01T10:30:00+01:00") == want
    assert canonical_datetime("2026-03-01T09:30:00.750Z") == want
    assert canonical_datetime("2026-03-01T09:30:00") == want, "no offset: taken as UTC"
    assert canonical_datetime(1772357400) == want
    assert canonical_datetime("1772357400000") == want
    assert canonical_datetime(" ") is None
    with pytest.raises(MappingError, match="not a date-time"):
        canonical_datetime("yesterday")
    with pytest.raises(MappingError, match="not a date-time"):
        canonical_datetime(True)
