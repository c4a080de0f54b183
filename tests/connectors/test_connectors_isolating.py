"""A refused batch is split until the refused records stand alone."""

from __future__ import annotations

import pytest

from connectors.errors import ErrorClass, WriteFailed
from connectors.writer import WriteItem, WriteOutcome, upsert_isolating


class _Refuses:
    """A writer whose vendor refuses any call that carries one of ``bad``."""

    tool = "any"

    def __init__(self, bad: set[str], error_class: ErrorClass = ErrorClass.SKIP) -> None:
        self.bad = bad
        self.error_class = error_class
        self.calls: list[int] = []

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        self.calls.append(len(items))
        if any(i.key in self.bad for i in items):
            raise WriteFailed(
                "any write failed: invalid",
                tool=self.tool,
                status=422,
                error_class=self.error_class,
            )
        return [WriteOutcome(i.key, ok=True, record_id=f"id-{i.key}") for i in items]

    def close(self) -> None:
        return None


def _items(n: int) -> list[WriteItem]:
    return [WriteItem(key=f"k{i}", record_id=None) for i in range(n)]


def test_one_refused_record_costs_only_itself() -> None:
    writer = _Refuses({"k5"})
    outcomes = upsert_isolating(writer, "person", _items(8))
    assert [o.key for o in outcomes] == [f"k{i}" for i in range(8)], "input order kept"
    assert [o.key for o in outcomes if not o.ok] == ["k5"]
    assert "invalid" in str(outcomes[5].error)
    assert len(writer.calls) <= 1 + 2 * 3, "bisection, not one call per record"


def test_a_clean_batch_is_one_call() -> None:
    writer = _Refuses(set())
    assert all(o.ok for o in upsert_isolating(writer, "person", _items(5)))
    assert writer.calls == [5]


@pytest.mark.parametrize("kind", [ErrorClass.FATAL, ErrorClass.RETRY, ErrorClass.RATE_LIMITED])
def test_failures_that_are_not_about_the_records_still_raise(kind: ErrorClass) -> None:
    writer = _Refuses({"k0"}, kind)
    with pytest.raises(WriteFailed):
        upsert_isolating(writer, "person", _items(4))
    assert writer.calls == [4], "no split: every half would fail alike"
