"""Writes benchmark figures into the README's table, one row per benchmark name."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["update_readme"]

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(rows: dict[str, str], readme: Path = README) -> None:
    """Replace (or add) the rows named in `rows`, keep every other benchmark's row."""
    text = readme.read_text()
    head, rest = text.split(START, 1)
    block, tail = rest.split(END, 1)
    lines = [line for line in block.strip().splitlines() if line.strip()]
    header, body = lines[:2], lines[2:]
    existing: dict[str, str] = {}
    for line in body:
        match = re.match(r"\|\s*(.+?)\s*\|\s*(.*?)\s*\|$", line)
        if match:
            existing[match.group(1)] = match.group(2)
    existing.update(rows)
    table = header + [f"| {name} | {figure} |" for name, figure in existing.items()]
    readme.write_text(head + START + "\n" + "\n".join(table) + "\n" + END + tail)
