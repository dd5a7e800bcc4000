"""Label placement: no label over another label or a node, important nodes first, names before figures."""

from __future__ import annotations

import numpy as np

from flowviz.chart.labels import GAP_PX, estimated_fonts, overlaps, place_labels

FONTS = estimated_fonts(14.0, 12.0)


def _grid(count: int, spacing: float) -> np.ndarray:
    side = int(np.ceil(np.sqrt(count)))
    return np.array([[60 + (i % side) * spacing, 60 + (i // side) * spacing] for i in range(count)], float)


def _check(placed, xy, half) -> None:
    rects = [label.rect for label in placed]
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            assert not overlaps(rects[a], rects[b]), (placed[a], placed[b])
        for node in range(xy.shape[0]):
            node_rect = (xy[node, 0] - half[node, 0], xy[node, 1] - half[node, 1], 2 * half[node, 0], 2 * half[node, 1])
            assert not overlaps(rects[a], node_rect), (placed[a], node)


def test_roomy_nodes_all_get_name_and_figures_beside_them() -> None:
    xy = _grid(9, 220.0)
    half = np.full((9, 2), 15.0)
    lines = [(f"service-{i}", "1.0/s · p95 12 ms") for i in range(9)]
    placed = place_labels(xy, half, lines, np.arange(9.0), fonts=FONTS, width=800, height=800)
    assert sorted(label.node for label in placed) == list(range(9))
    assert all(len(label.lines) == 2 and label.leader is None for label in placed)
    _check(placed, xy, half)
    for label in placed:  # each label sits right beside its node's box (a few pixels away)
        x, y = xy[label.node]
        gap_x = max(label.x - (x + 15), (x - 15) - (label.x + label.width), 0)
        gap_y = max(label.y - (y + 15), (y - 15) - (label.y + label.height), 0)
        assert max(gap_x, gap_y) <= GAP_PX + 0.01


def test_crowded_nodes_get_names_before_anyone_else_gets_figures_and_nothing_overlaps() -> None:
    xy = _grid(36, 48.0)
    half = np.full((36, 2), 12.0)
    lines = [(f"svc-{i}", "12.0/s · 1.0% err · p95 120 ms") for i in range(36)]
    priority = np.arange(36.0)
    placed = place_labels(xy, half, lines, priority, fonts=FONTS, width=1000, height=700, important=frozenset({3}))
    _check(placed, xy, half)
    by_node = {label.node: label for label in placed}
    assert by_node[3].lines == lines[3]  # the important node keeps its figures
    named = len(by_node)
    with_figures = [label.node for label in placed if len(label.lines) == 2 and label.node != 3]
    # nobody got figures while a node that could have been named went without: every name was tried first
    names_only = [line if i == 3 else line[:1] for i, line in enumerate(lines)]
    without = place_labels(
        xy, half, names_only, priority, fonts=FONTS, width=1000, height=700, important=frozenset({3})
    )
    assert named >= len(without)
    assert len(with_figures) < named
    moved = [label for label in placed if label.leader is not None]
    for label in moved:  # a moved label is tied to its node by a leader starting at the node's outline
        x0, y0, x1, _y1 = label.leader
        assert abs(np.hypot(x0 - xy[label.node, 0], y0 - xy[label.node, 1]) - 12.0) < 5.0
        assert label.x - 0.01 <= x1 <= label.x + label.width + 0.01


def test_labels_stay_inside_the_chart_and_off_screen_nodes_get_none() -> None:
    xy = np.array([[5.0, 5.0], [395.0, 295.0], [900.0, 100.0]])
    half = np.full((3, 2), 10.0)
    lines = [("left-top-corner-service",), ("right-bottom-corner-service",), ("off-screen",)]
    placed = place_labels(xy, half, lines, np.zeros(3), fonts=FONTS, width=400, height=300)
    assert sorted(label.node for label in placed) == [0, 1]
    for label in placed:
        assert label.x >= 0
        assert label.y >= 0
        assert label.x + label.width <= 400
        assert label.y + label.height <= 300


def test_important_nodes_win_the_only_free_spot() -> None:
    # two nodes with room for one label between the chart's edges: the important one gets it
    xy = np.array([[100.0, 20.0], [100.0, 20.0 + 26.0]])
    half = np.full((2, 2), 8.0)
    lines = [("busy",), ("failing",)]
    placed = place_labels(
        xy, half, lines, np.array([100.0, 0.0]), fonts=FONTS, width=200, height=66, important=frozenset({1})
    )
    assert next(label.node for label in placed) == 1


def test_edge_labels_avoid_nodes_labels_and_each_other() -> None:
    from flowviz.chart.labels import overlaps, place_edge_labels

    anchors = np.array([[[100.0, 100.0], [140.0, 100.0]], [[100.0, 100.0], [100.0, 160.0]], [[5.0, 5.0], [5.0, 5.0]]])
    taken = [(80.0, 90.0, 30.0, 20.0)]  # a node box over the first anchor of the first label
    placed = place_edge_labels(
        anchors,
        ["one", "two", "off"],
        measure=lambda t: 10.0 * len(t),
        line_px=12.0,
        taken=taken,
        width=400,
        height=300,
    )
    assert [index for index, _ in placed] == [0, 1]  # the third would stick out of the picture
    rects = [rect for _, rect in placed]
    assert rects[0][0] + rects[0][2] / 2 == 140.0  # moved along its edge to the second anchor
    assert not any(overlaps(a, b) for a in rects for b in [*rects, *taken] if a is not b)
