"""Incremental probabilistic resolution: new and changed records against the golden records.

Only records without a link are decided. They are compared with each other (blocking inside
the batch) and with the golden records (a ``BlockIndex`` over the golden set), scored with the
Fellegi-Sunter model, and joined over auto-merge edges. A cluster holds at most one existing
golden record (merging two goldens is a reviewer's call) and never a pair a reviewer rejected.
Pairs between the review and auto-merge thresholds that did not merge are returned as review
suggestions in the evidence. Pure: reads nothing but its arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mappings.spec import MappedRecord
from matching.blocking import BlockIndex, block_pairs
from matching.cluster import cluster
from matching.deterministic import new_unified_id
from matching.engine import tf_columns, train
from matching.fellegi_sunter import Model, term_frequencies
from matching.model import KnownIndex, MatchResult
from matching.scoring import explain, score_pairs
from matching.settings import MatchSettings, load_settings
from matching.table import Table, build_table

__all__ = ["MIN_TRAINING_RECORDS", "RETRAIN_GROWTH", "GoldenIndex", "prepare_model", "resolve"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
# Below this many records EM has too little to learn from: the settings' weights are used.
MIN_TRAINING_RECORDS = 1000
MAX_REVIEWS_PER_RECORD = 3
# A stored model is kept until the records it was trained on have grown this many times.
RETRAIN_GROWTH = 2.0


@dataclass
class GoldenIndex:
    """The golden set as a table with its blocking index (build once, query per batch)."""

    uids: list[str]
    table: Table
    index: BlockIndex

    @classmethod
    def build(
        cls, golden: dict[str, dict[str, str | None]], settings: MatchSettings
    ) -> GoldenIndex:
        uids = sorted(golden)
        columns = sorted({c.source for c in settings.comparisons})
        table = build_table(uids, (golden[u] for u in uids), columns)
        return cls(uids=uids, table=table, index=BlockIndex(table, settings.blocking))


def _model(
    settings: MatchSettings, batch: Table, golden: GoldenIndex, given: Model | None
) -> Model:
    if given is not None:
        model = given
    else:
        combined = Table.concat([golden.table, batch])
        pairs = block_pairs(combined, settings.blocking, max_block=settings.max_block)
        # Below MIN_TRAINING_RECORDS EM has too little to learn m from; u and the prior
        # are still measured on the data.
        model = train(settings, combined, pairs, learn_m=len(combined) >= MIN_TRAINING_RECORDS)
    if not model.tf_tables:
        model.tf_tables = term_frequencies([golden.table, batch], tf_columns(model))
    return model


def prepare_model(
    records: Sequence[MappedRecord],
    known: KnownIndex,
    stored: Model | None = None,
    *,
    settings: MatchSettings | None = None,
) -> tuple[Model, bool]:
    """(model to match with, trained now?): the stored one while the data has not doubled.

    Reusing one model across runs is what makes an incremental run decide like a full re-run.
    The model is learned only once there are ``MIN_TRAINING_RECORDS`` records; before that
    the untrained one is rebuilt each run and nothing is stored.
    """
    settings = settings or load_settings("person")
    total = len(known.golden) + len(records)
    if stored is not None and total < RETRAIN_GROWTH * max(stored.trained_records, 1):
        return stored, False
    golden = GoldenIndex.build({u: dict(v) for u, v in known.golden.items()}, settings)
    columns = sorted({c.source for c in settings.comparisons})
    batch = build_table([r.key for r in records], (r.values for r in records), columns)
    model = _model(settings, batch, golden, None)
    return model, len(golden.table) + len(batch) >= MIN_TRAINING_RECORDS


def resolve(
    records: Sequence[MappedRecord],
    known: KnownIndex,
    *,
    settings: MatchSettings | None = None,
    model: Model | None = None,
    golden_index: GoldenIndex | None = None,
) -> list[MatchResult]:
    """One ``MatchResult`` per input record, in input order."""
    settings = settings or load_settings("person")
    latest: dict[str, MappedRecord] = {}
    for record in records:
        previous = latest.get(record.key)
        if previous is None or record.updated_at >= previous.updated_at:
            latest[record.key] = record
    decided: dict[str, tuple[str, bool, dict[str, Any]]] = {}
    unlinked: list[MappedRecord] = []
    for key in sorted(latest):
        record = latest[key]
        uid = known.links.get((record.tool, record.record_id))
        if uid is not None:
            decided[key] = (uid, False, {"rule": "link", "score": 1.0})
        else:
            unlinked.append(record)
    if unlinked:
        decided.update(_decide(unlinked, known, settings, model, golden_index))
    return [
        MatchResult(
            record=r,
            unified_id=decided[r.key][0],
            created=decided[r.key][1],
            evidence=decided[r.key][2],
        )
        for r in records
    ]


def _decide(
    batch_records: list[MappedRecord],
    known: KnownIndex,
    settings: MatchSettings,
    given_model: Model | None,
    golden_index: GoldenIndex | None,
) -> dict[str, tuple[str, bool, dict[str, Any]]]:
    entity = batch_records[0].entity
    golden = golden_index or GoldenIndex.build(
        {u: dict(v) for u, v in known.golden.items()}, settings
    )
    columns = sorted({c.source for c in settings.comparisons})
    keys = [r.key for r in batch_records]
    batch = build_table(keys, (r.values for r in batch_records), columns)
    model = _model(settings, batch, golden, given_model)
    b, g = len(batch), len(golden.uids)

    inner = block_pairs(batch, settings.blocking, max_block=settings.max_block)
    s_inner = score_pairs(model, settings, batch, inner.left, batch, inner.right, inner.rules)
    outer = golden.index.candidates(batch)
    s_outer = score_pairs(
        model, settings, batch, outer.left, golden.table, outer.right, outer.rules
    )

    # Nodes: batch rows 0..b-1, golden rows b..b+g-1 (each golden anchored to itself).
    node_left = np.concatenate((s_inner.left, s_outer.left))
    node_right = np.concatenate((s_inner.right, s_outer.right + b))
    prob = np.concatenate((s_inner.probability, s_outer.probability))
    weight = np.concatenate((s_inner.weight, s_outer.weight))
    weight = np.where(prob >= 1.0, np.inf, weight)
    auto = prob >= settings.thresholds.auto_merge
    anchors = np.concatenate((np.full(b, -1, dtype=np.int64), np.arange(g, dtype=np.int64)))
    cannot = _cannot_links(known, keys, golden.uids, b)
    labels, refused = cluster(
        b + g,
        node_left[auto],
        node_right[auto],
        weight[auto],
        cannot_link=cannot,
        anchors=anchors,
    )
    del refused

    def node_name(node: int) -> str:
        return keys[node] if node < b else f"unified:{golden.uids[node - b]}"

    def pair_evidence(k: int) -> dict[str, Any]:
        n_inner = len(s_inner)
        return (
            explain(s_inner, k, model, settings)
            if k < n_inner
            else explain(s_outer, k - n_inner, model, settings)
        )

    ends = np.concatenate((node_left, node_right))
    edge_of = np.concatenate((np.arange(len(node_left)), np.arange(len(node_left))))
    order = np.argsort(ends, kind="stable")
    bounds = np.searchsorted(ends[order], np.arange(b + 1))

    def incident(node: int) -> IntArray:
        return np.sort(edge_of[order[bounds[node] : bounds[node + 1]]])

    members: dict[int, list[int]] = {}
    anchored = {int(labels[b + i]): i for i in range(g)}  # a cluster holds <= 1 golden
    for node in range(b):
        members.setdefault(int(labels[node]), []).append(node)
    out: dict[str, tuple[str, bool, dict[str, Any]]] = {}
    for label, nodes in members.items():
        if label in anchored:
            uid, created = golden.uids[anchored[label]], False
        else:
            uid, created = new_unified_id(entity, min(keys[n] for n in nodes)), True
        size = len(nodes) + (0 if created else 1)
        for node in nodes:
            evidence = _record_evidence(
                node,
                incident,
                labels,
                node_left,
                node_right,
                weight,
                auto,
                pair_evidence,
                node_name,
            )
            evidence["cluster_size"] = size
            evidence["target"] = "new" if created else "known"
            reviews = _reviews(
                node,
                incident,
                labels,
                node_left,
                node_right,
                prob,
                settings,
                pair_evidence,
                node_name,
            )
            reviews = [
                r for r in reviews if frozenset((keys[node], r["with"])) not in known.rejected
            ]
            if reviews:
                evidence["review"] = reviews
            out[keys[node]] = (uid, created, evidence)
    return out


def _cannot_links(
    known: KnownIndex, keys: list[str], uids: list[str], b: int
) -> list[tuple[int, int]]:
    if not known.rejected:
        return []
    node_of: dict[str, int] = {key: i for i, key in enumerate(keys)}
    golden_node = {uid: b + i for i, uid in enumerate(uids)}
    for (tool, record_id), uid in known.links.items():
        if uid in golden_node:
            node_of.setdefault(f"{tool}:{record_id}", golden_node[uid])
    pairs: list[tuple[int, int]] = []
    for pair in known.rejected:
        a, c = sorted(pair)
        if a in node_of and c in node_of:
            pairs.append((node_of[a], node_of[c]))
    return pairs


def _record_evidence(
    node: int,
    incident: Any,
    labels: IntArray,
    left: IntArray,
    right: IntArray,
    weight: npt.NDArray[np.float64],
    auto: npt.NDArray[np.bool_],
    pair_evidence: Any,
    node_name: Any,
) -> dict[str, Any]:
    """Why this record is where it is: its strongest auto-merge edge inside its cluster."""
    touching = incident(node)
    inside = touching[auto[touching] & (labels[left[touching]] == labels[right[touching]])]
    if len(inside):
        best = int(inside[np.lexsort((inside, -weight[inside]))[0]])
        evidence = pair_evidence(best)
        other = int(right[best]) if int(left[best]) == node else int(left[best])
        evidence["with"] = node_name(other)
        evidence["rule"] = "email" if evidence["keys"] else "probabilistic"
        return evidence
    alone: dict[str, Any] = {"rule": "new", "score": 0.0}
    if len(touching):
        best = int(touching[np.lexsort((touching, -weight[touching]))[0]])
        alone["best_candidate"] = {
            **pair_evidence(best),
            "with": node_name(int(right[best]) if int(left[best]) == node else int(left[best])),
        }
    return alone


def _reviews(
    node: int,
    incident: Any,
    labels: IntArray,
    left: IntArray,
    right: IntArray,
    prob: npt.NDArray[np.float64],
    settings: MatchSettings,
    pair_evidence: Any,
    node_name: Any,
) -> list[dict[str, Any]]:
    """Pairs in the review band that did not end up together (strongest first, capped)."""
    touching = incident(node)
    band = touching[
        (prob[touching] >= settings.thresholds.review)
        & (labels[left[touching]] != labels[right[touching]])
    ]
    band = band[np.lexsort((band, -prob[band]))][:MAX_REVIEWS_PER_RECORD]
    out = []
    for k in band:
        other = int(right[k]) if int(left[k]) == node else int(left[k])
        out.append({**pair_evidence(int(k)), "with": node_name(other)})
    return out
