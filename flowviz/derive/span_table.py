"""The deriver's pending-span index; `ColumnTable` and `span_keys` live in `flowviz.model.columns` (re-exported)."""

from __future__ import annotations

import numpy as np

from flowviz.model.columns import ColumnTable, span_keys

__all__ = ["ColumnTable", "SortedKeyIndex", "span_keys"]


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

    def add_rows(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Index some rows of the table (any rows, any order) under `keys`."""
        if keys.size == 0:
            return
        order = np.argsort(keys, kind="stable")
        sorted_new = keys[order]
        at = np.searchsorted(self.keys, sorted_new, side="right")
        self.keys = np.insert(self.keys, at, sorted_new)
        self.rows = np.insert(self.rows, at, rows[order])

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
