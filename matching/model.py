"""Shapes shared by every matching engine: match keys, the index of known people, results.

The deterministic engine and the probabilistic one planned after it (Splink-style
comparisons with levels, term frequencies and thresholds) both take the same
``(records, KnownIndex)`` and return ``MatchResult``s with their evidence; they differ only
in how they decide. ``KeyRule``s are the blocking keys both can use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from mappings.spec import MappedRecord

__all__ = [
    "DEFAULT_RULES",
    "KeyRule",
    "KnownIndex",
    "MatchResult",
    "Resolver",
    "key_hash",
    "normalize_email_key",
    "normalize_phone_key",
]


def normalize_email_key(value: str) -> str | None:
    """Lenient email key: values are already canonical, this only guards hand-made input."""
    key = value.strip().lower()
    return key if "@" in key else None


def normalize_phone_key(value: str) -> str | None:
    """Phone key: only E.164 values (what the mappings produce) are trusted as keys."""
    key = value.strip()
    return key if key.startswith("+") and key[1:].isdigit() and len(key) >= 8 else None


def key_hash(value: str) -> str:
    """Short sha256 of a key value, so evidence explains a match without copying an email."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRule:
    """A unified field whose equal values mean "same person".

    Rules are tried strongest first. ``max_distinct_emails`` switches a key off when too many
    different emails share its value (an office switchboard number is not a person).
    """

    name: str
    field: str
    normalize: Callable[[str], str | None]
    max_distinct_emails: int | None = None


DEFAULT_RULES: tuple[KeyRule, ...] = (
    KeyRule("email", "email", normalize_email_key),
    KeyRule("phone", "phone", normalize_phone_key, max_distinct_emails=3),
)


def _keys(values: Mapping[str, str | None], rule: KeyRule) -> str | None:
    raw = values.get(rule.field)
    if raw is None or not raw.strip():
        return None
    return rule.normalize(raw)


@dataclass(frozen=True)
class KnownIndex:
    """What earlier runs established: links to unified ids and the golden values' keys."""

    links: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # rule name -> key value -> unified ids holding it
    keys: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    # unified id -> its golden email (for "different emails, same phone" review flags)
    emails: Mapping[str, str] = field(default_factory=dict)
    # phone-like key value -> distinct golden emails using it (for the shared-key guard)
    key_emails: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # unified id -> golden values (what the probabilistic engine compares new records with)
    golden: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    # pairs of record keys ("tool:record_id") a reviewer said are different people
    rejected: frozenset[frozenset[str]] = frozenset()

    @classmethod
    def build(
        cls,
        golden: Mapping[str, Mapping[str, str | None]],
        links: Mapping[tuple[str, str], str],
        rules: Sequence[KeyRule] = DEFAULT_RULES,
        *,
        rejected: Iterable[tuple[str, str]] = (),
    ) -> KnownIndex:
        """Index golden values (unified id -> values) and links ((tool, record id) -> id)."""
        keys: dict[str, dict[str, set[str]]] = {rule.name: {} for rule in rules}
        emails: dict[str, str] = {}
        key_emails: dict[str, set[str]] = {}
        email_rule = next((r for r in rules if r.field == "email"), DEFAULT_RULES[0])
        for unified_id, values in golden.items():
            email = _keys(values, email_rule)
            if email is not None:
                emails[unified_id] = email
            for rule in rules:
                value = _keys(values, rule)
                if value is None:
                    continue
                keys[rule.name].setdefault(value, set()).add(unified_id)
                if rule.max_distinct_emails is not None and email is not None:
                    key_emails.setdefault(value, set()).add(email)
        return cls(
            links=dict(links),
            keys={
                name: {v: frozenset(ids) for v, ids in table.items()}
                for name, table in keys.items()
            },
            emails=emails,
            key_emails={v: frozenset(e) for v, e in key_emails.items()},
            golden={uid: dict(values) for uid, values in golden.items()},
            rejected=frozenset(frozenset(pair) for pair in rejected if pair[0] != pair[1]),
        )

    def members(self) -> dict[str, list[str]]:
        """Unified id -> record keys linked to it (sorted)."""
        out: dict[str, list[str]] = {}
        for (tool, record_id), uid in sorted(self.links.items()):
            out.setdefault(uid, []).append(f"{tool}:{record_id}")
        return out

    def lookup(self, rule: str, value: str) -> frozenset[str]:
        """Unified ids whose golden record has ``value`` for ``rule``."""
        return self.keys.get(rule, {}).get(value, frozenset())


class MatchResult(BaseModel):
    """Which unified record a tool record belongs to, and why (stored as the decision)."""

    model_config = ConfigDict(frozen=True)

    record: MappedRecord
    unified_id: str
    created: bool
    evidence: dict[str, Any]


class Resolver(Protocol):
    """A matching engine: the seam where the probabilistic engine plugs in later."""

    def __call__(self, records: Sequence[MappedRecord], known: KnownIndex) -> list[MatchResult]: ...
