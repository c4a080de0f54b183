"""Small pieces every ``sandbox/<tool>/faults.py`` needs: finding records in a body, picking a
merge survivor, reading the object type off a path.

Kept out of ``faults.py`` (the generic switchboard) because these know about stores and
vendor body shapes, which the switchboard deliberately does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from sandbox.store import RecordStore

__all__ = [
    "body_value",
    "int_key",
    "neighbour",
    "path_kind",
    "query_value",
    "records_under",
    "survivor",
]

K = TypeVar("K", int, str)
_CHUNK = 64


def neighbour(
    store: RecordStore[K], key: K, alive: Callable[[dict[str, Any]], bool] | None = None
) -> K | None:
    """The survivor a merge picks when none is named: the next live record in creation order,
    else the first live one before it (None when `key` is alone)."""

    def live(other: K) -> bool:
        if other == key:
            return False
        rec = store.get(other)
        return rec is not None and (alive is None or alive(rec))

    seq = store.seq_of(key) if key in store else -1
    start = seq + 1
    while True:
        chunk = store.page_after_seq(start, _CHUNK)
        if not chunk:
            break
        for _seq, other in chunk:
            if live(other):
                return other
        start = chunk[-1][0] + 1
    offset = 0
    while True:
        keys = store.page_by_creation(offset, _CHUNK)
        if not keys:
            return None
        for other in keys:
            if live(other):
                return other
        offset += _CHUNK


def survivor(
    store: RecordStore[K],
    loser: K,
    into: K | None,
    alive: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """The record `loser` merges into: `into` when it names a live other record, else the
    :func:`neighbour`; None when there is none."""
    if into is not None and into != loser:
        named = store.get(into)
        if named is not None and (alive is None or alive(named)):
            return named
    key = neighbour(store, loser, alive)
    return store.get(key) if key is not None else None


def records_under(
    list_keys: Iterable[str], single_keys: Iterable[str] = (), *, bare: Iterable[str] = ()
) -> Callable[[Any], list[dict[str, Any]]]:
    """A ``records`` hook: the list under one of `list_keys`, the object under one of
    `single_keys` (``{"user": {...}}``), a top-level list, or the body itself when it has
    every field of `bare` (``("id",)``: a single-record answer)."""
    lists, singles, marks = tuple(list_keys), tuple(single_keys), tuple(bare)

    def records(body: Any) -> list[dict[str, Any]]:
        if isinstance(body, list):
            return [r for r in body if isinstance(r, dict)]
        if not isinstance(body, dict):
            return []
        for name in lists:
            value = body.get(name)
            if isinstance(value, list):
                return [r for r in value if isinstance(r, dict)]
        for name in singles:
            value = body.get(name)
            if isinstance(value, dict):
                return [value]
        return [body] if marks and all(m in body for m in marks) else []

    return records


def path_kind(path: str, kinds: Iterable[str]) -> str | None:
    """The first of `kinds` that is a segment of `path` (``/api/v2/users/5.json`` → users)."""
    segments = {part.removesuffix(".json") for part in path.split("/")}
    for kind in kinds:
        if kind in segments:
            return kind
    return None


def body_value(body: bytes, *path: str) -> Any:
    """A value inside a JSON object request body (``pagination.starting_after``), else None."""
    if body[:1] != b"{":
        return None
    try:
        node: Any = json.loads(body)
    except ValueError:
        return None
    for name in path:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node


def int_key(value: str | None) -> int | None:
    """A record id from a fault's ``record``/``into`` string, for integer-keyed stores."""
    return int(value) if value and value.isdigit() else None


def query_value(query: str, name: str) -> str:
    """One query parameter's first value ('' when absent)."""
    return parse_qs(query).get(name, [""])[0]
