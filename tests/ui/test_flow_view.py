"""The flow chart widget: drawing, health colours in pixels, zoom/pan/select, stable positions, long runs."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import DARK
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.flow_view import FlowChartView

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def traffic(calls: list[tuple[str, str, int, float]], *, seconds: int = 20, start_ns: int = T0) -> EdgeObservations:
    """`calls`: (source, target, calls per second, failure ratio), spread over `seconds` seconds."""
    names = {"": 0}
    columns: dict[str, list] = {k: [] for k in ("source", "target", "time_ns", "latency_ns", "failed")}
    for source, target, per_second, failure_ratio in calls:
        for second in range(seconds):
            for k in range(per_second):
                columns["source"].append(names.setdefault(source, len(names)))
                columns["target"].append(names.setdefault(target, len(names)))
                columns["time_ns"].append(start_ns + second * SECOND + k * (SECOND // max(per_second, 1)))
                columns["latency_ns"].append(20_000_000)
                columns["failed"].append(k < per_second * failure_ratio)
    return EdgeObservations.from_columns(
        names,
        **columns,
        source_kind=NodeKind.SERVICE,
        target_kind=NodeKind.SERVICE,
        connection_type=ConnectionType.DIRECT,
        via=0,
    )


@pytest.fixture
def store() -> RollingStore:
    store = RollingStore()
    store.ingest(traffic([("gateway", "healthy-svc", 20, 0.0), ("gateway", "failing-svc", 20, 0.5)]))
    return store


def make_view(qtbot, store: RollingStore, *, size=(900, 600)) -> FlowChartView:
    model = FlowChartModel(store, window_s=60.0, live=False, theme=DARK)
    model.time.seek(T0 + 20 * SECOND)
    view = FlowChartView(model)
    qtbot.addWidget(view)
    view.resize(*size)
    with qtbot.waitExposed(view):
        view.show()
    view.refresh()
    view.fit()
    return view


def grab(view: FlowChartView) -> QImage:
    return view.grab().toImage()


def node_center(view: FlowChartView, name: str) -> QPoint:
    chart = view.model.chart
    index = chart.node_names.index(name)
    x, y = view.viewport.to_screen(chart.node_xy[index : index + 1])[0]
    return QPoint(round(x), round(y))


def ring_color_near(image: QImage, center: QPoint, radius_px: float) -> list[QColor]:
    """Pixels on the node's ring (its outline carries the health colour)."""
    colors = []
    for angle in np.linspace(0, 2 * np.pi, 36, endpoint=False):
        for r in (radius_px - 1, radius_px, radius_px + 1):
            x, y = round(center.x() + r * np.cos(angle)), round(center.y() + r * np.sin(angle))
            if 0 <= x < image.width() and 0 <= y < image.height():
                colors.append(image.pixelColor(x, y))
    return colors


def close_to(color: QColor, rgba: tuple[int, int, int, int], tolerance: int = 40) -> bool:
    return abs(color.red() - rgba[0]) + abs(color.green() - rgba[1]) + abs(color.blue() - rgba[2]) <= tolerance


def test_failing_service_is_drawn_in_the_failing_colour_and_a_healthy_one_is_not(qtbot, store):
    view = make_view(qtbot, store)
    image = grab(view)
    chart = view.model.chart
    radius = {name: chart.node_radius[chart.node_names.index(name)] * view.viewport.scale for name in chart.node_names}
    failing_ring = ring_color_near(image, node_center(view, "failing-svc"), radius["failing-svc"])
    healthy_ring = ring_color_near(image, node_center(view, "healthy-svc"), radius["healthy-svc"])
    assert sum(close_to(c, DARK.failing) for c in failing_ring) >= 10
    assert not any(close_to(c, DARK.failing) for c in healthy_ring)
    assert sum(close_to(c, DARK.healthy) for c in healthy_ring) >= 10


def test_callers_are_drawn_left_of_callees(qtbot, store):
    view = make_view(qtbot, store)
    assert node_center(view, "gateway").x() < node_center(view, "healthy-svc").x()
    assert node_center(view, "gateway").x() < node_center(view, "failing-svc").x()


def test_wheel_zoom_keeps_the_point_under_the_cursor_and_changes_the_picture(qtbot, store):
    view = make_view(qtbot, store)
    before = grab(view)
    anchor = node_center(view, "healthy-svc")
    world_before = view.viewport.to_world(anchor.x(), anchor.y())
    scale_before = view.viewport.scale
    view.viewport.zoom_at(1.15**3, anchor.x(), anchor.y())
    view.update()
    assert view.viewport.scale == pytest.approx(scale_before * 1.15**3)
    assert view.viewport.to_world(anchor.x(), anchor.y()) == pytest.approx(world_before)
    assert grab(view) != before


