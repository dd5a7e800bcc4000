"""One-shot layered layout of a whole graph: layers, ordering, coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.layout.coordinates import assign_y
from flowviz.layout.layering import Layering
from flowviz.layout.ordering import Ordering, dfs_order, order_layers, proper_graph


@dataclass(frozen=True, slots=True, eq=False)
class LayeredPlacement:
    """Positions (N×2) of a layered layout and the ordering that produced them."""

    positions: np.ndarray  # float64 (N, 2)
    ordering: Ordering


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
    y = assign_y(
        layering.layer,
        ordering.rank[: layering.node_count],
        down_source,
        down_target,
        node_gap=node_gap,
        passes=coordinate_passes,
    )
    positions = np.column_stack([layering.layer * float(layer_gap), y])
    return LayeredPlacement(positions, ordering)
