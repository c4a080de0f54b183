"""Split long IN lists: SQLite and PostgreSQL both cap the bind parameters of one statement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["IN_CHUNK", "chunked"]

IN_CHUNK = 5000


def chunked(values: Iterable[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """Yield the distinct `values` in lists of at most `size`, first-seen order."""
    batch: list[str] = []
    for value in dict.fromkeys(values):
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
