"""Where each tool's reader manifest and writer live: found from its folder, never listed.

A folder under ``connectors/`` with a ``connector.yaml`` is a tool. Its writer is the class
that file names, in the folder's ``writer.py``; its read side is the folder's
``manifest.yaml``. Adding a tool therefore touches nothing here.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.connections import Connection
from connectors.providers import CONNECTORS_DIR, Capabilities, provider_for, providers
from connectors.writer import Writer

__all__ = [
    "CONNECTORS_DIR",
    "capabilities",
    "manifest_path",
    "page_size",
    "tools",
    "writer_class",
    "writer_for",
]


def tools() -> list[str]:
    """Every tool with a connector folder that declares itself."""
    return sorted(providers())


def manifest_path(tool: str) -> Path:
    """``connectors/<tool>/manifest.yaml``."""
    return provider_for(tool).manifest_path


def capabilities(tool: str, entity: str) -> Capabilities:
    """What ``tool`` can do with ``entity``, as its ``connector.yaml`` declares."""
    return provider_for(tool).capabilities(entity)


def writer_class(tool: str) -> type[Writer]:
    """The class ``connector.yaml`` names in ``connectors/<tool>/writer.py``."""
    provider = provider_for(tool)
    module = importlib.import_module(f"connectors.{tool}.writer")
    cls = getattr(module, provider.writer_class, None)
    if not isinstance(cls, type):
        raise KeyError(
            f"connectors/{tool}/writer.py has no class {provider.writer_class!r} "
            "(named by its connector.yaml)"
        )
    return cls


def writer_for(conn: Connection, client: httpx.Client | None = None) -> Writer:
    """The writer for ``conn.tool``; it builds (and then owns) a client unless one is given."""
    writer: Writer = writer_class(conn.tool)(conn, client)  # type: ignore[call-arg]
    return writer


def page_size(tool: str) -> int:
    """The records per page the tool's manifest asks for (its first integer ``page_size``):
    the unit of the read budget, one slot per page."""
    path = manifest_path(tool)
    return _manifest_page_size(path, path.stat().st_mtime_ns)


@functools.cache
def _manifest_page_size(path: Path, _version: int) -> int:
    """Parsed once per manifest version (a sync asks once per stream read)."""

    def find(node: Any) -> int | None:
        if isinstance(node, dict):
            value = node.get("page_size")
            if isinstance(value, int):
                return value
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            return None
        for child in children:
            found = find(child)
            if found is not None:
                return found
        return None

    return find(yaml.safe_load(path.read_text())) or 100
