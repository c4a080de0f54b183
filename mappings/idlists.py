"""Sets of record ids in one field (the people on a deal): one canonical text form.

Tools hand them over as a list of ids (``["12", "7"]``), a list of objects (``[{"id": 12}]``),
a list inside an object (child rows under ``records``) or one delimited string. The unified
form is the sorted, unique ids joined by ``ID_SEPARATOR``, so two reads of the same set hash
the same whatever order the tool lists them in.
"""

from __future__ import annotations

from collections.abc import Iterable

from mappings.errors import MappingError, shorten
from mappings.model import ID_SEPARATOR

__all__ = ["canonical_ids", "ids_out", "join_ids", "split_ids"]


def split_ids(value: str | None) -> list[str]:
    """The ids of a canonical id set (empty for None or "")."""
    return [part for part in (value or "").split(ID_SEPARATOR) if part]


def join_ids(ids: Iterable[str]) -> str | None:
    """The canonical form of ``ids``: sorted, unique, joined; None for no id."""
    unique = sorted({i for i in ids if i})
    return ID_SEPARATOR.join(unique) if unique else None


def _one(item: object, key: str | None) -> str | None:
    if key is not None and isinstance(item, dict):
        item = item.get(key)
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    if isinstance(item, str):
        return item.strip() or None
    raise MappingError(f"not a record id: {shorten(item)}")


def canonical_ids(value: object, key: str | None = None, within: str | None = None) -> str | None:
    """A tool's id set as the unified text; ``key`` names the id in a list of objects and
    ``within`` the list's field when the tool wraps it in an object (``{"records": [...]}``)."""
    if within is not None and isinstance(value, dict):
        value = value.get(within)
    if value is None:
        return None
    if isinstance(value, str):
        items: list[object] = [p for p in value.replace(",", ID_SEPARATOR).split(ID_SEPARATOR)]
    elif isinstance(value, list):
        items = list(value)
    else:
        items = [value]
    return join_ids(i for i in (_one(item, key) for item in items) if i is not None)


def ids_out(value: str, *, as_numbers: bool = False) -> list[str] | list[int]:
    """The unified id set as the tool's list (numbers for tools with integer ids)."""
    ids = split_ids(value)
    if as_numbers:
        return [int(i) for i in ids if i.isdigit()]
    return ids
