"""Assign layers: break cycles, then longest path from the sources (callers left, callees right)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.layout.cycles import feedback_edges
from flowviz.layout.graph import adjacency, simple_edges


@dataclass(frozen=True, slots=True, eq=False)
class Layering:
    """A layered graph: `layer` per node and the simple edges, oriented so every one points to a higher layer.

    `source`/`target` are the simple edges as given; `reversed` marks those broken to remove cycles,
    and `down_source`/`down_target` are the edges with those flipped (a DAG).
    """

    node_count: int
    layer: np.ndarray  # int64 per node
    source: np.ndarray  # int64 per simple edge
    target: np.ndarray
    weight: np.ndarray  # float64, summed over merged parallel edges
    reversed: np.ndarray  # bool per simple edge

    @property
    def down_source(self) -> np.ndarray:
        return np.where(self.reversed, self.target, self.source)

    @property
    def down_target(self) -> np.ndarray:
        return np.where(self.reversed, self.source, self.target)

    @property
    def layer_count(self) -> int:
        return int(self.layer.max()) + 1 if self.node_count else 0


def longest_path_layers(node_count: int, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Layer per node of a DAG: 0 for sources, else one more than its deepest predecessor."""
    indptr, neighbour, _ = adjacency(node_count, source, target)
    indptr_l, neighbour_l = indptr.tolist(), neighbour.tolist()
    in_count = np.bincount(target, minlength=node_count).tolist()
    layer = [0] * node_count
    ready = [v for v in range(node_count) if in_count[v] == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        next_layer = layer[node] + 1
        for k in range(indptr_l[node], indptr_l[node + 1]):
            other = neighbour_l[k]
            if layer[other] < next_layer:
                layer[other] = next_layer
            in_count[other] -= 1
            if in_count[other] == 0:
                ready.append(other)
    if done != node_count:
        raise ValueError("longest_path_layers needs an acyclic graph")
    return np.asarray(layer, dtype=np.int64)


def pull_sources_right(node_count: int, source: np.ndarray, target: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Move every source (no callers) to just left of its nearest callee: shorter edges, a thinner first column."""
    if source.size == 0:
        return layer
    has_callers = np.bincount(target, minlength=node_count) > 0
    nearest_callee = np.full(node_count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(nearest_callee, source, layer[target])
    movable = ~has_callers & (nearest_callee != np.iinfo(np.int64).max)
    layer = layer.copy()
    layer[movable] = nearest_callee[movable] - 1
    return layer


def assign_layers(
    node_count: int,
    source: np.ndarray,
    target: np.ndarray,
    *,
    edge_weight: np.ndarray | None = None,
    tie_rank: np.ndarray | None = None,
) -> Layering:
    """Layers for a directed graph with cycles: reverse a small feedback arc set, then longest path.

    Self-loops and parallel edges are dropped/merged first; nodes without edges land in layer 0.
    """
    simple_source, simple_target, weight = simple_edges(node_count, source, target, edge_weight)
    reverse = feedback_edges(node_count, simple_source, simple_target, weight, tie_rank=tie_rank)
    down_source = np.where(reverse, simple_target, simple_source)
    down_target = np.where(reverse, simple_source, simple_target)
    layer = longest_path_layers(node_count, down_source, down_target)
    layer = pull_sources_right(node_count, down_source, down_target, layer)
    return Layering(node_count, layer, simple_source, simple_target, weight, reverse)
