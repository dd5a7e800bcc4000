"""Ordering within layers: dummy nodes, crossing counts, barycentre sweeps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flowviz.layout.layering import assign_layers
from flowviz.layout.ordering import count_crossings, count_inversions, dfs_order, order_layers, proper_graph

from .conftest import random_dag


def brute_inversions(values: np.ndarray, group: np.ndarray) -> int:
    return sum(
        1 for i, j in itertools.combinations(range(values.size), 2) if group[i] == group[j] and values[i] > values[j]
    )


@pytest.mark.parametrize("size", [0, 1, 2, 3, 17, 64, 200])
def test_count_inversions_matches_brute_force(size: int) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(0, 9, size)
    group = np.sort(rng.integers(0, 3, size))
    assert count_inversions(values) == brute_inversions(values, np.zeros(size))
    assert count_inversions(values, group) == brute_inversions(values, group)


def test_proper_graph_splits_long_edges() -> None:
    layer = np.array([0, 1, 3])
    proper = proper_graph(layer, np.array([0, 1, 0]), np.array([1, 2, 2]))
    assert proper.real_count == 3
    assert proper.node_count == 3 + 1 + 2  # 1 -> 2 spans 2 layers, 0 -> 2 spans 3
    assert (proper.layer[proper.target] - proper.layer[proper.source] == 1).all()
    assert proper.source.size == 1 + 2 + 3
    assert proper.anchor[3:].tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="higher layer"):
        proper_graph(layer, np.array([2]), np.array([0]))


def test_count_crossings_of_a_cross() -> None:
    # Layer 0: a, b; layer 1: c, d; a -> d and b -> c cross once, a -> c and b -> d don't.
    proper = proper_graph(np.array([0, 0, 1, 1]), np.array([0, 1]), np.array([3, 2]))
    assert count_crossings(proper, np.array([0, 1, 0, 1])) == 1
    assert count_crossings(proper, np.array([0, 1, 1, 0])) == 0


def test_sweeps_untangle_a_bipartite_matching() -> None:
    rng = np.random.default_rng(3)
    partner = rng.permutation(20)
    layer = np.repeat([0, 1], 20)
    proper = proper_graph(layer, np.arange(20), 20 + partner)
    ordering = order_layers(proper, np.arange(40))
    assert ordering.initial_crossings > 0
    assert ordering.crossings == 0 == count_crossings(proper, ordering.rank)


@pytest.mark.parametrize("seed", range(3))
def test_sweeps_reduce_crossings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layering = assign_layers(120, *random_dag(rng, 120, 260))
    proper = proper_graph(layering.layer, layering.down_source, layering.down_target)
    ordering = order_layers(proper, np.arange(120))
    assert ordering.crossings < ordering.initial_crossings
    assert ordering.crossings == count_crossings(proper, ordering.rank)
    for index in range(layering.layer_count):  # ranks are a permutation within every layer
        in_layer = proper.layer == index
        assert sorted(ordering.rank[in_layer].tolist()) == list(range(int(in_layer.sum())))


def test_dfs_order_visits_sources_first_and_children_after_parents() -> None:
    # 2 -> 0 -> 1, and 3 alone: 2 first, 3 (no edges) last.
    rank = dfs_order(4, np.array([2, 0]), np.array([0, 1]), np.arange(4))
    assert rank.tolist() == [1, 2, 0, 3]
