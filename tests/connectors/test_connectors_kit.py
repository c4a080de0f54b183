"""The kit's promise: a tool lives in its folder and its mapping file, nowhere else."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from connectors.providers import providers
from sandbox import credentials
from sandbox.requestlog import TOOL_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
SHARED = (
    [
        p
        for d in ("flows", "state", "matching", "reconcile")
        for p in sorted((ROOT / d).rglob("*.py"))
    ]
    + sorted((ROOT / "mappings").glob("*.py"))
    + sorted((ROOT / "connectors").glob("*.py"))
)
# every tool the sandbox imitates, connected or not yet
TOOL_NAMES = sorted(set(TOOL_PREFIXES.values()) | set(providers()))
_NAMED = re.compile("|".join(TOOL_NAMES), re.IGNORECASE)


def _without_comments(source: str) -> str:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return tokenize.untokenize(
        (tok.type, tok.string) for tok in tokens if tok.type != tokenize.COMMENT
    )


def test_the_shared_code_is_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SHARED}
    assert {"flows/sync.py", "connectors/providers.py", "mappings/spec.py"} <= names
    assert len(TOOL_NAMES) >= 9


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_tool_is_named_outside_its_folder(path: Path) -> None:
    code = _without_comments(path.read_text(encoding="utf-8"))
    found = sorted(
        {
            f"{n}: {line.strip()[:90]}"
            for n, line in enumerate(code.splitlines(), 1)
            if _NAMED.search(line)
        }
    )
    assert not found, f"{path.relative_to(ROOT)} names a tool: {found}"


FLOWS = sorted((ROOT / "flows").rglob("*.py"))


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_flows_open_no_database_session_by_hand(path: Path) -> None:
    """Flows orchestrate: a transaction is ``state.db.session_scope`` (commit or roll back)."""
    code = _without_comments(path.read_text(encoding="utf-8"))
    assert "Session(" not in code, f"{path.relative_to(ROOT)} opens a Session by hand"


def test_the_scan_sees_a_tool_name_in_code_but_not_in_a_comment() -> None:
    assert _NAMED.search(_without_comments('x = "HubSpot"\n'))
    assert not _NAMED.search(_without_comments("x = 1  # HubSpot\n"))


@pytest.mark.parametrize("tool", sorted(providers()))
def test_sandbox_values_name_real_sandbox_credentials(tool: str) -> None:
    for field, constant in providers()[tool].sandbox.items():
        assert isinstance(getattr(credentials, constant, None), str), (
            f"{tool}: sandbox.{field} names {constant}, which sandbox/credentials.py lacks"
        )
