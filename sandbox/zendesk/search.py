"""A faithful subset of Zendesk's search query language (``GET /api/v2/search``), pure.

Terms are ANDed: ``type:user|ticket|organization``, ``field:value`` (``:`` equals), ``field<value``,
``field>value``, ``<=``/``>=``, quoted values, and bare words matched against names, emails and
subjects. Ticket ``status`` compares in Zendesk's order (new < open < pending < hold < solved <
closed); ``created``/``updated`` compare dates (``2024-05-01``). Unknown fields match nothing, as an
unknown field in Zendesk finds no results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Term", "matches", "parse_query"]

KINDS = {"user": "users", "ticket": "tickets", "organization": "organizations"}
_STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")
_TERM = re.compile(r'(?:(?P<key>[a-z_]+)(?P<op><=|>=|:|<|>))?(?P<value>"[^"]*"|\S+)')
_DATE_FIELDS = {"created": "created_at", "updated": "updated_at"}
_FIELDS = {
    "users": ("email", "name", "role", "external_id", "phone", "organization_id", "tags"),
    "tickets": (
        "status",
        "priority",
        "type",
        "subject",
        "requester_id",
        "assignee_id",
        "organization_id",
        "external_id",
        "tags",
    ),
    "organizations": ("name", "external_id", "tags"),
}
_ALIASES = {
    "requester": "requester_id",
    "assignee": "assignee_id",
    "organization": "organization_id",
}


@dataclass(frozen=True)
class Term:
    """One query term: ``key op value`` (key None for free text)."""

    key: str | None
    op: str
    value: str


def parse_query(query: str) -> tuple[set[str], list[Term]]:
    """The kinds (``users``…) the ``type:`` terms name (empty: all) and the other terms."""
    kinds: set[str] = set()
    terms: list[Term] = []
    for m in _TERM.finditer(query or ""):
        key, op, value = m.group("key"), m.group("op") or ":", m.group("value").strip('"')
        if key == "type" and op == ":":
            kinds.add(KINDS.get(value.lower(), value.lower()))
        else:
            terms.append(Term(key.lower() if key else None, op, value.lower()))
    return kinds, terms


def _compare(have: Any, op: str, want: str, order: tuple[str, ...] = ()) -> bool:
    if have is None:
        return False
    if op == ":":
        if isinstance(have, list):
            return want in [str(v).lower() for v in have]
        return str(have).lower() == want
    if order:
        if have not in order or want not in order:
            return False
        return _ordered(order.index(have), op, order.index(want))
    return _ordered(str(have)[: len(want)], op, want)  # ISO dates compare as strings


def _ordered(left: Any, op: str, right: Any) -> bool:
    return bool(
        {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    )


def _haystack(kind: str, rec: dict[str, Any]) -> str:
    parts = [rec.get("name"), rec.get("email"), rec.get("subject"), rec.get("description")]
    return " ".join(str(p) for p in parts if p).lower()


def _term_ok(kind: str, rec: dict[str, Any], term: Term) -> bool:
    if term.key is None:
        return term.value in _haystack(kind, rec)
    if term.key in _DATE_FIELDS:
        return _compare(rec.get(_DATE_FIELDS[term.key]), term.op, term.value)
    field = _ALIASES.get(term.key, term.key)
    if field not in _FIELDS[kind]:
        return False
    order = _STATUS_ORDER if (kind, field) == ("tickets", "status") else ()
    return _compare(rec.get(field), term.op, term.value, order)


def matches(
    pools: Mapping[str, Iterable[dict[str, Any]]], query: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, record) for every record of the queried kinds that every term matches."""
    kinds, terms = parse_query(query)
    for kind, pool in pools.items():
        if kinds and kind not in kinds:
            continue
        for rec in pool:
            if all(_term_ok(kind, rec, t) for t in terms):
                yield kind, rec
