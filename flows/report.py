"""What a sync run did, per tool and stage: the summary artifact and the CLI report."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["STAGE_COLUMNS", "DriftRow", "MergeRow", "SyncReport", "ToolCounts"]


class ToolCounts(BaseModel):
    read: int = 0
    passed_over: int = 0
    """Records of the stream that are not this entity's (a helpdesk's agents)."""
    gone: int = 0
    """Records the tool merged away or deleted, followed instead of matched."""
    invalid: int = 0
    unchanged: int = 0
    changed: int = 0
    matched: int = 0
    new: int = 0
    planned_creates: int = 0
    planned_updates: int = 0
    skipped: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    read_error: str | None = None

    @property
    def written(self) -> int:
        return self.created + self.updated


STAGE_COLUMNS: tuple[str, ...] = (
    "read",
    "passed_over",
    "gone",
    "invalid",
    "unchanged",
    "changed",
    "matched",
    "new",
    "planned_creates",
    "planned_updates",
    "skipped",
    "created",
    "updated",
    "failed",
)


class DriftRow(BaseModel):
    """A field a tool's records stopped carrying (held) or started carrying (reported)."""

    tool: str
    stream: str
    field: str
    change: str
    """``vanished`` (its writes held until confirmed) or ``new`` (no mapping line reads it)."""
    unified: str = ""


class MergeRow(BaseModel):
    """A merge of this run: one revsync makes in a tool, or one a tool made that it follows."""

    tool: str
    entity: str
    unified_id: str
    kept: str | None
    merged: str
    action: str
    """``merge in tool`` (planned), ``merged in tool`` / ``merge failed`` (applied), ``follow``."""


class SyncReport(BaseModel):
    run_id: str
    dry_run: bool
    tools: dict[str, ToolCounts] = Field(default_factory=dict)
    golden_touched: int = 0
    golden_changed: int = 0
    golden_merged: int = 0
    dead_letters: int = 0
    drift: list[DriftRow] = Field(default_factory=list)
    merges: list[MergeRow] = Field(default_factory=list)
    status: str = "running"
    held: list[str] = Field(default_factory=list)
    """Why writes to a tool were held (``max_writes``); the run ends ``held``."""

    def tool(self, name: str, entity: str = "person") -> ToolCounts:
        """The counts of one tool's stream of ``entity`` (rows are keyed ``tool/entity``)."""
        return self.tools.setdefault(f"{name}/{entity}", ToolCounts())

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tools.values())

    def rows(self) -> list[dict[str, object]]:
        """One row per tool and entity, the stage counts as columns (`sync-summary`)."""
        rows: list[dict[str, object]] = []
        for name, counts in sorted(self.tools.items()):
            tool, _, entity = name.partition("/")
            row: dict[str, object] = {"tool": tool, "entity": entity}
            row.update({col: getattr(counts, col) for col in STAGE_COLUMNS})
            row["read_error"] = counts.read_error or ""
            rows.append(row)
        return rows
