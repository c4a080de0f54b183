"""Survivorship: which tool's value becomes the golden value of each field.

The choice per field is a maximum over a total order of candidate values (authoritative tool
first, then most recent, then tool name and record id), and empty values are never
candidates. Because only the winner matters, merging batch by batch keeps just the current
winner per field (the provenance) and still gives the same result as merging everything at
once; that is what lets a run fold in only what changed since the cursor.

A ``most_frequent`` field needs more than the winner: its provenance keeps one vote per
record (the record's latest non-empty value), so a later batch can move or add a vote and
the count is still the count over all records.

An entity whose golden record has one record (``default: latest_record``, tickets) takes
that record's values as read last, empty ones included: there is no other record whose value
an empty one should give way to, so a ticket unassigned, or whose requester was deleted, in
its tool is so in its golden record too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mappings.consent import CONSENT_FIELDS, CONSENT_REASONS, restrictiveness
from mappings.custom import CustomField
from mappings.errors import MappingConfigError
from mappings.spec import MAPPINGS_DIR, MappedRecord, custom_fields, mappings_dir

__all__ = [
    "FIELD_RULES",
    "FieldSource",
    "GoldenView",
    "Rules",
    "Vote",
    "golden_from_scratch",
    "load_rules",
    "merge",
    "repoint",
]

SURVIVORSHIP_FILE: Path = MAPPINGS_DIR / "survivorship.yaml"
_NO_TIME = datetime.min.replace(tzinfo=UTC)
_RECORD_FIELDS = {"tool", "record_id", "updated_at", "value"}


FieldRule = Literal["most_recent_non_empty", "most_frequent", "most_restrictive"]
FIELD_RULES: tuple[str, ...] = ("most_recent_non_empty", "most_frequent", "most_restrictive")
EntityRule = Literal["most_recent_non_empty", "latest_record"]


class Rules(BaseModel):
    """Survivorship rules of one entity, as written in ``survivorship.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: EntityRule = "most_recent_non_empty"
    """``latest_record``: the golden record is its one record's values as read last (for an
    entity never matched, ``distinct: true``); no per-field rules then."""
    authoritative: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    vendor_merge: tuple[str, ...] = ()
    """Tools whose in-tool duplicates revsync merges through the vendor's merge API."""

    @model_validator(mode="after")
    def _one_rule_per_field(self) -> Rules:
        if self.default == "latest_record" and (self.authoritative or self.fields):
            raise ValueError("latest_record takes no authoritative or per-field rules")
        both = sorted(f for f, r in self.fields.items() if r != "most_recent_non_empty")
        both = [f for f in both if f in self.authoritative]
        if both:
            raise ValueError(f"fields both authoritative and most_frequent: {both}")
        # Consent is never settled by a tool's say-so or by recency (mappings.consent).
        loose = sorted(
            f
            for f in CONSENT_FIELDS
            if f in self.authoritative
            or self.fields.get(f, "most_restrictive") != "most_restrictive"
        )
        if loose:
            raise ValueError(f"consent fields take most_restrictive only: {loose}")
        restrictive = sorted(
            f for f, r in self.fields.items() if r == "most_restrictive" and f not in CONSENT_FIELDS
        )
        if restrictive:
            raise ValueError(f"most_restrictive is for consent fields only, not {restrictive}")
        reasons = sorted(f for f in CONSENT_REASONS if f in self.authoritative or f in self.fields)
        if reasons:
            raise ValueError(
                f"a consent reason follows its consent state and takes no rule: {reasons}"
            )
        return self

    def rule(self, field: str) -> FieldRule:
        if field in CONSENT_FIELDS:
            return "most_restrictive"
        if self.default == "latest_record":
            return "most_recent_non_empty"  # merge() does not get this far for such entities
        return self.fields.get(field, self.default)


class Vote(BaseModel):
    """One record's ballot for a ``most_frequent`` field: its latest non-empty value."""

    model_config = ConfigDict(frozen=True)

    value: str
    updated_at: datetime


class FieldSource(BaseModel):
    """Where a golden value came from: the tool record and its modification time."""

    model_config = ConfigDict(frozen=True)

    tool: str
    record_id: str
    updated_at: datetime
    value: str
    votes: dict[str, Vote] = Field(default_factory=dict)
    """``most_frequent`` fields only: record key (``tool:record_id``) -> its vote."""


