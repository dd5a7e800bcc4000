"""A growable table of numpy columns (append, remove rows) and the hashed span key used for pairing."""

from __future__ import annotations

import numpy as np

_MIX_HI = np.uint64(0xC2B2AE3D27D4EB4F)
_MIX_LO = np.uint64(0x9E3779B97F4A7C15)
_MIX_ID = np.uint64(0x165667B19E3779F9)


def span_keys(trace_hi: np.ndarray, trace_lo: np.ndarray, span_id: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (trace id, span id); lookups verify the full ids, so collisions are harmless."""
    with np.errstate(over="ignore"):
        key = trace_hi * _MIX_HI ^ trace_lo * _MIX_LO ^ span_id * _MIX_ID
        return key ^ (key >> np.uint64(29))


class ColumnTable:
    """Named numpy columns of equal length with amortised appends (capacity grows by half; `keep` releases it)."""

    def __init__(self, dtypes: dict[str, type]) -> None:
        self._dtypes = dtypes
        self._size = 0
        self._columns = {name: np.zeros(0, dtype) for name, dtype in dtypes.items()}

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, name: str) -> np.ndarray:
        """The live rows of a column (a view: writes go into the table)."""
        return self._columns[name][: self._size]

    @property
    def nbytes(self) -> int:
        """Bytes held, spare capacity included."""
        return sum(column.nbytes for column in self._columns.values())

    def append(self, **columns: object) -> None:
        count = next((len(v) for v in columns.values() if np.ndim(v) != 0), 0)  # type: ignore[arg-type]
        if not count:
            return
        needed = self._size + count
        capacity = len(next(iter(self._columns.values())))
        if needed > capacity:
            new_capacity = max(needed, capacity + capacity // 2, 64)
            for name, column in self._columns.items():
                grown = np.zeros(new_capacity, column.dtype)
                grown[: self._size] = column[: self._size]
                self._columns[name] = grown
        for name in self._dtypes:
            self._columns[name][self._size : needed] = columns[name]
        self._size = needed

    def keep(self, rows: np.ndarray) -> None:
        """Keep the rows a mask selects, or those an index array names (in its order), releasing spare capacity."""
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows
        kept = rows.shape[0]
        for name, column in self._columns.items():
            new = np.zeros(kept + kept // 8, column.dtype)
            new[:kept] = column[: self._size][rows]
            self._columns[name] = new
        self._size = kept

    def remove(self, rows: np.ndarray) -> None:
        """Drop the given rows (indices), keeping the order of the others."""
        if len(rows) == 0:
            return
        keep = np.ones(self._size, bool)
        keep[rows] = False
        kept = int(keep.sum())
        for column in self._columns.values():
            column[:kept] = column[: self._size][keep]
        self._size = kept


class SortedKeyIndex:
    """The rows of a `ColumnTable` ordered by key, kept current through appends and removals.

    Merging a batch costs a sort of the batch and one linear insert; removing rows one linear
    pass: the pending table of a live deriver holds millions of spans, and re-sorting it per
    batch would cost more than everything else.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.uint64)
        self.rows = np.zeros(0, np.int64)

    def add(self, keys: np.ndarray, first_row: int) -> None:
        """Index rows `first_row ..` of the table, whose keys are `keys` (in row order)."""
        if keys.size == 0:
            return
        order = np.argsort(keys, kind="stable")
        sorted_new = keys[order]
        at = np.searchsorted(self.keys, sorted_new, side="right")
        self.keys = np.insert(self.keys, at, sorted_new)
        self.rows = np.insert(self.rows, at, first_row + order)

    def remove(self, removed_rows: np.ndarray, size_before: int) -> None:
        """Forget `removed_rows` and renumber the others as `ColumnTable.remove` compacts them."""
        if len(removed_rows) == 0:
            return
        keep = np.ones(size_before, bool)
        keep[removed_rows] = False
        new_row = np.cumsum(keep) - 1
        alive = keep[self.rows]
        self.keys = self.keys[alive]
        self.rows = new_row[self.rows[alive]]

    def ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[first, last) positions in `self.rows` of the rows holding each of `keys`."""
        order = np.argsort(keys)  # sorted needles: searchsorted walks memory in order
        first, last = np.empty(keys.size, np.int64), np.empty(keys.size, np.int64)
        first[order] = np.searchsorted(self.keys, keys[order], side="left")
        last[order] = np.searchsorted(self.keys, keys[order], side="right")
        return first, last
