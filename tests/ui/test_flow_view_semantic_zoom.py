"""Semantic zoom on the 1 238-service Jaeger graph: zooming in opens the group under the cursor in place,
zooming out closes it again; the user's own openings stay."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.semantic_zoom import CLOSE_BELOW
from flowviz.model.problems import Problems
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.flow_view import FlowChartView


@pytest.fixture(scope="module")
def large_store(captures_dir) -> RollingStore:
    problems = Problems()
    store = RollingStore(problems=problems)
    path = captures_dir / "jaeger-dependencies" / "jaeger-ui-dependencygraph-large.json"
    load_captures([path], IngestPipeline(store, problems=problems))
    return store


def _wheel(view: FlowChartView, at: tuple[float, float], steps: int) -> None:
    point = QPointF(*at)
    view.wheelEvent(
        QWheelEvent(point, point, QPoint(0, 0), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                    Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    )  # fmt: skip


def _positions(model: FlowChartModel) -> dict[str, tuple[float, float]]:
    chart = model.chart
    return {name: tuple(chart.node_xy[i].tolist()) for i, name in enumerate(chart.node_names)}


def test_zooming_in_opens_the_group_under_the_cursor_and_zooming_out_closes_it(qtbot, large_store) -> None:
    model = FlowChartModel(large_store, live=False)
    model.show_whole_range()
    view = FlowChartView(model)
    qtbot.addWidget(view)
    view.resize(1920, 1080)
    model.aspect = 1920 / 1080
    model.refresh()
    view.fit()
    chart = model.chart
    assert chart.node_count <= 60
    assert all(chart.node_members)  # opens as groups
    # the group with the most members among those nearest the middle of the screen
    screen = view.viewport.to_screen(chart.node_xy)
    near = np.argsort(np.hypot(screen[:, 0] - 960, screen[:, 1] - 540))[:5]
    target = int(max(near.tolist(), key=lambda i: len(chart.node_members[i])))
    name, members = chart.node_names[target], chart.node_members[target]
    assert len(members) >= 10
    at = tuple(screen[target].tolist())
    world_at = view.viewport.to_world(*at)
    before = _positions(model)
    steps = 0
    while name in model.chart.node_names:
        assert steps < 40, f"{name} did not open while zooming in to scale {view.viewport.scale:.2f}"
        _wheel(view, at, 1)
        steps += 1
    opened_scale = view.viewport.scale
    assert steps > 3  # not at the first steps: the names must fit and the box be large on screen first
    assert view.viewport.to_world(*at) == pytest.approx(world_at)  # the point under the cursor stays
    after = _positions(model)
    assert set(members) <= set(after)  # the members are shown instead of the box
    kept = set(before) & set(after)
    assert kept
    assert all(after[n] == pytest.approx(before[n]) for n in kept)  # nothing else moved
    # the members unfold where the box was: the busiest takes its place, every one within reach on screen
    frame = model.scoped.frame
    busiest = max(members, key=lambda n: int(frame.node_requests[frame.node_names.index(n)]))
    assert after[busiest] == pytest.approx(before[name])
    member_px = view.viewport.to_screen(np.array([after[n] for n in members]))
    assert (np.hypot(member_px[:, 0] - at[0], member_px[:, 1] - at[1]) < 1920).all()
    assert ((member_px[:, 0] >= 0) & (member_px[:, 0] <= 1920) & (member_px[:, 1] >= 0)
            & (member_px[:, 1] <= 1080)).sum() >= 5  # fmt: skip
    # zooming out one step keeps it open (no flicker); past the margin it closes, and the box is back in place
    _wheel(view, at, -1)
    assert name not in model.chart.node_names
    while view.viewport.scale >= opened_scale * CLOSE_BELOW:
        assert name not in model.chart.node_names
        _wheel(view, at, -1)
    assert name in model.chart.node_names
    assert _positions(model)[name] == pytest.approx(before[name])
    assert not set(members) & set(model.chart.node_names)


def test_a_group_the_user_opened_stays_open_when_zooming_out(qtbot, large_store) -> None:
    model = FlowChartModel(large_store, live=False)
    model.show_whole_range()
    view = FlowChartView(model)
    qtbot.addWidget(view)
    view.resize(1280, 720)
    model.refresh()
    view.fit()
    group = max(range(model.chart.node_count), key=lambda i: len(model.chart.node_members[i]))
    label = model.chart.node_names[group][1:-1]
    assert view.expand_group(group)  # a double-click
    for _ in range(6):
        _wheel(view, (640.0, 360.0), -1)
    assert label in model.scope.expanded
    assert model.chart.node_count > 60
