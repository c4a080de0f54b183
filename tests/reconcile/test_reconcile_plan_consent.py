"""The plan never loosens consent: opt-outs go out, (re-)subscribes never, each hold says why."""

from __future__ import annotations

from mappings.spec import parse_mapping
from reconcile.plan import LinkView, build_plan

SECTION = {
    "stream": "members",
    "id_field": "id",
    "updated_field": "updated",
    "natural_key": "email",
    "fields": [
        {"unified": "email", "tool": "email", "transform": "email", "identity": True},
        {"unified": "first_name", "tool": "first", "transform": "name"},
        {
            "unified": "email_consent",
            "tool": "status",
            "transform": "picklist",
            "picklist": "consent",
        },
    ],
    "picklists": {
        "consent": {
            "subscribed": "subscribed",
            "unsubscribed": "unsubscribed",
            "cleaned": ["unsubscribed", "cleaned"],
            "never_asked": "transactional",
        }
    },
    "create_unless": {"field": "email_consent", "one_of": ["unsubscribed", "cleaned"]},
}

MAPPING = parse_mapping("acme", {"entity": "person", **SECTION})


def _link(consent: str | None, first: str = "Ada") -> dict[str, list[LinkView]]:
    values = {"email": "ada@x.io", "first_name": first, "email_consent": consent}
    return {"u1": [LinkView(tool="acme", record_id="r1", values=values)]}


def _golden(consent: str | None, first: str = "Ada") -> dict[str, dict[str, str | None]]:
    return {"u1": {"email": "ada@x.io", "first_name": first, "email_consent": consent}}


def test_an_unsubscribe_is_written_over_a_subscription() -> None:
    plan = build_plan(_golden("unsubscribed"), _link("subscribed"), [MAPPING])
    (write,) = plan.writes
    assert write.payload == {"status": "unsubscribed"}
    assert plan.skipped == []


def test_a_subscription_is_never_written_over_an_opt_out_and_the_hold_says_why() -> None:
    plan = build_plan(_golden("subscribed", first="Ada B."), _link("unsubscribed"), [MAPPING])
    (write,) = plan.writes  # the other field still goes out
    assert write.payload == {"first": "Ada B."}
    (held,) = plan.skipped
    assert (held.field, held.record_id, held.old, held.new) == (
        "email_consent",
        "r1",
        "unsubscribed",
        "subscribed",
    )
    assert "never writes subscribed" in held.reason


def test_never_asked_is_not_raised_to_subscribed() -> None:
    plan = build_plan(_golden("subscribed"), _link("never_asked"), [MAPPING])
    assert plan.writes == []
    (held,) = plan.skipped
    assert held.field == "email_consent"


def test_a_bounce_that_reads_back_as_the_tools_opt_out_is_no_write() -> None:
    plan = build_plan(_golden("cleaned"), _link("unsubscribed"), [MAPPING])
    assert plan.writes == []
    assert plan.skipped == []


def test_someone_opted_out_elsewhere_is_not_created_and_the_decision_is_kept() -> None:
    for state in ("unsubscribed", "cleaned"):
        plan = build_plan(_golden(state), {}, [MAPPING])
        assert plan.writes == []
        (held,) = plan.skipped
        assert (held.field, held.record_id, held.new) == ("email_consent", None, state)
        assert "not created in acme" in held.reason


def test_a_create_carries_the_known_consent() -> None:
    plan = build_plan(_golden("never_asked"), {}, [MAPPING])
    (write,) = plan.writes
    assert (write.op, write.payload["status"]) == ("create", "transactional")
