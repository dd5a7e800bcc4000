"""The pending-span table and its sorted key index stay consistent through appends and removals."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flowviz.derive.span_table import ColumnTable, SortedKeyIndex, sort_order


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
        same_key = index.keys[1:] == index.keys[:-1]
        assert (index.rows[1:][same_key] > index.rows[:-1][same_key]).all()  # equal keys: the earlier row first


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 2**16)), min_size=1, max_size=12),
    key_space=st.sampled_from([8, 1 << 40]),  # many equal keys, or (almost) none
)
def test_adding_through_a_look_up_indexes_as_a_plain_add(batches, key_space):
    rng = np.random.default_rng(len(batches))
    plain, reused = SortedKeyIndex(), SortedKeyIndex()
    rows = 0
    for size, mask_seed in batches:
        keys = rng.integers(0, key_space, size).astype(np.uint64)
        lookup = reused.look_up(keys)
        first, last = plain.ranges(keys)
        assert np.array_equal(lookup.first, first)
        assert np.array_equal(lookup.last, last)
        assert np.array_equal(first, np.searchsorted(plain.keys, keys, side="left"))
        assert np.array_equal(last, np.searchsorted(plain.keys, keys, side="right"))
        assert np.array_equal(reused.first_positions(keys), first)
        kept = np.random.default_rng(mask_seed).random(size) < 0.7  # the batch's fresh rows
        plain.add(keys[kept], rows)
        reused.add(keys[kept], rows, lookup.take(kept))
        rows += int(kept.sum())
        assert np.array_equal(plain.keys, reused.keys)
        assert np.array_equal(plain.rows, reused.rows)


def test_sort_order_keeps_equal_keys_in_their_order() -> None:
    keys = np.array([5, 3, 5, 1, 3, 5], np.uint64)
    assert sort_order(keys).tolist() == [3, 1, 4, 0, 2, 5]
    distinct = np.random.default_rng(0).permutation(1000).astype(np.uint64)
    assert np.array_equal(sort_order(distinct), np.argsort(distinct, kind="stable"))
