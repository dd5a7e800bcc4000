"""Crossing reduction for small graphs: weighted medians, transpose and sifting from graphviz's starts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flowviz.layout.layering import assign_layers
from flowviz.layout.ordering import count_crossings, order_layers, proper_graph
from flowviz.layout.refine import LayerOrder, breadth_first_rank, refine_order, weighted_median

from .conftest import random_dag


def test_weighted_median() -> None:
    assert weighted_median(np.array([])) == -1.0
    assert weighted_median(np.array([4])) == 4.0
    assert weighted_median(np.array([1, 3])) == 2.0
    assert weighted_median(np.array([0, 1, 5])) == 1.0
    # even count: pulled toward the side where the neighbours are packed (left spread 1, right spread 5)
    assert weighted_median(np.array([0, 1, 2, 7])) == pytest.approx((1 * 5 + 2 * 1) / 6)


def test_pair_matrix_counts_crossings_both_sides() -> None:
    # layers: [0, 1] -> [2, 3] -> [4, 5]; 0->3, 1->2 (one crossing with 2 above 3); 2->5, 3->4 (another)
    layer = np.array([0, 0, 1, 1, 2, 2])
    source, target = np.array([0, 1, 2, 3]), np.array([3, 2, 5, 4])
    order = LayerOrder(layer, source, target, np.array([0, 1, 0, 1, 0, 1]))
    pairs = order.pairs(1)
    assert pairs[0, 1] == 2  # node 2 above node 3: both neighbour layers cross
    assert pairs[1, 0] == 0
    assert order.transpose_layer(1)
    assert order.rank[[2, 3]].tolist() == [1, 0]


def test_sifting_moves_a_node_past_several_others() -> None:
    # node 0 of layer 0 belongs at the bottom: it calls the bottom node of layer 1
    layer = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    source, target = np.array([0, 1, 2, 3]), np.array([7, 4, 5, 6])
    order = LayerOrder(layer, source, target, np.array([0, 1, 2, 3, 0, 1, 2, 3]))
    assert order.sift_layer(0)
    assert order.rank[:4].tolist() == [3, 0, 1, 2]


def test_breadth_first_rank_is_a_permutation_per_layer() -> None:
    layer = np.array([0, 1, 1, 2, 0])
    rank = breadth_first_rank(layer, np.array([0, 0, 1, 4]), np.array([1, 2, 3, 2]), np.arange(5), from_sinks=False)
    for index in range(3):
        assert sorted(rank[layer == index].tolist()) == list(range(int((layer == index).sum())))
    assert rank[0] == 0
    assert rank[4] == 1


@pytest.mark.parametrize("seed", range(4))
def test_refine_never_ends_worse_than_its_best_start_and_reports_its_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layering = assign_layers(30, *random_dag(rng, 30, 55))
    proper = proper_graph(layering.layer, layering.down_source, layering.down_target)
    start = order_layers(proper, np.arange(30), passes=0).rank  # the initial order, no sweeps
    rank, crossings = refine_order(
        proper.layer, proper.source, proper.target, [start], lambda r: count_crossings(proper, r)
    )
    assert crossings == count_crossings(proper, rank) <= count_crossings(proper, start)


def test_refine_finds_the_optimum_of_a_small_graph() -> None:
    # two layers of five, a fixed top order: brute force over the bottom's 120 orders gives the optimum
    rng = np.random.default_rng(7)
    source = rng.integers(0, 5, 12)
    target = 5 + rng.integers(0, 5, 12)
    keep = np.unique(source * 10 + target, return_index=True)[1]
    source, target = source[keep], target[keep]
    layer = np.repeat([0, 1], 5)
    proper = proper_graph(layer, source, target)
    best = min(
        count_crossings(proper, np.concatenate([np.arange(5), np.argsort(bottom)]))
        for bottom in itertools.permutations(range(5))
    )
    assert order_layers(proper, np.arange(10)).crossings <= best  # the top may move too: never worse
