"""The pending-span table and its sorted key index stay consistent through appends and removals."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flowviz.derive.span_table import ColumnTable, SortedKeyIndex


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 40), st.floats(0, 1)), min_size=1, max_size=25), seed=st.integers(0, 99))
def test_index_matches_a_fresh_sort_after_any_appends_and_removals(steps, seed):
    rng = np.random.default_rng(seed)
    table = ColumnTable({"key": np.uint64, "row_id": np.int64})
    index = SortedKeyIndex()
    next_id = 0
    for added, removed_fraction in steps:
        keys = rng.integers(0, 50, added).astype(np.uint64)  # small key space: many equal keys
        index.add(keys, len(table))
        table.append(key=keys, row_id=np.arange(next_id, next_id + added))
        next_id += added
        removed = np.flatnonzero(rng.random(len(table)) < removed_fraction)
        size_before = len(table)
        table.remove(removed)
        index.remove(removed, size_before)
        assert len(index.rows) == len(table)
        assert sorted(index.rows.tolist()) == list(range(len(table)))  # every row exactly once
        assert np.array_equal(index.keys, np.sort(table["key"]))
        assert np.array_equal(table["key"][index.rows], index.keys)  # each position names a row with that key
