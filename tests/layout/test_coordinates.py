"""Vertical placement: minimum gaps kept in order, neighbours pulled together, free-slot search."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.layout.coordinates import assign_y, nearest_free_y, spread_with_gap


def test_spread_keeps_feasible_targets() -> None:
    assert spread_with_gap(np.array([0.0, 100.0, 250.0]), 90.0).tolist() == [0.0, 100.0, 250.0]


def test_spread_splits_a_clash_evenly() -> None:
    assert spread_with_gap(np.array([0.0, 0.0]), 90.0).tolist() == [-45.0, 45.0]
    assert spread_with_gap(np.array([0.0, 0.0, 0.0, 500.0]), 10.0).tolist() == [-10.0, 0.0, 10.0, 500.0]


@pytest.mark.parametrize("seed", range(5))
def test_spread_keeps_order_and_gap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    desired = rng.normal(0, 100, 50)
    spread = spread_with_gap(desired, 30.0)
    assert (np.diff(spread) >= 30.0 - 1e-9).all()
    # optimal: the mean shift is zero (otherwise moving everything would be closer)
    assert abs((spread - desired).mean()) < 1e-6


def test_assign_y_lines_up_a_chain() -> None:
    # 0 -> 1 -> 2 plus 0 -> 3: 1 and 3 share a column, 2 lines up with 1.
    layer = np.array([0, 1, 2, 1])
    y = assign_y(layer, np.array([0, 0, 0, 1]), np.array([0, 1, 0]), np.array([1, 2, 3]), node_gap=90.0)
    assert y[3] - y[1] >= 90.0
    assert y[2] == pytest.approx(y[1])
    assert y[1] < y[0] < y[3]  # the caller sits between its callees


def test_nearest_free_y() -> None:
    occupied = [0.0, 90.0, 180.0, 400.0]
    assert nearest_free_y(300.0, occupied, 90.0) == 300.0
    assert nearest_free_y(100.0, occupied, 90.0) == 270.0  # the cluster 0..180 is left below (nearer) than above
    assert nearest_free_y(20.0, occupied, 90.0) == -90.0
    assert nearest_free_y(90.0, occupied, 90.0) == 270.0  # a tie goes down (+y)
    assert nearest_free_y(390.0, occupied, 90.0) == 310.0
    assert nearest_free_y(5.0, [], 90.0) == 5.0
    assert nearest_free_y(0.0, [-90.0, 90.0], 90.0) == 0.0  # exactly a gap away is free
