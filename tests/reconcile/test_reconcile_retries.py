"""The retry policy across runs for writes a run failed to make."""

from __future__ import annotations

import datetime as dt

from reconcile.plan import Plan, PlannedWrite
from reconcile.retries import MAX_ATTEMPTS, MAX_PAUSE, due_for_retry, hold_refused, pause_after

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_pause_grows_from_none_to_a_day() -> None:
    pauses = [pause_after(n) for n in range(1, 10)]
    assert pauses[0] == dt.timedelta(0), "the run after an outage tries again at once"
    assert pauses[1:4] == [dt.timedelta(minutes=m) for m in (15, 30, 60)]
    assert pauses == sorted(pauses)
    assert max(pauses) == MAX_PAUSE


def test_an_outage_is_retried_after_its_pause_and_given_up_at_the_cap() -> None:
    assert due_for_retry(1, T0, True, T0)
    assert not due_for_retry(3, T0, True, T0 + dt.timedelta(minutes=29))
    assert due_for_retry(3, T0, True, T0 + dt.timedelta(minutes=30))
    assert not due_for_retry(MAX_ATTEMPTS, T0, True, T0 + dt.timedelta(days=30))


def test_a_refused_record_is_never_retried_as_it_was() -> None:
    assert not due_for_retry(1, T0, False, T0 + dt.timedelta(days=30))


def _write(tool: str, uid: str, **payload: object) -> PlannedWrite:
    return PlannedWrite(
        tool=tool,
        entity="person",
        unified_id=uid,
        op="update",
        record_id="1",
        natural_key="a@x.io",
        changes={},
        payload=dict(payload),
    )


def test_a_write_refused_exactly_as_planned_is_held_and_a_changed_one_goes() -> None:
    plan = Plan(
        writes=[
            _write("zendesk", "u1", name="Tyrell"),
            _write("zendesk", "u2", name="Acme Ltd"),
            _write("hubspot", "u1", name="Tyrell"),
        ]
    )
    refused = {
        ("zendesk", "u1"): ({"unified_id": "u1", "op": "update", "name": "Tyrell"}, "taken"),
        ("zendesk", "u2"): ({"unified_id": "u2", "op": "update", "name": "Acme"}, "taken"),
    }

    held = hold_refused(plan, refused)

    assert [(w.tool, w.unified_id) for w in held.writes] == [("zendesk", "u2"), ("hubspot", "u1")]
    (skip,) = held.skipped
    assert (skip.tool, skip.unified_id) == ("zendesk", "u1")
    assert "taken" in skip.reason
    assert hold_refused(plan, {}) is plan
