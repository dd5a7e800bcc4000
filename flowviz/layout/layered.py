"""One-shot layered layout of a whole graph: layers, ordering, coordinates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowviz.layout.coordinates import assign_y
from flowviz.layout.layering import Layering
from flowviz.layout.ordering import Ordering, dfs_order, order_layers, proper_graph

ROUTED_UP_TO = 6_000  # nodes of the proper graph (real and dummy) up to which long edges are routed
DUMMY_SHARE = 0.3  # room a long edge takes where it passes a column, as a share of the node gap


@dataclass(frozen=True, slots=True, eq=False)
class LayeredPlacement:
    """Positions (N×2) of a layered layout, the ordering that produced them, and the way points of
    each long edge through the columns it passes (simple edge index -> K×2 in the edge's own
    direction: right to left for an edge reversed to break a cycle; with room reserved for it there)."""

    positions: np.ndarray  # float64 (N, 2)
    ordering: Ordering
    routes: dict[int, np.ndarray] = field(default_factory=dict)


def priority_rank(node_count: int, node_weight: np.ndarray | None) -> np.ndarray:
    """Rank per node, heaviest first (ties by index): who is visited and placed first."""
    if node_weight is None:
        return np.arange(node_count, dtype=np.int64)
    order = np.lexsort((np.arange(node_count), -np.asarray(node_weight, dtype=np.float64)))
    rank = np.empty(node_count, dtype=np.int64)
    rank[order] = np.arange(node_count)
    return rank


def layered_positions(
    layering: Layering,
    *,
    layer_gap: float,
    node_gap: float,
    priority: np.ndarray,
    sweep_passes: int = 6,
    coordinate_passes: int = 2,
) -> LayeredPlacement:
    """x = layer × layer_gap; y from barycentre-ordered columns pulled toward their neighbours."""
    down_source, down_target = layering.down_source, layering.down_target
    initial_key = dfs_order(layering.node_count, down_source, down_target, priority)
    proper = proper_graph(layering.layer, down_source, down_target)
    ordering = order_layers(proper, initial_key, passes=sweep_passes)
    count = layering.node_count
    if proper.node_count > ROUTED_UP_TO or proper.node_count == count:
        y = assign_y(
            layering.layer, ordering.rank[:count], down_source, down_target, node_gap=node_gap, passes=coordinate_passes
        )
        return LayeredPlacement(np.column_stack([layering.layer * float(layer_gap), y]), ordering)
    # long edges pass their columns through dummy nodes with room of their own: nodes keep off them
    half = np.full(proper.node_count, node_gap / 2)
    half[count:] = node_gap * DUMMY_SHARE / 2
    y_all = assign_y(
        proper.layer,
        ordering.rank,
        proper.source,
        proper.target,
        node_gap=node_gap,
        passes=coordinate_passes,
        half=half,
    )
    positions = np.column_stack([layering.layer * float(layer_gap), y_all[:count]])
    span = layering.layer[down_target] - layering.layer[down_source]
    dummies = span - 1
    first = count + np.cumsum(dummies) - dummies
    routes = {}
    for edge in np.flatnonzero(dummies > 0).tolist():
        nodes = np.arange(first[edge], first[edge] + dummies[edge])
        if layering.reversed[edge]:  # an edge reversed to break a cycle runs right to left
            nodes = nodes[::-1]
        routes[edge] = np.column_stack([proper.layer[nodes] * float(layer_gap), y_all[nodes]])
    return LayeredPlacement(positions, ordering, routes)
