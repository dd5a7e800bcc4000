"""Cycle breaking and layer assignment: every kept edge points right, cycles cost few reversals."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from flowviz.layout.cycles import feedback_edges, strongly_connected_components
from flowviz.layout.graph import simple_edges
from flowviz.layout.layering import assign_layers, longest_path_layers

from .conftest import random_dag, random_digraph


def test_simple_edges_drop_self_loops_and_merge_duplicates() -> None:
    source, target, weight = simple_edges(3, np.array([0, 0, 1, 2, 0]), np.array([1, 1, 1, 0, 1]), np.arange(5.0))
    assert source.tolist() == [0, 2]
    assert target.tolist() == [1, 0]
    assert weight.tolist() == [0.0 + 1.0 + 4.0, 3.0]


def test_simple_edges_reject_bad_indices() -> None:
    with pytest.raises(ValueError, match="node indices"):
        simple_edges(2, np.array([0]), np.array([2]))
    with pytest.raises(ValueError, match="entries"):
        simple_edges(2, np.array([0, 1]), np.array([1]))


@pytest.mark.parametrize("seed", range(5))
def test_components_match_networkx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source, target = random_digraph(rng, 60, 90)
    component = strongly_connected_components(60, source, target)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(60))
    graph.add_edges_from(zip(source.tolist(), target.tolist(), strict=True))
    ours = {frozenset(np.flatnonzero(component == c).tolist()) for c in np.unique(component)}
    assert ours == {frozenset(c) for c in nx.strongly_connected_components(graph)}


@pytest.mark.parametrize("seed", range(5))
def test_feedback_edges_leave_a_dag(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source, target, weight = simple_edges(80, *random_digraph(rng, 80, 240))
    reverse = feedback_edges(80, source, target, weight)
    dag = nx.DiGraph()
    down = zip(np.where(reverse, target, source).tolist(), np.where(reverse, source, target).tolist(), strict=True)
    dag.add_edges_from(down)
    assert nx.is_directed_acyclic_graph(dag)
    assert reverse.mean() < 0.5


def test_a_dag_keeps_every_edge() -> None:
    rng = np.random.default_rng(7)
    source, target, weight = simple_edges(50, *random_dag(rng, 50, 120))
    assert not feedback_edges(50, source, target, weight).any()


def test_heavy_edges_of_a_cycle_stay_forward() -> None:
    # a -> b -> c -> a: the light edge is the one reversed.
    source, target = np.array([0, 1, 2]), np.array([1, 2, 0])
    for light in range(3):
        weight = np.full(3, 100.0)
        weight[light] = 1.0
        assert feedback_edges(3, source, target, weight).tolist() == [k == light for k in range(3)]


def test_longest_path_layers() -> None:
    # 0 -> 1 -> 2 and 0 -> 2: 2 sits after its deepest caller.
    assert longest_path_layers(4, np.array([0, 1, 0]), np.array([1, 2, 2])).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="acyclic"):
        longest_path_layers(2, np.array([0, 1]), np.array([1, 0]))


@pytest.mark.parametrize("seed", range(5))
def test_dag_layers_put_callers_left(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source, target = random_dag(rng, 70, 150)
    layering = assign_layers(70, source, target)
    assert not layering.reversed.any()
    assert (layering.layer[target] > layering.layer[source]).all()
    assert layering.layer.min() == 0


def test_sources_sit_just_left_of_their_callees() -> None:
    # 0 -> 1 -> 2 -> 3 and a cron job 4 -> 3: the cron job goes to layer 2, not 0.
    layering = assign_layers(5, np.array([0, 1, 2, 4]), np.array([1, 2, 3, 3]))
    assert layering.layer.tolist() == [0, 1, 2, 3, 2]


def test_cycles_and_self_loops() -> None:
    # user -> gateway <-> auth, gateway -> db, auth -> auth
    layering = assign_layers(4, np.array([0, 1, 2, 1, 2]), np.array([1, 2, 1, 3, 2]))
    assert layering.reversed.sum() == 1
    assert (layering.layer[layering.down_target] > layering.layer[layering.down_source]).all()
    assert layering.layer[0] == 0
    assert layering.layer[3] > layering.layer[1]


def test_nodes_without_edges_are_in_layer_zero() -> None:
    layering = assign_layers(4, np.array([1]), np.array([2]))
    assert layering.layer.tolist() == [0, 0, 1, 0]
    assert assign_layers(0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).layer_count == 0
