"""Deterministic person matching: existing link, then equal email, then equal E.164 phone.

Records of one batch are clustered with union-find over their keys, so A~B by email and
B~C by phone make one person even when A and C share nothing. A cluster joins the known
unified record its members point at most strongly (email before phone); otherwise it gets a
new id derived from its smallest member key, so the same input always gives the same ids
whatever its order, and a re-run after a crash mints the same ids again.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mappings.spec import MappedRecord
from matching.model import DEFAULT_RULES, KeyRule, KnownIndex, MatchResult, key_hash

__all__ = ["ID_NAMESPACE", "MAX_AGREEMENTS", "new_unified_id", "resolve"]

logger = logging.getLogger(__name__)

# Fixed namespace for uuid5 ids: changing it would re-key every new cluster.
ID_NAMESPACE = uuid.UUID("6f1c1f0e-3b0a-5e4d-9c59-2f6a5b7d8e10")
# Evidence lists at most this many agreeing keys (a huge cluster must not bloat a row).
MAX_AGREEMENTS = 10

_Key = tuple[str, str]  # (rule name, key value)


def new_unified_id(entity: str, member_key: str) -> str:
    """Deterministic id of a new unified record, from its smallest member key."""
    return uuid.uuid5(ID_NAMESPACE, f"{entity}:{member_key}").hex


class _UnionFind:
    def __init__(self, items: Sequence[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller key is the root: keeps the structure independent of input order.
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def _key_value(record: MappedRecord, rule: KeyRule) -> str | None:
    raw = record.values.get(rule.field)
    if raw is None or not raw.strip():
        return None
    return rule.normalize(raw)


def resolve(
    records: Sequence[MappedRecord],
    known: KnownIndex,
    *,
    rules: Sequence[KeyRule] = DEFAULT_RULES,
) -> list[MatchResult]:
    """One ``MatchResult`` per input record, in input order. Pure: reads nothing else."""
    rank = {rule.name: i for i, rule in enumerate(rules)}
    email_rule = next((r for r in rules if r.field == "email"), None)

    # Keys held by each distinct record (a record read twice in a batch is one node).
    node_keys: dict[str, set[_Key]] = defaultdict(set)
    node_emails: dict[str, set[str]] = defaultdict(set)
    node_tool: dict[str, str] = {}
    node_entity: dict[str, str] = {}
    for record in records:
        node = record.key
        node_tool[node] = record.tool
        node_entity[node] = record.entity
        for rule in rules:
            value = _key_value(record, rule)
            if value is not None:
                node_keys[node].add((rule.name, value))
                if rule is email_rule:
                    node_emails[node].add(value)
    nodes = sorted(node_tool)

    holders: dict[_Key, list[str]] = defaultdict(list)
    for node in nodes:
        for key in sorted(node_keys[node]):
            holders[key].append(node)

    blocked = _shared_keys(rules, holders, node_emails, known)
    links = {node: known.links.get(_split(node)) for node in nodes}

    uf = _UnionFind(nodes)
    for key, members in holders.items():
        if key in blocked:
            continue
        for other in members[1:]:
            uf.union(members[0], other)
    clusters: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        clusters[uf.find(node)].append(node)

    decided: dict[str, tuple[str, bool, dict[str, Any]]] = {}
    for members in clusters.values():
        target, created, conflicts = _target(
            members, node_keys, blocked, holders, links, known, rank, node_entity
        )
        for node in members:
            if links[node] is not None:
                decided[node] = (str(links[node]), False, {"rule": "link"})
                continue
            evidence = _evidence(
                node,
                target,
                members,
                node_keys,
                node_emails,
                node_tool,
                blocked,
                holders,
                known,
                rank,
                rules,
            )
            evidence["target"] = "new" if created else "known"
            if conflicts:
                evidence["conflicts"] = conflicts
            decided[node] = (target, created, evidence)

    results = []
    for record in records:
        unified_id, created, evidence = decided[record.key]
        results.append(
            MatchResult(record=record, unified_id=unified_id, created=created, evidence=evidence)
        )
    logger.debug("resolved %d records into %d clusters", len(records), len(clusters))
    return results


def _split(node: str) -> tuple[str, str]:
    tool, _, record_id = node.partition(":")
    return tool, record_id


def _shared_keys(
    rules: Sequence[KeyRule],
    holders: dict[_Key, list[str]],
    node_emails: dict[str, set[str]],
    known: KnownIndex,
) -> dict[_Key, int]:
    """Keys switched off by their rule's guard, with the number of distinct emails seen."""
    limits = {r.name: r.max_distinct_emails for r in rules if r.max_distinct_emails is not None}
    blocked: dict[_Key, int] = {}
    for key, members in holders.items():
        limit = limits.get(key[0])
        if limit is None:
            continue
        emails = set(known.key_emails.get(key[1], frozenset()))
        for node in members:
            emails |= node_emails[node]
        if len(emails) > limit:
            blocked[key] = len(emails)
    return blocked


