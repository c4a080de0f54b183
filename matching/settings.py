"""Matching settings as data: comparisons, blocking rules, thresholds, hand-set weights.

A RevOps person reads and edits ``matching/<entity>.yaml``; nothing about *what* is compared
or *when* two records merge lives in code. ``settings_for_columns`` derives the same kind of
settings from a column -> kind schema, so a new data set gets a model without hand tuning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "KINDS",
    "BlockingRule",
    "ComparisonSpec",
    "LevelParams",
    "MatchSettings",
    "Thresholds",
    "load_settings",
    "parse_settings",
    "settings_for_columns",
]

SETTINGS_DIR = Path(__file__).resolve().parent

Kind = Literal["name", "email", "phone", "text", "code", "exact", "company"]
KINDS: tuple[str, ...] = ("name", "email", "phone", "text", "code", "exact", "company")


class ComparisonSpec(BaseModel):
    """One compared field; ``column`` defaults to ``name``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    column: str | None = None
    tf: bool = False

    @property
    def source(self) -> str:
        return self.column or self.name


class BlockingRule(BaseModel):
    """Records sharing every key of the rule are compared (``keys`` like ``metaphone(x)``)."""

    model_config = ConfigDict(frozen=True)

    keys: tuple[str, ...]

    @property
    def name(self) -> str:
        return "+".join(self.keys)


class Thresholds(BaseModel):
    """Match probability cut-offs: >= auto_merge merges, >= review asks a human."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_merge: float = 0.9
    review: float = 0.6

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not 0.0 < self.review <= self.auto_merge < 1.0:
            raise ValueError("thresholds need 0 < review <= auto_merge < 1")
        return self


class LevelParams(BaseModel):
    """A hand-set m and/or u probability for one comparison level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    m: float | None = Field(default=None, gt=0, le=1)
    u: float | None = Field(default=None, gt=0, le=1)


class MatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    distinct: bool = False
    """Every record not linked yet is a golden record of its own: nothing is compared (a
    helpdesk ticket is one conversation in one tool, never the same as another)."""
    deterministic: tuple[str, ...] = ()
    comparisons: tuple[ComparisonSpec, ...] = ()
    blocking: tuple[BlockingRule, ...] = ()
    training: tuple[BlockingRule, ...] = ()
    thresholds: Thresholds = Thresholds()
    parameters: dict[str, dict[str, LevelParams]] = Field(default_factory=dict)
    max_block: int = 250

    @model_validator(mode="before")
    @classmethod
    def _rules(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)
            for name in ("blocking", "training"):
                if name in data:
                    data[name] = [
                        r if isinstance(r, BlockingRule | dict) else {"keys": tuple(r)}
                        for r in data[name]
                    ]
        return data

    @property
    def training_rules(self) -> tuple[BlockingRule, ...]:
        """The EM sessions' rules: ``training`` if set, else every blocking rule."""
        return self.training or self.blocking

    @model_validator(mode="after")
    def _check(self) -> MatchSettings:
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError("comparison names must be unique")
        unknown = set(self.parameters) - set(names)
        if unknown:
            raise ValueError(f"parameters for unknown comparisons: {sorted(unknown)}")
        if self.distinct:
            if self.comparisons or self.blocking:
                raise ValueError("distinct records are never compared: no comparisons, no blocking")
        elif not self.comparisons or not self.blocking:
            raise ValueError("at least one comparison and one blocking rule are needed")
        return self


def parse_settings(document: object) -> MatchSettings:
    """Validate one entity's settings (already parsed YAML); errors name the problem."""
    try:
        return MatchSettings.model_validate(document)
    except ValidationError as exc:
        raise ValueError(f"invalid matching settings: {exc}") from None


@cache
def load_settings(entity: str = "person") -> MatchSettings:
    """Settings of ``entity`` from ``matching/<entity>.yaml`` (parsed once per process)."""
    path = SETTINGS_DIR / f"{entity}.yaml"
    with path.open(encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    if not isinstance(document, dict) or entity not in document:
        raise ValueError(f"{path.name} has no settings for {entity!r}")
    return parse_settings(document[entity])


def settings_for_columns(
    kinds: Mapping[str, str],
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    tf_kinds: Sequence[str] = ("name",),
    thresholds: Thresholds | None = None,
) -> MatchSettings:
    """Generic settings for a column -> kind schema, with no per-data-set tuning.

    Blocking: every email/phone/code column on its own, last name + first initial and
    phonetic names when the schema names them.
    """
    comparisons = [
        ComparisonSpec.model_validate({"name": col, "kind": kind, "tf": kind in tf_kinds})
        for col, kind in kinds.items()
    ]
    blocking: list[tuple[str, ...]] = []
    training: list[tuple[str, ...]] = []
    for col, kind in kinds.items():
        if kind in ("email", "phone", "code"):
            blocking.append((col,))
            training.append((col,))
        if kind == "email":
            # Not a training session: a shared local part follows from shared names.
            blocking.append((f"local({col})",))
    if first_name and last_name:
        blocking.append((last_name, f"initial({first_name})"))
        blocking.append((f"metaphone({last_name})", f"nick({first_name})"))
        blocking.append((first_name, f"soundex({last_name})"))
        training += blocking[-3:]
    return MatchSettings(
        comparisons=tuple(comparisons),
        blocking=tuple(BlockingRule(keys=r) for r in blocking),
        training=tuple(BlockingRule(keys=r) for r in training),
        thresholds=thresholds or Thresholds(),
    )
