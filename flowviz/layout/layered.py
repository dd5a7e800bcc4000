"""One-shot layered layout of a whole graph: layers, ordering, coordinates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowviz.layout.coordinates import assign_y
from flowviz.layout.layering import Layering
from flowviz.layout.ordering import Ordering, ProperGraph, dfs_order, order_layers, proper_graph
from flowviz.layout.wrap import wrap_rows

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
    """x = layer × layer_gap; y from ordered columns pulled toward their neighbours; a very deep graph
    wrapped into rows (see `wrap.wrap_rows`)."""
    down_source, down_target = layering.down_source, layering.down_target
    initial_key = dfs_order(layering.node_count, down_source, down_target, priority)
    proper = proper_graph(layering.layer, down_source, down_target)
    ordering = order_layers(proper, initial_key, passes=sweep_passes)
    count = layering.node_count
    if proper.node_count > ROUTED_UP_TO:
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
        weight=_pull_weight(proper),
    )
    x_all = proper.layer * float(layer_gap)
    wrapped = wrap_rows(
        proper.layer, y_all, proper.source, proper.target, ordering.rank, layer_gap=layer_gap, node_gap=node_gap
    )
    turns: dict[int, np.ndarray] = {}
    if wrapped is not None:
        x_all, y_all, turns = wrapped.x, wrapped.y, wrapped.turns
    positions = np.column_stack([x_all[:count], y_all[:count]])
    routes = _routes(layering, proper, x_all, y_all, turns)
    return LayeredPlacement(positions, ordering, routes)


def _pull_weight(proper: ProperGraph) -> np.ndarray:
    """How hard each segment pulls its ends level (graphviz's: 1 between real nodes, 2 beside a dummy,
    8 between dummies), so long edges run straight and bend near their ends."""
    dummies = (proper.source >= proper.real_count).astype(np.int64) + (proper.target >= proper.real_count)
    return np.array([1.0, 2.0, 8.0])[dummies]


def _routes(
    layering: Layering, proper: ProperGraph, x: np.ndarray, y: np.ndarray, turns: dict[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """Way points of every simple edge that passes columns (its dummies) or turns between rows, in the
    edge's own direction."""
    real_count = layering.node_count
    edge_of_dummy = proper.edge[proper.target >= real_count]
    wanted = np.zeros(layering.source.size, dtype=bool)
    wanted[edge_of_dummy] = True
    for segment in turns:
        wanted[proper.edge[segment]] = True
    if not wanted.any():
        return {}
    segments_of = np.argsort(proper.edge, kind="stable")  # segments of each edge, in chain order
    bounds = np.searchsorted(proper.edge[segments_of], np.arange(layering.source.size + 1))
    routes = {}
    for edge in np.flatnonzero(wanted).tolist():
        points = []
        for segment in segments_of[bounds[edge] : bounds[edge + 1]].tolist():
            if segment in turns:
                points.append(turns[segment])
            node = int(proper.target[segment])
            if node >= real_count:
                points.append(np.array([[x[node], y[node]]]))
        route = np.vstack(points)
        routes[edge] = route[::-1] if layering.reversed[edge] else route  # a reversed edge runs right to left
    return routes
