"""Edge curves: forward S-curves, edges of cycles running back, routes through way points."""

from __future__ import annotations

import numpy as np

from flowviz.chart.geometry import edge_curves


def _curves(source_xy, target_xy, routes=None):
    source_xy, target_xy = np.asarray(source_xy, float), np.asarray(target_xy, float)
    radius = np.full(source_xy.shape[0], 10.0)
    return edge_curves(source_xy, target_xy, radius, radius, samples=20, routes=routes)


def test_forward_edge_leaves_right_and_enters_left() -> None:
    (curve,) = _curves([[0, 0]], [[300, 100]])
    assert curve[0].tolist() == [10.0, 0.0]
    assert curve[-1].tolist() == [290.0, 100.0]
    assert np.all(np.diff(curve[:, 0]) > 0)


def test_backward_edge_runs_from_the_source_left_to_the_target_right() -> None:
    (curve,) = _curves([[300, 100]], [[0, 0]])
    assert curve[0].tolist() == [290.0, 100.0]
    assert curve[-1].tolist() == [10.0, 0.0]
    assert np.all(np.diff(curve[:, 0]) < 0)  # no loop over the chart: straight back
    assert curve[:, 1].min() >= 0.0


def test_a_cycle_of_two_is_drawn_as_two_separate_curves() -> None:
    forward, back = _curves([[0, 0], [300, 0]], [[300, 0], [0, 0]])
    middle = back[10]
    assert np.abs(forward[:, 1]).max() < 1e-9  # the call: a straight line
    assert middle[1] > 30.0  # its reply bows below it instead of hiding on top


def test_backward_route_passes_its_way_points_right_to_left() -> None:
    way = np.array([[400.0, 50.0], [200.0, 50.0]])
    (curve,) = _curves([[600, 0]], [[0, 0]], routes={0: way})
    assert curve[0, 0] == 590.0
    assert curve[-1, 0] == 10.0
    for x, y in way.tolist():
        nearest = curve[np.argmin(np.abs(curve[:, 0] - x))]
        assert abs(nearest[1] - y) < 8.0


def test_nodes_in_one_column_loop_above() -> None:
    (curve,) = _curves([[0, 0]], [[0, 200]])
    assert curve[:, 1].min() < -50.0
