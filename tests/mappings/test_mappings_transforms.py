"""Value transforms: edge cases of emails, phones, names, countries, picklists."""

from __future__ import annotations

import random
import string

import pytest

from mappings.errors import MappingError
from mappings.transforms import (
    TRANSFORMS,
    TransformContext,
    clean_name,
    clean_text,
    country_code,
    normalize_email,
    to_e164,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane@Example.com", "jane@example.com"),
        ("  JANE.DOE+news@EXAMPLE.co.uk \t", "jane.doe+news@example.co.uk"),
        ("o'neil@example.ie", "o'neil@example.ie"),
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "plainaddress",
        "@example.com",
        "jane@",
        "jane@example",
        "jane doe@example.com",
        "jane..doe@example.com",
        ".jane@example.com",
        "jane.@example.com",
        "jane@-example.com",
        "jane@example..com",
        "jane@@example.com",
        "a" * 65 + "@example.com",
    ],
)
def test_invalid_email_is_a_mapping_error(raw: str) -> None:
    with pytest.raises(MappingError, match="invalid email"):
        normalize_email(raw)


def test_email_is_idempotent_on_generated_values() -> None:
    rng = random.Random(1)
    for _ in range(500):
        local = "".join(rng.choices(string.ascii_letters + string.digits + "+-_", k=8))
        raw = f"{' ' * rng.randint(0, 2)}{local}@Ex{rng.randint(0, 9)}.COM "
        once = normalize_email(raw)
        assert once == once.lower().strip()  # type: ignore[union-attr]
        assert normalize_email(once) == once


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 415-555-0100", "US", "+14155550100"),
        ("(415) 555 0100", "US", "+14155550100"),
        ("4155550100", "US", "+14155550100"),
        ("415.555.0100 ext. 23", "US", "+14155550100"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        (4155550100, "US", "+14155550100"),
        ("garbage", "US", None),
        ("555-0100", "US", None),  # a local number without area code is not a key
        ("123", "US", None),
        ("+1 200 555 0100", "US", None),  # unassigned area code
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_to_e164(raw: object, region: str, expected: str | None) -> None:
    assert to_e164(raw, region) == expected


def test_phone_transform_warns_and_drops_garbage() -> None:
    ctx = TransformContext(field="phone", options={"default_region": "US"})
    phone = TRANSFORMS["phone_e164"]
    assert phone.inbound("not a phone", ctx) is None
    assert ctx.warnings == ["phone: unparseable phone 'not a phone' dropped"]
    assert phone.inbound("+14155550100", ctx) == "+14155550100"
    assert phone.inbound("", ctx) is None
    assert len(ctx.warnings) == 1  # empty is not a problem, only garbage is


def test_phone_uses_the_default_region_option() -> None:
    ctx = TransformContext(field="phone", options={"default_region": "GB"})
    assert TRANSFORMS["phone_e164"].inbound("020 7946 0958", ctx) == "+442079460958"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("JOHN", "John"),
        ("john", "John"),
        ("  mary   ann  ", "Mary Ann"),
        ("mcdonald", "McDonald"),
        ("McDonald", "McDonald"),
        ("o'neil", "O'Neil"),
        ("O'NEIL", "O'Neil"),
        ("MARY-JANE", "Mary-Jane"),
        ("van der berg", "van der Berg"),
        ("VAN DER BERG", "van der Berg"),
        ("van der Berg", "van der Berg"),
        ("de", "De"),
        ("deBoer", "deBoer"),
        ("JOSÉ", "José"),
        ("", None),
        (None, None),
    ],
)
def test_clean_name(raw: str | None, expected: str | None) -> None:
    assert clean_name(raw) == expected


def test_clean_name_is_idempotent_on_generated_values() -> None:
    rng = random.Random(2)
    alphabet = string.ascii_letters + "éÉüÜ'- "
    for _ in range(1000):
        raw = "".join(rng.choices(alphabet, k=rng.randint(0, 14)))
        once = clean_name(raw)
        assert clean_name(once) == once, raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        (" the  Netherlands ", "NL"),
        ("Germany", "DE"),
        ("Narnia", "Narnia"),
        ("", None),
    ],
)
def test_country_code(raw: str, expected: str | None) -> None:
    assert country_code(raw) == expected


def test_country_outbound_format_option() -> None:
    country = TRANSFORMS["country"]
    assert country.outbound("FR", TransformContext("country", {"format": "name"})) == "France"
    assert country.outbound("FR", TransformContext("country", {"format": "alpha2"})) == "FR"
    assert country.outbound("Narnia", TransformContext("country", {})) == "Narnia"


def test_picklist_matches_labels_loosely_and_writes_tool_values() -> None:
    table = {"marketing_qualified_lead": "Marketing Qualified Lead", "customer": "Customer"}
    ctx = TransformContext("lifecycle_stage", {"table": table})
    pick = TRANSFORMS["picklist"]
    for raw in (
        "Marketing Qualified Lead",
        "marketingqualifiedlead",
        "marketing_qualified_lead",
        " MARKETING-qualified lead ",
    ):
        assert pick.inbound(raw, ctx) == "marketing_qualified_lead"
    assert pick.inbound("Customer", ctx) == "customer"
    assert pick.outbound("customer", ctx) == "Customer"
    assert ctx.warnings == []
    assert pick.inbound("Churned", ctx) is None
    assert len(ctx.warnings) == 1


def test_picklist_without_table_is_an_error() -> None:
    with pytest.raises(MappingError, match="without a table"):
        TRANSFORMS["picklist"].inbound("lead", TransformContext("lifecycle_stage"))


@pytest.mark.parametrize(("raw", "expected"), [(" a ", "a"), ("", None), (12, "12"), (1.0, "1")])
def test_clean_text(raw: object, expected: str | None) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw", [True, {"a": 1}, ["a"]])
def test_clean_text_rejects_wrong_types(raw: object) -> None:
    with pytest.raises(MappingError, match="expected text"):
        clean_text(raw)


def test_every_transform_round_trips_its_own_output() -> None:
    """inbound(outbound(inbound(x))) == inbound(x): what we write reads back unchanged."""
    rng = random.Random(3)
    table = {"lead": "Lead", "customer": "Customer"}
    samples = [
        "Lead",
        "customer",
        "+1 415 555 0100",
        "USA",
        "france",
        "JOHN O'NEIL",
        "a@B.com",
        " x ",
        "Narnia",
        "van der berg",
    ]
    for name, transform in TRANSFORMS.items():
        for _ in range(50):
            raw = rng.choice(samples)
            ctx = TransformContext(name, {"table": table, "default_region": "US"})
            try:
                once = transform.inbound(raw, ctx)
            except MappingError:
                continue
            if once is None:
                continue
            assert transform.inbound(transform.outbound(once, ctx), ctx) == once, (name, raw)
