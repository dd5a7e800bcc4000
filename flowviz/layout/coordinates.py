"""Vertical coordinates: columns pulled toward their neighbours with a minimum gap, and free-slot search."""

from __future__ import annotations

import bisect

import numpy as np


def _offsets(count: int, gap: float, half: np.ndarray | None) -> np.ndarray:
    """Cumulative spacing: `gap` between neighbours, or half[i] + half[i + 1] when sizes are given."""
    if half is None:
        return np.arange(count) * gap
    return np.concatenate([[0.0], np.cumsum(half[:-1] + half[1:])])


def spread_with_gap(desired: np.ndarray, gap: float, half: np.ndarray | None = None) -> np.ndarray:
    """The y closest (least squares) to `desired` that keeps the given order with at least `gap` between
    neighbours (or, with `half`, half[i] + half[i + 1] between neighbours i and i + 1).

    With z_i = y_i - offset_i the constraint is "z non-decreasing": isotonic regression by pool-adjacent-violators.
    """
    count = desired.size
    if count == 0:
        return desired.astype(np.float64)
    offset = _offsets(count, gap, half)
    shifted = (desired - offset).tolist()
    block_sum: list[float] = []
    block_size: list[int] = []
    for value in shifted:
        block_sum.append(value)
        block_size.append(1)
        while len(block_sum) > 1 and block_sum[-2] * block_size[-1] > block_sum[-1] * block_size[-2]:
            last_sum, last_size = block_sum.pop(), block_size.pop()
            block_sum[-1] += last_sum
            block_size[-1] += last_size
    means = np.asarray(block_sum) / np.asarray(block_size)
    return np.repeat(means, block_size) + offset


def _group(by_layer: np.ndarray, layer_count: int) -> list[np.ndarray]:
    order = np.argsort(by_layer, kind="stable")
    bounds = np.searchsorted(by_layer[order], np.arange(layer_count + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(layer_count)]


def assign_y(
    layer: np.ndarray,
    rank: np.ndarray,
    down_source: np.ndarray,
    down_target: np.ndarray,
    *,
    node_gap: float,
    passes: int = 2,
    half: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """y per node: each column in its `rank` order, node_gap apart (or half[i] + half[j] between
    neighbours i and j), each node pulled to its neighbours' mean y.

    Sweeps left to right (toward callers) and right to left (toward callees) `passes` times, then
    once toward both sides; a node with no neighbour on the pulling side keeps its y. `weight` (per
    edge) makes some edges pull harder (graphviz pulls the inner stretches of long edges straight).
    """
    node_count = layer.size
    y = np.zeros(node_count, dtype=np.float64)
    if node_count == 0:
        return y
    layer_count = int(layer.max()) + 1
    columns = _group(layer, layer_count)
    for index, nodes in enumerate(columns):
        nodes = nodes[np.argsort(rank[nodes], kind="stable")]
        columns[index] = nodes
        offset = _offsets(nodes.size, node_gap, None if half is None else half[nodes])
        y[nodes] = offset - offset[-1] / 2
    both_source = np.concatenate([down_source, down_target])
    both_target = np.concatenate([down_target, down_source])
    pull_weight = np.ones(down_source.size) if weight is None else np.asarray(weight, dtype=np.float64)
    both_weight = np.concatenate([pull_weight, pull_weight])
    incoming = _group(layer[down_target], layer_count)
    outgoing = _group(layer[down_source], layer_count)
    either = _group(layer[both_target], layer_count)
    local = np.empty(node_count, dtype=np.int64)
    for nodes in columns:
        local[nodes] = np.arange(nodes.size)

    def pull(
        layers: range, groups: list[np.ndarray], here: np.ndarray, there: np.ndarray, strength: np.ndarray
    ) -> None:
        for index in layers:
            nodes = columns[index]
            chosen = groups[index]
            if chosen.size == 0:
                continue
            where = local[here[chosen]]
            total = np.bincount(where, weights=strength[chosen] * y[there[chosen]], minlength=nodes.size)
            count = np.bincount(where, weights=strength[chosen], minlength=nodes.size)
            desired = np.where(count > 0, total / np.maximum(count, 1), y[nodes])
            y[nodes] = spread_with_gap(desired, node_gap, None if half is None else half[nodes])

    for _ in range(passes):
        pull(range(1, layer_count), incoming, down_target, down_source, pull_weight)
        pull(range(layer_count - 2, -1, -1), outgoing, down_source, down_target, pull_weight)
    pull(range(layer_count), either, both_target, both_source, both_weight)
    return y


def nearest_free_y(target_y: float, occupied_y: list[float], gap: float, *, tolerance: float = 1e-6) -> float:
    """The y nearest to target_y at least `gap` from every y in the sorted list `occupied_y` (ties go down, +y)."""
    clearance = gap - tolerance
    start = bisect.bisect_right(occupied_y, target_y - clearance)
    if start == len(occupied_y) or occupied_y[start] >= target_y + clearance:
        return target_y
    below = target_y
    index = start
    while index < len(occupied_y) and occupied_y[index] < below + clearance:
        below = max(below, occupied_y[index] + gap)
        index += 1
    above = target_y
    index = bisect.bisect_left(occupied_y, target_y + clearance) - 1
    while index >= 0 and occupied_y[index] > above - clearance:
        above = min(above, occupied_y[index] - gap)
        index -= 1
    return below if below - target_y <= target_y - above else above
