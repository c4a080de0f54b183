"""Records as columns: the shape every vectorized step of the matcher works on.

Values are normalized once when the table is built; derived keys (``metaphone(last_name)``)
are computed on first use and cached, so blocking and comparing never re-normalize a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from matching.keys import KEY_FUNCTIONS, normalize, parse_key

__all__ = ["Table", "build_table"]

StrArray = npt.NDArray[np.object_]


@dataclass
class Table:
    """Normalized columns ("" = missing) of ``len(ids)`` records, in ``ids`` order."""

    ids: list[str]
    columns: dict[str, StrArray]
    _derived: dict[str, StrArray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, key: str, *, cache: bool = True) -> StrArray:
        """A column or a derived key (``fn(column)``), "" where missing.

        ``cache=False`` computes a derived key without keeping it: a large resolved set only
        needs its blocking keys once, to build its index.
        """
        if key in self.columns:
            return self.columns[key]
        cached = self._derived.get(key)
        if cached is not None:
            return cached
        fn, source = parse_key(key)
        base = self.columns.get(source)
        if base is None:
            base = np.full(len(self.ids), "", dtype=object)
        if fn is None:
            values = base
        else:
            func = KEY_FUNCTIONS[fn]
            # Derived keys repeat a lot (initials, phonetic codes): compute each distinct once.
            codes, distinct = pd.factorize(base)
            mapped = np.array([func(v) if v else "" for v in distinct], dtype=object)
            values = mapped[codes] if len(mapped) else np.full(len(base), "", dtype=object)
        if cache:
            self._derived[key] = values
        return values

    def take(self, rows: npt.NDArray[np.int64]) -> Table:
        """A sub-table of these rows (derived keys are recomputed lazily)."""
        return Table(
            ids=[self.ids[int(i)] for i in rows],
            columns={name: col[rows] for name, col in self.columns.items()},
        )

    @staticmethod
    def concat(tables: Sequence[Table]) -> Table:
        names = sorted({name for t in tables for name in t.columns})
        columns: dict[str, StrArray] = {}
        for name in names:
            parts = [
                t.columns[name] if name in t.columns else np.full(len(t), "", dtype=object)
                for t in tables
            ]
            columns[name] = np.concatenate(parts) if parts else np.array([], dtype=object)
        return Table(ids=[i for t in tables for i in t.ids], columns=columns)


def build_table(
    ids: Iterable[str], rows: Iterable[Mapping[str, str | None]], columns: Sequence[str]
) -> Table:
    """Normalize the named columns of ``rows`` (one mapping per record)."""
    id_list = list(ids)
    data: dict[str, list[str]] = {c: [] for c in columns}
    # Raw value -> normalized, per column: each distinct value is normalized once and stored
    # once (a million records hold a few thousand first names, cities, countries).
    seen: dict[str, dict[str | None, str]] = {c: {} for c in columns}
    for row in rows:
        for c in columns:
            raw = row.get(c)
            known = seen[c]
            value = known.get(raw)
            if value is None:
                value = known[raw] = normalize(raw if raw is None else str(raw))
            data[c].append(value)
    for c in columns:
        if len(data[c]) != len(id_list):
            raise ValueError("ids and rows differ in length")
    return Table(ids=id_list, columns={c: np.array(v, dtype=object) for c, v in data.items()})
