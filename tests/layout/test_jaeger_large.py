"""The public 1 238-service Jaeger dependency graph: fast, mostly rightward, fewer crossings, stable growth."""

from __future__ import annotations

import time

import numpy as np

from flowviz.layout import FlowLayout
from flowviz.layout.ordering import count_crossings

# The budget is 2 s for opening and laying out; measured ~0.1–0.2 s here. The bound is generous for slow CI.
BUDGET_S = 5.0


def index_order_rank(layer: np.ndarray) -> np.ndarray:
    """Rank within layer by node index: the order before any crossing reduction."""
    order = np.lexsort((np.arange(layer.size), layer))
    rank = np.empty(layer.size, dtype=np.int64)
    rank[order] = np.arange(layer.size) - np.searchsorted(layer[order], layer[order])
    return rank


def test_large_graph_lays_out_fast_and_cleanly(jaeger_large) -> None:
    names, source, target, _ = jaeger_large
    assert (len(names), source.size) == (1238, 4271)
    layout = FlowLayout()
    started = time.perf_counter()
    result = layout.update(names, source, target)
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < BUDGET_S, f"layout took {elapsed_s:.2f} s"

    positions = result.positions
    assert positions.shape == (1238, 2)
    assert np.isfinite(positions).all()
    assert np.unique(positions, axis=0).shape[0] == 1238
    assert np.mean(positions[target, 0] > positions[source, 0]) > 0.9

    placement = layout.last_placement
    assert placement is not None
    ordering = placement.ordering
    before = count_crossings(ordering.proper, index_order_rank(ordering.proper.layer))
    after = count_crossings(ordering.proper, ordering.rank)
    assert after == ordering.crossings
    assert after < ordering.initial_crossings
    assert after < 0.5 * before


def test_large_graph_takes_one_new_service_without_moving_others(jaeger_large) -> None:
    names, source, target, _ = jaeger_large
    layout = FlowLayout()
    before = layout.update(names, source, target)
    caller = int(source[0])
    callee = int(target[1])
    started = time.perf_counter()
    after = layout.update(
        [*names, "brand-new-service"], np.append(source, [caller, 1238]), np.append(target, [1238, callee])
    )
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < 1.0, f"incremental update took {elapsed_s:.2f} s"
    assert np.array_equal(after.positions[:1238], before.positions)
    assert after.positions[1238, 0] == before.positions[caller, 0] + layout.layer_gap
    column = after.positions[:, 0] == after.positions[1238, 0]
    others = after.positions[column, 1]
    assert np.sum(np.abs(others - after.positions[1238, 1]) < layout.node_gap - 1e-6) == 1  # only itself
