"""Unfolding a group: its members take the free places nearest to its box, and nothing placed moves."""

from __future__ import annotations

import numpy as np

from flowviz.layout import FlowLayout
from flowviz.layout.unfold import reach_columns, unfold_spots

from .test_flow_layout import LAYER_GAP, NODE_GAP, assert_no_overlap


def test_spots_nearest_first_and_apart() -> None:
    occupied = {1: [0.0]}  # a node right where the box was: its column's places are above and below it
    spots = unfold_spots((260.0, 0.0), 5, occupied, layer_gap=LAYER_GAP, node_gap=NODE_GAP)
    distances = [np.hypot(x - 260.0, y) for x, y, _ in spots]
    assert distances == sorted(distances)
    assert spots[0][:2] in ((260.0, 90.0), (260.0, -90.0))
    assert all(abs(column - 1) <= reach_columns(5) for _, _, column in spots)
    assert occupied[1] == sorted(occupied[1])
    assert sum(len(ys) for ys in occupied.values()) == 6
    # a layout stretched 10 times in y on screen: places 9 apart in y are 90 apart as shown, and a column
    # (260 away) is as far as 29 of them
    tall = unfold_spots((260.0, 0.0), 5, {1: [0.0]}, layer_gap=LAYER_GAP, node_gap=9.0, y_weight=10.0)
    assert tall == [(260.0, 9.0, 1), (260.0, -9.0, 1), (260.0, 18.0, 1), (260.0, -18.0, 1), (0.0, 0.0, 0)]


def test_members_replace_the_group_where_it_was_and_nobody_moves() -> None:
    layout = FlowLayout()
    names = ["web", "[shop]", "db", "other"]
    before = layout.update(names, np.array([0, 1, 0]), np.array([1, 2, 3])).positions.copy()
    group_xy = tuple(before[1])
    members = ["cart", "checkout", "pricing"]
    layout.pin("pricing", 5000.0, 5000.0)
    layout.unfold("[shop]", members)
    new_names = ["web", "db", "other", *members]
    # web calls each member, each member calls db (the calls the group stood for)
    source = np.array([0, 0, 0, 3, 4, 5, 0])
    target = np.array([3, 4, 5, 1, 1, 1, 2])
    result = layout.update(new_names, source, target)
    position = dict(zip(new_names, result.positions.tolist(), strict=True))
    for index, name in enumerate(names):
        if name in position:
            assert position[name] == before[index].tolist()  # nothing placed moved
    assert position["cart"] == list(group_xy)  # the first member takes the box's own place
    assert abs(position["checkout"][0] - group_xy[0]) <= LAYER_GAP * reach_columns(5)
    assert abs(position["checkout"][1] - group_xy[1]) <= 2 * NODE_GAP
    assert position["pricing"] == [5000.0, 5000.0]  # a pinned member keeps its pin
    assert_no_overlap(result)