def test_drag_on_empty_space_pans(qtbot, store):
    view = make_view(qtbot, store)
    offset_before = (view.viewport.offset_x, view.viewport.offset_y)
    start = QPoint(10, 10)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(view, QPoint(10 + 20 * step, 10 + 10 * step))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(110, 60))
    assert view.viewport.offset_x == pytest.approx(offset_before[0] + 100, abs=2)
    assert view.viewport.offset_y == pytest.approx(offset_before[1] + 50, abs=2)


def test_click_selects_a_node_and_dims_the_unrelated_ones(qtbot):
    store = RollingStore()
    store.ingest(traffic([("a", "b", 10, 0.0), ("c", "d", 10, 0.0)]))
    view = make_view(qtbot, store)
    before = grab(view)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=node_center(view, "a"))
    chart = view.model.chart
    selected = chart.node_names.index("a")
    assert view.selection.node == selected
    assert view.emphasis.neighbours == frozenset({chart.node_names.index("b")})
    after = grab(view)
    assert after != before
    # the unrelated node c is dimmed: its ring is darker than before
    center = node_center(view, "c")
    radius = chart.node_radius[chart.node_names.index("c")] * view.viewport.scale
    lum = lambda img: np.mean([c.lightness() for c in ring_color_near(img, center, radius)])  # noqa: E731
    assert lum(after) < lum(before) - 10
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.emphasis.selected is None


def test_search_selects_and_centres_the_match(qtbot, store):
    view = make_view(qtbot, store)
    assert view.select_name("FAILING")
    chart = view.model.chart
    assert view.emphasis.selected == chart.node_names.index("failing-svc")
    center = node_center(view, "failing-svc")
    assert abs(center.x() - view.width() / 2) <= 1
    assert abs(center.y() - view.height() / 2) <= 1
    assert not view.select_name("no-such-service")


def test_existing_nodes_keep_their_positions_when_a_service_appears(qtbot, store):
    view = make_view(qtbot, store)
    chart = view.model.chart
    before = {name: tuple(chart.node_xy[i]) for i, name in enumerate(chart.node_names)}
    store.ingest(traffic([("healthy-svc", "new-db", 5, 0.0)], start_ns=T0 + 5 * SECOND, seconds=5))
    view.refresh()
    chart = view.model.chart
    assert "new-db" in chart.node_names
    for name, xy in before.items():
        assert tuple(chart.node_xy[chart.node_names.index(name)]) == xy
    new = chart.node_xy[chart.node_names.index("new-db")]
    assert new[0] > chart.node_xy[chart.node_names.index("healthy-svc")][0]


def test_dragging_a_node_pins_it_where_it_was_dropped(qtbot, store):
    view = make_view(qtbot, store)
    start = node_center(view, "healthy-svc")
    target = QPoint(start.x() - 60, start.y() + 40)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(view, QPoint(start.x() - 15 * step, start.y() + 10 * step))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=target)
    view.refresh()
    moved = node_center(view, "healthy-svc")
    assert abs(moved.x() - target.x()) <= 2
    assert abs(moved.y() - target.y()) <= 2
    assert view.model.layout.pins


def test_particles_move_between_frames_and_failures_travel_red(qtbot, store):
    view = make_view(qtbot, store)
    particles = view.model.particles
    assert len(particles) > 0
    chart = view.model.chart
    failing_edge = next(e for e in range(chart.edge_count) if chart.node_names[chart.edge_target[e]] == "failing-svc")
    on_failing = particles.edge == failing_edge
    assert particles.failed[on_failing].mean() == pytest.approx(0.5, abs=0.15)
    assert not particles.failed[~on_failing].any()
    before = particles.positions(chart.edge_curve).copy()
    view.model.tick(0.1)
    assert np.abs(particles.positions(chart.edge_curve) - before).max() > 1.0


def test_a_long_animation_run_does_not_crash(qtbot, store):
    view = make_view(qtbot, store, size=(640, 400))
    image = QImage(640, 400, QImage.Format.Format_ARGB32_Premultiplied)
    painted_before = view.frames_painted
    for frame in range(1500):
        view.model.tick(1 / 60)
        view.render(image)  # the full paint path: cached layers, particles, every void Qt call
        if frame % 300 == 0:
            view.viewport.zoom_at(1.05, 320, 200)
    assert view.frames_painted - painted_before == 1500


def test_theme_switch_changes_the_background(qtbot, store):
    from flowviz.chart.themes import LIGHT

    view = make_view(qtbot, store)
    assert close_to(grab(view).pixelColor(3, 3), DARK.background, 10)
    view.set_theme(LIGHT)
    assert close_to(grab(view).pixelColor(3, 3), LIGHT.background, 10)