class GoldenView(BaseModel):
    """The merged values of one unified record, each non-empty value with its source."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, str | None] = Field(default_factory=dict)
    provenance: dict[str, FieldSource] = Field(default_factory=dict)


def load_rules(entity: str = "person") -> Rules:
    """Rules for ``entity``: ``survivorship.yaml`` plus each custom field's declared rule.

    The file is the account's (in the mappings directory) when it has one, else the shipped
    one; parsed once per directory.
    """
    return _rules(mappings_dir(), entity, tuple(custom_fields(entity).values()))


@cache
def _rules(directory: Path, entity: str, custom: tuple[CustomField, ...]) -> Rules:
    path = directory / "survivorship.yaml"
    if not path.is_file():
        path = SURVIVORSHIP_FILE
    with path.open(encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    if not isinstance(document, dict) or entity not in document:
        raise MappingConfigError(f"survivorship.yaml has no rules for entity {entity!r}")
    try:
        rules = Rules.model_validate(document[entity])
    except ValidationError as exc:
        raise MappingConfigError(f"invalid survivorship rules for {entity!r}: {exc}") from None
    return _with_custom(rules, entity, custom)


def _with_custom(rules: Rules, entity: str, custom: tuple[CustomField, ...]) -> Rules:
    """``rules`` with each custom field's own rule; a field named in both places is refused,
    since which of the two applies would be a guess."""
    if rules.default == "latest_record":
        return rules  # one record per golden: its values, whatever a field's declared rule
    authoritative = dict(rules.authoritative)
    fields = dict(rules.fields)
    for declared in custom:
        if declared.name in authoritative or declared.name in fields:
            raise MappingConfigError(
                f"custom field {entity}.{declared.name} has rules both in survivorship.yaml "
                "and in its custom_fields declaration; keep one"
            )
        if declared.authoritative:
            authoritative[declared.name] = declared.authoritative
        if declared.survivorship != rules.default:
            fields[declared.name] = declared.survivorship
    try:
        return Rules.model_validate(
            {**rules.model_dump(), "authoritative": authoritative, "fields": fields}
        )
    except ValidationError as exc:
        raise MappingConfigError(f"custom field rules for {entity!r}: {exc}") from None


def _beats(
    a: FieldSource, b: FieldSource, authority: str | None, *, restrictive: bool = False
) -> bool:
    """True when ``a`` should replace ``b`` (a strict total order, so merging is associative)."""
    if restrictive and restrictiveness(a.value) != restrictiveness(b.value):
        return restrictiveness(a.value) > restrictiveness(b.value)
    a_auth, b_auth = a.tool == authority, b.tool == authority
    if a_auth != b_auth:
        return a_auth
    if a.updated_at != b.updated_at:
        return a.updated_at > b.updated_at
    # Same instant: first tool name, then first record id, then smallest value wins.
    return (a.tool, a.record_id, a.value) < (b.tool, b.record_id, b.value)


def _ballots(source: FieldSource) -> dict[str, Vote]:
    """The votes of a stored most_frequent field (a winner stored without votes is one vote)."""
    if source.votes:
        return dict(source.votes)
    key = f"{source.tool}:{source.record_id}"
    return {key: Vote(value=source.value, updated_at=source.updated_at)}


def _elect(votes: dict[str, Vote]) -> FieldSource:
    """Most votes wins; a tie goes to the value voted most recently, then the smallest value.

    The source is the value's most recent voter (first record key on a tie).
    """
    tally: dict[str, list[tuple[datetime, str]]] = {}
    for key, vote in votes.items():
        tally.setdefault(vote.value, []).append((vote.updated_at, key))
    value = min(tally, key=lambda v: (-len(tally[v]), -max(t for t, _ in tally[v]).timestamp(), v))
    when, key = min(tally[value], key=lambda tk: (-tk[0].timestamp(), tk[1]))
    tool, _, record_id = key.partition(":")
    return FieldSource(
        tool=tool,
        record_id=record_id,
        updated_at=when,
        value=value,
        votes=dict(sorted(votes.items())),
    )


def merge(
    golden: GoldenView | None, contributions: Iterable[MappedRecord], rules: Rules
) -> GoldenView:
    """Fold tool records into ``golden`` (None for a new person) and return the new view."""
    if rules.default == "latest_record":
        return _latest_record(golden, contributions)
    fields: set[str] = set(golden.values) if golden else set()
    best: dict[str, FieldSource] = dict(golden.provenance) if golden else {}
    if golden:
        for name, value in golden.values.items():
            if value and value.strip() and name not in best:
                # A value without provenance (loaded by hand): keep it, lowest precedence.
                best[name] = FieldSource(
                    tool="golden", record_id="", updated_at=_NO_TIME, value=value
                )
    ballots: dict[str, dict[str, Vote]] = {}
    records = list(contributions)
    for record in records:
        for name, value in record.values.items():
            fields.add(name)
            if value is None or not value.strip():
                continue
            if rules.rule(name) == "most_frequent":
                if name not in ballots:
                    ballots[name] = _ballots(best[name]) if name in best else {}
                vote = Vote(value=value, updated_at=record.updated_at)
                held = ballots[name].get(record.key)
                # A record votes with its latest image, whatever order the images come in.
                if held is None or (vote.updated_at, vote.value) > (held.updated_at, held.value):
                    ballots[name][record.key] = vote
                continue
            candidate = FieldSource(
                tool=record.tool,
                record_id=record.record_id,
                updated_at=record.updated_at,
                value=value,
            )
            current = best.get(name)
            if current is None or _beats(
                candidate,
                current,
                rules.authoritative.get(name),
                restrictive=rules.rule(name) == "most_restrictive",
            ):
                best[name] = candidate
    for name, votes in ballots.items():
        best[name] = _elect(votes)
    for reason, state in CONSENT_REASONS.items():
        _follow_state(best, reason, state, records, golden)
    ordered = sorted(fields)
    return GoldenView(
        values={name: best[name].value if name in best else None for name in ordered},
        provenance={name: _shared_fields_set(best[name]) for name in ordered if name in best},
    )


def _follow_state(
    best: dict[str, FieldSource],
    reason: str,
    state: str,
    records: list[MappedRecord],
    golden: GoldenView | None,
) -> None:
    """``best[reason]``: a reason given with the winning ``state``, or nothing. The winning
    record's own reason first; else the one held, while the state it explains still wins and
    its record has not dropped it; else the newest given with the same state by another record
    (revsync's own writes copy a state, never its reason). A reason given with any other state
    explains something else and is never taken."""
    winner = best.get(state)
    best.pop(reason, None)
    if winner is None:
        return
    latest: dict[tuple[str, str], MappedRecord] = {}
    for r in records:
        key = (r.tool, r.record_id)
        if key not in latest or r.updated_at >= latest[key].updated_at:
            latest[key] = r
    given = {
        key: r
        for key, r in latest.items()
        if r.values.get(state) == winner.value and _non_empty(r.values.get(reason)) is not None
    }
    own = given.get((winner.tool, winner.record_id))
    held = golden.provenance.get(reason) if golden else None
    if own is None and held is not None:
        image = latest.get((held.tool, held.record_id))
        still = golden is not None and golden.values.get(state) == winner.value
        if still and (image is None or (held.tool, held.record_id) in given):
            if image is None:
                best[reason] = held
                return
            own = image
    if own is None and given:
        own = max(given.values(), key=lambda r: (r.updated_at, r.tool, r.record_id))
    if own is not None:
        best[reason] = FieldSource(
            tool=own.tool,
            record_id=own.record_id,
            updated_at=own.updated_at,
            value=str(_non_empty(own.values.get(reason))),
        )


def _latest_record(golden: GoldenView | None, contributions: Iterable[MappedRecord]) -> GoldenView:
    """The values of the record read last (a golden stored from a later image stays)."""
    latest = max(contributions, key=lambda r: (r.updated_at, r.tool, r.record_id), default=None)
    if golden is not None:
        stored = max((s.updated_at for s in golden.provenance.values()), default=_NO_TIME)
        if latest is None or latest.updated_at < stored:
            return golden
    if latest is None:
        return GoldenView()
    names = sorted({*(golden.values if golden else ()), *latest.values})
    values = {name: _non_empty(latest.values.get(name)) for name in names}
    provenance = {
        name: FieldSource(
            tool=latest.tool, record_id=latest.record_id, updated_at=latest.updated_at, value=v
        )
        for name, v in values.items()
        if v is not None
    }
    return GoldenView(values=values, provenance=provenance)


def _non_empty(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _shared_fields_set(source: FieldSource) -> FieldSource:
    """``source`` holding one fields-set shared by every source built from a record.

    pydantic gives each instance its own set (~200 bytes) and a golden record keeps about
    nine sources: at a million goldens that is about 1 GiB of equal sets. The model is frozen
    and copies take their own set, so the shared one is never changed.
    """
    if source.__pydantic_fields_set__ == _RECORD_FIELDS:
        object.__setattr__(source, "__pydantic_fields_set__", _RECORD_FIELDS)
    return source


def repoint(view: GoldenView, tool: str, old_id: str, new_id: str) -> GoldenView:
    """Follow a vendor-side merge: what ``old_id`` contributed now comes from ``new_id``.

    The merged-away record no longer exists, so no provenance may name it; its vote in a
    ``most_frequent`` field is dropped when the survivor votes itself, else it moves.
    """
    old_key, new_key = f"{tool}:{old_id}", f"{tool}:{new_id}"
    provenance: dict[str, FieldSource] = {}
    for name, source in view.provenance.items():
        if source.votes and old_key in source.votes:
            votes = dict(source.votes)
            moved = votes.pop(old_key)
            if new_key not in votes:
                votes[new_key] = moved
            provenance[name] = _elect(votes)
        elif source.tool == tool and source.record_id == old_id:
            provenance[name] = source.model_copy(update={"record_id": new_id})
        else:
            provenance[name] = source
    values = {
        name: provenance[name].value if name in provenance else value
        for name, value in view.values.items()
    }
    return GoldenView(values=values, provenance=provenance)


def golden_from_scratch(contributions: Iterable[MappedRecord], rules: Rules) -> GoldenView:
    """The golden view from all of a person's records, with no prior state."""
    return merge(None, contributions, rules)
