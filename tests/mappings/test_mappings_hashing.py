"""values_hash: stable, order-free, blind to None vs "" vs missing, sensitive to values."""

from __future__ import annotations

import random

from mappings.hashing import values_hash


def test_hash_ignores_key_order_and_empties() -> None:
    a = {"email": "a@example.com", "city": None, "company": "Acme"}
    b = {"company": "Acme", "city": "", "email": "a@example.com"}
    c = {"email": "a@example.com", "company": "Acme"}
    assert values_hash(a) == values_hash(b) == values_hash(c)
    assert len(values_hash(a)) == 64


def test_hash_is_stable_across_processes() -> None:
    # Pinned: the hash is stored in the state DB, so it must never change silently.
    assert values_hash({"email": "a@example.com"}) == (
        "7f777fc16f227ee680879e727d3570771de182ef1de65af190f52b4dc878e6ed"
    )


def test_hash_changes_when_any_value_changes() -> None:
    rng = random.Random(5)
    seen: set[str] = set()
    for i in range(300):
        values = {f"f{j}": str(rng.randint(0, 10**9)) for j in range(4)}
        values[f"f{i % 4}"] = f"unique-{i}"
        seen.add(values_hash(values))
    assert len(seen) == 300
    assert values_hash({"a": "1"}) != values_hash({"b": "1"})
    assert values_hash({"a": "x"}) != values_hash({"a": "X"})
