"""Place new nodes into an existing layout without moving anyone: column from their edges, y from neighbours."""

from __future__ import annotations

import bisect
import math

import numpy as np

from flowviz.layout.coordinates import nearest_free_y
from flowviz.layout.graph import adjacency
from flowviz.layout.layering import Layering


def column_of(x: float, layer_gap: float) -> int:
    """The column an x falls in (columns are layer_gap apart, column 0 at x = 0)."""
    return round(x / layer_gap)


def place_new_nodes(
    layering: Layering,
    positions: np.ndarray,
    new_nodes: np.ndarray,
    *,
    priority: np.ndarray,
    layer_gap: float,
    node_gap: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill in positions[new_nodes] (NaN rows) given the placed rows; returns (positions, column of new nodes).

    A new node goes one column right of its rightmost placed caller; a node without callers goes
    one column left of its leftmost callee; a node unconnected to anything placed takes its layer.
    New nodes are placed callers first (by layer), so a chain of new nodes lines up left to right.
    Its y is the mean y of its placed neighbours (else the bottom of its column), nudged to the
    nearest slot at least node_gap from every node in that column.
    """
    positions = positions.copy()
    node_count = layering.node_count
    is_new = np.zeros(node_count, dtype=bool)
    is_new[new_nodes] = True
    column = np.zeros(node_count, dtype=np.int64)
    placed = np.flatnonzero(~is_new)
    column[placed] = np.rint(positions[placed, 0] / layer_gap).astype(np.int64)
    occupied: dict[int, list[float]] = {}
    for index in np.argsort(positions[placed, 1], kind="stable"):
        occupied.setdefault(int(column[placed[index]]), []).append(float(positions[placed[index], 1]))

    down_source, down_target = layering.down_source, layering.down_target
    succ_ptr, succ, _ = adjacency(node_count, down_source, down_target)
    pred_ptr, pred, _ = adjacency(node_count, down_target, down_source)
    order = new_nodes[np.lexsort((new_nodes, priority[new_nodes], layering.layer[new_nodes]))].tolist()

    # Rightmost column each new node may take so it stays left of its callees (placed or new).
    limit = dict.fromkeys(order, math.inf)
    for node in reversed(order):
        for other in succ[succ_ptr[node] : succ_ptr[node + 1]].tolist():
            bound = column[other] - 1 if not is_new[other] else limit[other] - 1
            limit[node] = min(limit[node], bound)

    is_placed = ~is_new
    for node in order:
        callers = pred[pred_ptr[node] : pred_ptr[node + 1]]
        callees = succ[succ_ptr[node] : succ_ptr[node + 1]]
        callers = callers[is_placed[callers]]
        if callers.size:
            node_column = int(column[callers].max()) + 1
        elif math.isfinite(limit[node]):
            node_column = int(limit[node])
        else:
            node_column = int(layering.layer[node])
        neighbours = np.concatenate([callers, callees[is_placed[callees]]])
        slots = occupied.setdefault(node_column, [])
        if neighbours.size:
            target_y = float(positions[neighbours, 1].mean())
        elif slots:
            target_y = slots[-1] + node_gap
        else:
            target_y = 0.0
        y = nearest_free_y(target_y, slots, node_gap)
        bisect.insort(slots, y)
        positions[node] = (node_column * layer_gap, y)
        column[node] = node_column
        is_placed[node] = True
    return positions, column[new_nodes]


def settle_around_fixed(positions: np.ndarray, fixed: np.ndarray, *, layer_gap: float, node_gap: float) -> np.ndarray:
    """Nudge movable nodes that sit within node_gap of a fixed (pinned) node in the same column."""
    if not fixed.any() or fixed.all():
        return positions
    positions = positions.copy()
    column = np.rint(positions[:, 0] / layer_gap).astype(np.int64)
    for fixed_column in np.unique(column[fixed]).tolist():
        in_column = column == fixed_column
        slots = sorted(positions[in_column & fixed, 1].tolist())
        movable = np.flatnonzero(in_column & ~fixed)
        movable = movable[np.argsort(positions[movable, 1], kind="stable")]
        for node in movable.tolist():
            y = nearest_free_y(float(positions[node, 1]), slots, node_gap)
            bisect.insort(slots, y)
            positions[node, 1] = y
    return positions