def _target(
    members: list[str],
    node_keys: dict[str, set[_Key]],
    blocked: dict[_Key, int],
    holders: dict[_Key, list[str]],
    links: dict[str, str | None],
    known: KnownIndex,
    rank: dict[str, int],
    node_entity: dict[str, str],
) -> tuple[str, bool, list[str]]:
    """The unified id for a cluster's unlinked members: (id, created, other candidate ids)."""
    candidates: set[tuple[int, str]] = set()
    for node in members:
        if links[node] is not None:
            continue
        for key in node_keys[node]:
            if key in blocked:
                continue
            strength = rank[key[0]]
            candidates.update((strength, uid) for uid in known.lookup(*key))
            for other in holders[key]:
                linked = links[other]
                if linked is not None:
                    candidates.add((strength, linked))
    if candidates:
        _, target = min(candidates)
        conflicts = sorted({uid for _, uid in candidates} - {target})
        return target, False, conflicts
    unlinked = [node for node in members if links[node] is None]
    if not unlinked:  # every member is linked: nothing to decide
        return "", False, []
    first = min(unlinked)
    return new_unified_id(node_entity[first], first), True, []


def _evidence(
    node: str,
    target: str,
    members: list[str],
    node_keys: dict[str, set[_Key]],
    node_emails: dict[str, set[str]],
    node_tool: dict[str, str],
    blocked: dict[_Key, int],
    holders: dict[_Key, list[str]],
    known: KnownIndex,
    rank: dict[str, int],
    rules: Sequence[KeyRule],
) -> dict[str, Any]:
    """Which keys of this record agreed with which member or golden record (values hashed)."""
    limits = {r.name: r.max_distinct_emails for r in rules}
    own_emails = node_emails[node]
    agreements: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    total = 0
    for rule_name, value in sorted(node_keys[node], key=lambda k: (rank[k[0]], k[1])):
        digest = key_hash(value)
        if (rule_name, value) in blocked:
            ignored.append(
                {
                    "rule": rule_name,
                    "value_hash": digest,
                    "reason": f"shared by {blocked[(rule_name, value)]} distinct emails "
                    f"(limit {limits[rule_name]})",
                }
            )
            continue
        partners: list[tuple[str, set[str], bool]] = []
        if target in known.lookup(rule_name, value):
            golden_email = known.emails.get(target)
            partners.append((f"unified:{target}", {golden_email} if golden_email else set(), False))
        others = holders[(rule_name, value)]
        total += len(partners) + len(others) - 1
        for other in others:
            if len(partners) > MAX_AGREEMENTS:
                break  # enough to explain; a big cluster must not cost n^2 here
            if other != node:
                partners.append((other, node_emails[other], node_tool[other] == node_tool[node]))
        for partner, emails, same_tool in partners:
            agreement: dict[str, Any] = {"rule": rule_name, "value_hash": digest, "with": partner}
            if rule_name != "email":
                agreement["emails_differ"] = bool(own_emails and emails and own_emails != emails)
                agreement["same_tool"] = same_tool
            agreements.append(agreement)
    best = min((rank[a["rule"]] for a in agreements), default=None)
    rule = "new" if best is None else next(n for n, i in rank.items() if i == best)
    evidence: dict[str, Any] = {
        "rule": rule,
        "agreements": agreements[:MAX_AGREEMENTS],
        "cluster_size": len(members),
        "review": rule != "email" and any(a.get("emails_differ") for a in agreements),
    }
    if total > MAX_AGREEMENTS:
        evidence["agreements_total"] = total
    if ignored:
        evidence["ignored"] = ignored
    return evidence
