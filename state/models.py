"""The state tables. Table models live only here; the rest of revsync uses plain pydantic.

Every timestamp is an aware UTC datetime (`UTCDateTime`), every JSON column a `JSONValue`.
JSON columns hold record data only: callers must never put credentials in them, and
`JSONValue` refuses pydantic secrets. Plain `str` status columns with CHECK constraints keep
the schema portable (no PostgreSQL enum types to migrate).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

from sqlalchemy import CheckConstraint, Index, Table, Text
from sqlmodel import Field, SQLModel

from state.types import JSONValue, UTCDateTime, utcnow

__all__ = [
    "ALL_MODELS",
    "ALL_TABLES",
    "DEAD_LETTER_OUTCOMES",
    "DEAD_LETTER_STAGES",
    "JOURNAL_OPS",
    "JOURNAL_STATUSES",
    "REVIEW_STATUSES",
    "RUN_STATUSES",
    "CannotLink",
    "Cursor",
    "DeadLetter",
    "DeadLetterAttempt",
    "DeadLetterStage",
    "FieldSeen",
    "GoldenRecord",
    "JournalEntry",
    "JournalOp",
    "JournalStatus",
    "Link",
    "MatchDecision",
    "MatchModel",
    "ReviewItem",
    "ReviewStatus",
    "Run",
    "RunStatus",
]

RunStatus = Literal["running", "completed", "failed"]
JournalOp = Literal["create", "update", "archive"]
JournalStatus = Literal["planned", "applied", "failed", "held"]
DeadLetterStage = Literal["extract", "map", "match", "apply"]

RUN_STATUSES: Final = ("running", "completed", "failed")
JOURNAL_OPS: Final = ("create", "update", "archive")
JOURNAL_STATUSES: Final = ("planned", "applied", "failed", "held")
DEAD_LETTER_STAGES: Final = ("extract", "map", "match", "apply")
DEAD_LETTER_OUTCOMES: Final = ("failed", "resolved", "dismissed")
ReviewStatus = Literal["pending", "accepted", "rejected"]
REVIEW_STATUSES: Final = ("pending", "accepted", "rejected")


def _one_of(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


class Run(SQLModel, table=True):
    """One sync run; journal entries, dead letters and decisions point at it."""

    __tablename__ = "runs"
    __table_args__ = (
        _one_of("runs", "status", RUN_STATUSES),
        Index("ix_runs_started_at", "started_at"),
    )

    id: str = Field(primary_key=True)
    flow_run_id: str | None = None
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = "running"
    dry_run: bool = False
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)


class Cursor(SQLModel, table=True):
    """The CDK's per-stream state blob exactly as it came, so the next read resumes there."""

    __tablename__ = "cursors"

    tool: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    state: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    run_id: str | None = Field(default=None, foreign_key="runs.id")
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Link(SQLModel, table=True):
    """Tool record ⇄ unified id, with the hashes that make echoes recognisable (invariant 1)."""

    __tablename__ = "links"

    tool: str = Field(primary_key=True)
    entity: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    unified_id: str = Field(index=True)
    last_read_hash: str | None = None
    last_written_hash: str | None = None
    last_values: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)
    last_read_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_written_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class GoldenRecord(SQLModel, table=True):
    """The merged view of one person (or company...) with per-field provenance."""

    __tablename__ = "golden_records"

    unified_id: str = Field(primary_key=True)
    entity: str = Field(index=True)
    values: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    provenance: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MatchDecision(SQLModel, table=True):
    """Why a tool record was linked to a unified id (invariant 5: every match is explainable)."""

    __tablename__ = "match_decisions"
    __table_args__ = (Index("ix_match_decisions_record", "tool", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str
    unified_id: str = Field(index=True)
    tool: str
    record_id: str
    rule: str
    score: float | None = None
    evidence: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    decided_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    run_id: str | None = Field(default=None, foreign_key="runs.id", index=True)


class JournalEntry(SQLModel, table=True):
    """Write-ahead record of one remote write with its before image (invariant 4).

    `planned` is committed before the remote call; `applied`/`failed` after it. A `planned`
    row that never moved on is what a crash left behind.
    """

    __tablename__ = "journal"
    __table_args__ = (
        _one_of("journal", "op", JOURNAL_OPS),
        _one_of("journal", "status", JOURNAL_STATUSES),
        Index("ix_journal_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    tool: str
    entity: str
    record_id: str | None = None
    unified_id: str | None = Field(default=None, index=True)
    natural_key: str | None = None
    op: str
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)
    status: str = "planned"
    error: str | None = Field(default=None, sa_type=Text)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeadLetter(SQLModel, table=True):
    """A record that could not be processed, kept with its reason so the cursor can move on."""

    __tablename__ = "dead_letters"
    __table_args__ = (_one_of("dead_letters", "stage", DEAD_LETTER_STAGES),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    tool: str
    stream: str
    record_id: str | None = None
    stage: str
    reason: str = Field(sa_type=Text)
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeadLetterAttempt(SQLModel, table=True):
    """What happened to a dead letter after it was filed: a replay that failed again (with the
    reason then), one that went through, or a person's dismissal (who, when, why)."""

    __tablename__ = "dead_letter_attempts"
    __table_args__ = (_one_of("dead_letter_attempts", "outcome", DEAD_LETTER_OUTCOMES),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="dead_letters.id", index=True)
    run_id: str | None = Field(default=None, foreign_key="runs.id")
    outcome: str
    reason: str | None = Field(default=None, sa_type=Text)
    by: str | None = None
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReviewItem(SQLModel, table=True):
    """A pair scored between the review and auto-merge thresholds, waiting for a human.

    `left_key` is a tool record ("tool:record_id"); `right_key` another record or a golden
    record ("unified:<id>"). `members` lists the record keys the right side stood for when
    the pair was scored, so a rejection can forbid exactly those pairs forever.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        _one_of("review_items", "status", REVIEW_STATUSES),
        Index("ix_review_items_pair", "entity", "left_key", "right_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str
    left_key: str
    right_key: str
    score: float
    evidence: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    members: list[str] = Field(default_factory=list, sa_type=JSONValue, nullable=False)
    status: str = Field(default="pending", index=True)
    run_id: str | None = Field(default=None, foreign_key="runs.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class CannotLink(SQLModel, table=True):
    """Two tool records a reviewer said are different people: never merged again."""

    __tablename__ = "cannot_links"

    entity: str = Field(primary_key=True)
    key_a: str = Field(primary_key=True)
    key_b: str = Field(primary_key=True)
    review_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MatchModel(SQLModel, table=True):
    """The trained matching model of an entity (m, u, prior), reused by incremental runs."""

    __tablename__ = "match_models"

    entity: str = Field(primary_key=True)
    params: dict[str, Any] = Field(sa_type=JSONValue, nullable=False)
    records: int = 0
    trained_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FieldSeen(SQLModel, table=True):
    """One field of one tool stream as reads saw it (schema drift, ``reconcile/drift.py``).

    ``rate`` is the share of the last read's records that carried it; ``vanished_at`` is set
    when a read no longer carries a mapped field, ``confirmed_at`` when an admin says the drift
    is wanted (its writes go again); both clear when a read carries the field again.
    """

    __tablename__ = "fields_seen"

    tool: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    path: str = Field(primary_key=True)
    mapped: bool = False
    unified: str | None = None
    """The unified fields read from it, comma-separated (mapped paths only)."""
    rate: float = 0.0
    first_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    vanished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


ALL_MODELS: Final[tuple[type[SQLModel], ...]] = (
    Run,
    Cursor,
    Link,
    GoldenRecord,
    MatchDecision,
    JournalEntry,
    DeadLetter,
    DeadLetterAttempt,
    ReviewItem,
    CannotLink,
    MatchModel,
    FieldSeen,
)
ALL_TABLES: Final[tuple[Table, ...]] = tuple(
    model.__table__  # type: ignore[attr-defined]
    for model in ALL_MODELS
)
