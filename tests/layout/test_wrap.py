"""Very deep graphs wrap their layers into rows that fill a 16:9 screen."""

from __future__ import annotations

import numpy as np

from flowviz.bench.layout import flowviz_figures
from flowviz.chart.geometry import edge_curves
from flowviz.layout.flow_layout import FlowLayout


def _chain(count: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    return [f"stage-{i}" for i in range(count)], np.arange(count - 1), np.arange(1, count)


def test_a_chain_of_30_layers_wraps_into_rows_that_fill_the_screen() -> None:
    names, source, target = _chain(30)
    layout = FlowLayout()
    result = layout.update(names, source, target)
    rows = np.unique(result.positions[:, 1])
    columns = np.unique(result.positions[:, 0])
    assert 3 <= rows.size <= 6
    assert columns.size * rows.size >= 30
    # rows read like lines of text: left to right, then the next row below, starting left again
    order = np.lexsort((result.positions[:, 0], result.positions[:, 1]))
    assert order.tolist() == list(range(30))
    figures = flowviz_figures((names, source, target, np.ones(29)), repeats=1)
    assert figures["fill_16_9"] >= 0.6  # one row: 0.02
    assert figures["crossings"] == 0
    assert figures["edges_through_nodes"] == 0
    assert figures["hidden_edges"] == 0


def test_an_edge_turning_to_the_next_row_leaves_rightward_and_enters_leftward() -> None:
    names, source, target = _chain(30)
    result = FlowLayout().update(names, source, target)
    xy = result.positions
    turning = [(a, b) for a, b in zip(source.tolist(), target.tolist(), strict=True) if xy[b, 1] > xy[a, 1]]
    assert turning
    for a, b in turning:
        route = result.routes[(names[a], names[b])]
        assert route[0, 0] > xy[a, 0]  # out past the end of its row
        assert route[-1, 0] < xy[b, 0]  # in from before the start of the next
        assert xy[a, 1] < route[1:-1, 1].max() < xy[b, 1]  # through the gap between the rows
        (curve,) = edge_curves(xy[[a]], xy[[b]], np.array([10.0]), np.array([10.0]), routes={0: route})
        assert curve[0, 0] == xy[a, 0] + 10.0  # leaves by the right side
        assert curve[-1, 0] == xy[b, 0] - 10.0  # enters by the left side


def test_graphs_that_fit_in_one_row_do_not_wrap() -> None:
    names, source, target = _chain(8)
    result = FlowLayout().update(names, source, target)
    assert np.unique(result.positions[:, 1]).size == 1
    assert not result.routes


def test_a_wrapped_layout_still_takes_new_nodes_without_moving_others() -> None:
    names, source, target = _chain(30)
    layout = FlowLayout()
    before = layout.update(names, source, target).positions.copy()
    after = layout.update([*names, "late"], np.append(source, 12), np.append(target, 30))
    assert np.array_equal(after.positions[:30], before)
    assert not np.any(np.all(np.isclose(after.positions[:30], after.positions[30]), axis=1))
