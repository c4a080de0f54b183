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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings.spec import MappedRecord
from matching.blocking import BlockIndex, PairCodes, Pairs, block_pairs, pair_codes
from matching.cluster import cluster
from matching.deterministic import new_unified_id
from matching.engine import tf_columns, train
from matching.fellegi_sunter import Model, term_frequencies
from matching.model import KnownIndex, MatchResult
from matching.scoring import explain, score_pairs
from matching.settings import MatchSettings, load_settings
from matching.table import Table, build_table

__all__ = [
    "MAX_TRAINING_RECORDS",
    "MIN_TRAINING_RECORDS",
    "RETRAIN_GROWTH",
    "GoldenIndex",
    "prepare_model",
    "resolve",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# Pairs scored at once when weighing a large batch (a few hundred bytes each while scored).
SCORE_CHUNK = 1_000_000
# Below this many records EM has too little to learn from: the settings' weights are used.
MIN_TRAINING_RECORDS = 1000
MAX_REVIEWS_PER_RECORD = 3
# A stored model is kept until the records it was trained on have grown this many times.
RETRAIN_GROWTH = 2.0
# Above this many records the model is learned from a seeded sample of them.
MAX_TRAINING_RECORDS = 250_000


@dataclass
class GoldenIndex:
    """The golden set as a table with its blocking index (build once, query per batch)."""

    uids: list[str]
    table: Table
    index: BlockIndex

    @classmethod
    def build(
        cls, golden: Mapping[str, Mapping[str, str | None]], settings: MatchSettings
    ) -> GoldenIndex:
        uids = sorted(golden)
        columns = sorted({c.source for c in settings.comparisons})
        table = build_table(uids, (golden[u] for u in uids), columns)
        index = BlockIndex(table, settings.blocking, max_block=settings.max_block)
        return cls(uids=uids, table=table, index=index)


def _training_sample(ids: list[str]) -> IntArray:
    """A fixed sample of rows to learn from when the set is large, in record-key order.

    Blocking a sample of a share ``p`` of the records keeps a share ``p**2`` of the pairs,
    matches and non-matches alike, so m (from candidate pairs), u (random pairs) and the
    prior (matches over all pairs) are estimated without bias, at a bounded cost: the
    candidate pairs of a million records would not fit in memory. The records with the
    smallest stable hash of their key are taken and ordered by key, so the same records in
    any order train the same model.
    """
    keys = np.asarray(ids, dtype=object)
    hashed = pd.util.hash_array(keys, categorize=False)
    rows = np.argpartition(hashed, MAX_TRAINING_RECORDS - 1)[:MAX_TRAINING_RECORDS]
    return rows[np.argsort(keys[rows], kind="stable")].astype(np.int64)


def _model(
    settings: MatchSettings, batch: Table, golden: GoldenIndex, given: Model | None
) -> Model:
    if given is not None:
        model = given
    else:
        combined = Table.concat([golden.table, batch])
        total = len(combined)
        if total > MAX_TRAINING_RECORDS:
            combined = combined.take(_training_sample(combined.ids))
        pairs = block_pairs(combined, settings.blocking, max_block=settings.max_block)
        # Below MIN_TRAINING_RECORDS EM has too little to learn m from; u and the prior
        # are still measured on the data.
        model = train(settings, combined, pairs, learn_m=total >= MIN_TRAINING_RECORDS)
        del combined, pairs
        if total > MAX_TRAINING_RECORDS:
            # Frequencies and the retraining clock follow the whole set, not the sample.
            model.trained_records = total
            model.tf_tables = {}
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
    if settings.distinct:
        return Model(comparisons=[]), False
    total = len(known.golden) + len(records)
    if stored is not None and total < RETRAIN_GROWTH * max(stored.trained_records, 1):
        return stored, False
    golden = GoldenIndex.build(known.golden, settings)
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
        elif record.external_id is not None and record.external_id in known.golden:
            # The tool holds the unified id revsync wrote: that is the tool's own word.
            decided[key] = (record.external_id, False, {"rule": "external_id", "score": 1.0})
        else:
            unlinked.append(record)
    if unlinked and settings.distinct:
        decided.update(
            (r.key, (new_unified_id(r.entity, r.key), True, {"rule": "distinct"})) for r in unlinked
        )
    elif unlinked:
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
    golden = golden_index or GoldenIndex.build(known.golden, settings)
    columns = sorted({c.source for c in settings.comparisons})
    keys = [r.key for r in batch_records]
    batch = build_table(keys, (r.values for r in batch_records), columns)
    model = _model(settings, batch, golden, given_model)
    b = len(batch)

    inner_codes = pair_codes(batch, settings.blocking, max_block=settings.max_block)
    outer = golden.index.candidates(batch)
    keep_in, keep_out = _kept_pairs(model, settings, batch, golden.table, inner_codes, outer)
    inner = inner_codes.pairs(keep_in)
    del inner_codes, keep_in
    s_inner = score_pairs(model, settings, batch, inner.left, batch, inner.right, inner.rules)
    s_outer = score_pairs(
        model,
        settings,
        batch,
        outer.left[keep_out],
        golden.table,
        outer.right[keep_out],
        outer.rules[keep_out],
    )
    del inner, outer

    # Nodes: batch rows 0..b-1, then only the golden rows some batch record was compared
    # with (in row order, each anchored to itself): a golden no edge touches cannot change
    # a cluster, and leaving the other goldens out keeps one record's cost off the golden
    # set's size. The order of nodes, hence of tied edges, is the same as over all goldens.
    touched, golden_node = np.unique(s_outer.right, return_inverse=True)
    g = len(touched)
    node_left = np.concatenate((s_inner.left, s_outer.left))
    node_right = np.concatenate((s_inner.right, golden_node.reshape(-1) + b))
    prob = np.concatenate((s_inner.probability, s_outer.probability))
    weight = np.concatenate((s_inner.weight, s_outer.weight))
    weight = np.where(prob >= 1.0, np.inf, weight)
    auto = prob >= settings.thresholds.auto_merge
    anchors = np.concatenate((np.full(b, -1, dtype=np.int64), np.arange(g, dtype=np.int64)))
    uids = [golden.uids[int(row)] for row in touched]
    cannot = _cannot_links(known, keys, uids, b)
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
        return keys[node] if node < b else f"unified:{uids[node - b]}"

    shared: dict[Any, Any] = {}  # one copy of each distinct comparisons list and item

    def pair_evidence(k: int) -> dict[str, Any]:
        n_inner = len(s_inner)
        return (
            explain(s_inner, k, model, settings, shared)
            if k < n_inner
            else explain(s_outer, k - n_inner, model, settings, shared)
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
            uid, created = uids[anchored[label]], False
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


def _weights(
    model: Model, settings: MatchSettings, left: Table, right: Table, pairs: Pairs
) -> tuple[FloatArray, FloatArray]:
    """(weight as clustering orders edges, probability) of a chunk of pairs."""
    scored = score_pairs(model, settings, left, pairs.left, right, pairs.right)
    weight = np.where(scored.probability >= 1.0, np.inf, scored.weight)
    return weight, scored.probability


class _Strongest:
    """Each batch record's strongest pair so far: highest weight, then lowest pair number
    (NaN weights last, as ``np.lexsort`` puts them), fed chunk by chunk in pair order, so no
    weight of all pairs is held."""

    def __init__(self, b: int) -> None:
        self.weight = np.full(b, np.nan, dtype=np.float64)
        self.edge = np.full(b, -1, dtype=np.int64)

    def offer(self, ends: Sequence[IntArray], first_edge: int, weight: FloatArray) -> None:
        """Pairs ``first_edge + k`` with ``weight[k]``, touching the records ``end[k]`` of
        each of ``ends``; all numbered above any pair offered before."""
        k, b = len(weight), len(self.edge)
        top = np.full(b, np.nan)
        for nodes in ends:
            np.fmax.at(top, nodes, weight)  # each record's highest weight (NaN: only NaN ones)
        nan = np.isnan(weight)
        first = np.full(b, k, dtype=np.int64)
        for nodes in ends:
            at_top = top[nodes]
            hit = np.flatnonzero((weight == at_top) | (nan & np.isnan(at_top)))
            np.minimum.at(first, nodes[hit], hit)  # the lowest pair number reaching it
        touched = np.flatnonzero(first < k)
        new, old = top[touched], self.weight[touched]
        # An earlier pair keeps a tie; a number beats NaN.
        better = (self.edge[touched] < 0) | (new > old) | (np.isnan(old) & ~np.isnan(new))
        won = touched[better]
        self.weight[won] = new[better]
        self.edge[won] = first_edge + first[won]


def _kept_pairs(
    model: Model,
    settings: MatchSettings,
    batch: Table,
    golden: Table,
    inner: PairCodes,
    outer: Pairs,
) -> tuple[IntArray, IntArray]:
    """The pairs a decision or its evidence can use: those at or above the review threshold
    (every merge and review suggestion) and each batch record's strongest pair (the "best
    candidate" of a record left alone). Dropping the rest changes no cluster and no evidence:
    the kept pairs keep their order, so ties break the same way. Pairs are scored
    ``SCORE_CHUNK`` at a time (inner ones, then outer ones), so the comparison vectors and
    weights of millions of pairs never sit in memory at once."""
    n_in = len(inner)
    strongest = _Strongest(len(batch))
    review: list[IntArray] = []
    for start in range(0, n_in, SCORE_CHUNK):
        part = inner.pairs(slice(start, start + SCORE_CHUNK))
        weight, prob = _weights(model, settings, batch, batch, part)
        review.append(start + np.flatnonzero(prob >= settings.thresholds.review))
        strongest.offer((part.left, part.right), start, weight)
    for start in range(0, len(outer), SCORE_CHUNK):
        part = _slice(outer, slice(start, start + SCORE_CHUNK))
        weight, prob = _weights(model, settings, batch, golden, part)
        review.append(n_in + start + np.flatnonzero(prob >= settings.thresholds.review))
        strongest.offer((part.left,), n_in + start, weight)
    best = strongest.edge[strongest.edge >= 0]
    keep = np.unique(np.concatenate([*review, best]))
    split = int(np.searchsorted(keep, n_in))
    return keep[:split], keep[split:] - n_in


def _slice(pairs: Pairs, part: slice) -> Pairs:
    return Pairs(left=pairs.left[part], right=pairs.right[part], rules=pairs.rules[part])


def _cannot_links(
    known: KnownIndex, keys: list[str], uids: list[str], b: int
) -> list[tuple[int, int]]:
    """Rejected pairs as node pairs; only pairs with a batch record can matter (two goldens
    never join anyway), so this costs the rejections, not the links."""
    if not known.rejected:
        return []
    batch_node: dict[str, int] = {key: i for i, key in enumerate(keys)}
    golden_node = {uid: b + i for i, uid in enumerate(uids)}

    def node_of(key: str) -> int | None:
        if key in batch_node:
            return batch_node[key]
        tool, _, record_id = key.partition(":")
        uid = known.links.get((tool, record_id))
        return golden_node.get(uid) if uid is not None else None

    pairs: list[tuple[int, int]] = []
    for pair in known.rejected:
        a, c = sorted(pair)
        if a not in batch_node and c not in batch_node:
            continue
        na, nc = node_of(a), node_of(c)
        if na is not None and nc is not None:
            pairs.append((na, nc))
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
        # A deterministic key (email for people, domain for companies) names the rule.
        evidence["rule"] = str(evidence["keys"][0]) if evidence["keys"] else "probabilistic"
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
