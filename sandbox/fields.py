"""Mailchimp's ``fields`` / ``exclude_fields`` response trimming (dotted paths, lists fan out)."""

from __future__ import annotations

from typing import Any

__all__ = ["trim_fields"]


def _tree(paths: list[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        parts = [p for p in path.strip().split(".") if p]
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = True
            else:
                child = node.get(part)
                if child is True:
                    break
                node = node.setdefault(part, {})
    return root


def _keep(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_keep(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in value:
            out[key] = value[key] if sub is True else _keep(value[key], sub)
    return out


def _drop(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_drop(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = tree.get(key)
        if sub is True:
            continue
        out[key] = _drop(item, sub) if isinstance(sub, dict) else item
    return out


def trim_fields(body: dict[str, Any], fields: str | None, exclude: str | None) -> dict[str, Any]:
    """Apply comma-separated dotted `fields` (keep) then `exclude_fields` (drop)."""
    out: Any = body
    if fields:
        out = _keep(out, _tree(fields.split(",")))
    if exclude:
        out = _drop(out, _tree(exclude.split(",")))
    return dict(out)
