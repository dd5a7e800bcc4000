"""Filter field, focus, groups, presentation mode, refits and what is remembered per capture, in the window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.reduction import ChartScope
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.flow_view import FlowChartView
from flowviz.ui.main_window import MainWindow
from tests.ui.test_flow_view import traffic

CALLS = [
    ("user", "web.front", 10, 0.0),
    ("web.front", "api.front", 10, 0.0),
    ("api.front", "orders.back", 5, 0.3),
    ("api.front", "cart.back", 5, 0.0),
    ("orders.back", "db.back", 5, 0.0),
]


@pytest.fixture
def settings(tmp_path):
    """QSettings in an INI file under tmp_path (never the user's own settings)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return tmp_path


def _store() -> RollingStore:
    store = RollingStore()
    store.ingest(traffic(CALLS, seconds=20))
    return store


def _window(qtbot, store: RollingStore, key: str | None = None) -> MainWindow:
    window = MainWindow(FlowChartModel(store, window_s=30.0, live=False), title="test", bookmark_key=key)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    window.model.tick(0.0)
    window.view.refresh()
    return window


def _names(window: MainWindow) -> set[str]:
    chart = window.model.chart
    return {name for name, shown in zip(chart.node_names, chart.node_visible, strict=True) if shown}


def test_the_filter_field_shows_what_matches_and_refuses_nonsense(qtbot, settings) -> None:
    window = _window(qtbot, _store())
    assert _names(window) == {"user", "web.front", "api.front", "orders.back", "cart.back", "db.back"}
    window.controls.filter_field.setText("name ~ back")
    assert window.controls.apply_filter()
    assert _names(window) == {"orders.back", "cart.back", "db.back"}
    window.controls.filter_field.setText("name ~ back AND")
    assert not window.controls.apply_filter()
    assert _names(window) == {"orders.back", "cart.back", "db.back"}  # the last good filter stays
    window.controls.filter_field.clear()
    window.controls.problems_action.setChecked(True)
    assert _names(window) == {"orders.back"}  # 30 % failures: the only problem
    window.controls.problems_action.setChecked(False)
    assert len(_names(window)) == 6


def test_focus_on_the_selection_with_depths_and_paths(qtbot, settings) -> None:
    window = _window(qtbot, _store())
    chart = window.model.chart
    window.view.select(chart.node_names.index("api.front"))
    assert window.controls.focus_selection()
    assert _names(window) == {"web.front", "api.front", "orders.back", "cart.back"}
    window.controls.downstream.setValue(2)
    assert _names(window) == {"web.front", "api.front", "orders.back", "cart.back", "db.back"}
    window.controls.upstream.setValue(0)
    assert _names(window) == {"api.front", "orders.back", "cart.back", "db.back"}
    window.view.select(window.model.chart.node_names.index("db.back"))
    assert window.controls.focus_between()
    assert _names(window) == {"api.front", "orders.back", "db.back"}
    window.controls.clear_focus()
    assert len(_names(window)) == 6


def test_groups_open_and_close_and_search_finds_inside_them(qtbot, settings) -> None:
    window = _window(qtbot, _store())
    window.controls.set_group_mode("namespace")
    view, model = window.view, window.model
    assert _names(window) == {"user", "[front]", "[back]"}
    back = model.chart.node_names.index("[back]")
    assert set(model.members(back)) == {"orders.back", "cart.back", "db.back"}
    assert int(model.chart.node_health[back]) == 3  # failing, as its worst member
    rect_centre = view.viewport.to_screen(model.chart.node_xy[back])
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPointF(*rect_centre).toPoint())
    assert _names(window) == {"user", "[front]", "orders.back", "cart.back", "db.back"}
    view.select(model.chart.node_names.index("cart.back"))
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert _names(window) == {"user", "[front]", "[back]"}
    assert model.time.speed == 1.0  # `-` over a group closed it and left the replay speed alone
    assert view.select_name("api")  # inside the closed [front]: opened, selected, zoomed to
    assert "api.front" in _names(window)
    assert model.chart.node_names[view.emphasis.selected] == "api.front"
    assert view.user_moved


def test_presentation_mode_hides_everything_but_chart_and_timeline_and_esc_leaves(qtbot, settings) -> None:
    window = _window(qtbot, _store())
    toolbars = [window.menuBar(), window.statusBar(), window.controls.toolbar, window.transport]
    assert all(widget.isVisible() for widget in toolbars)
    window.controls.presentation.action.trigger()
    qtbot.waitUntil(lambda: not window.menuBar().isVisible())
    assert not any(widget.isVisible() for widget in toolbars)
    assert window.view.isVisible()
    assert window.strip.isVisible()
    assert window.isFullScreen()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.menuBar().isVisible())
    assert all(widget.isVisible() for widget in toolbars)
    assert not window.isFullScreen()
    window.controls.presentation.action.trigger()
    window.close()  # closing in a presentation: the window's layout is saved as it was before
    assert not window.controls.presentation.active
    assert not any(widget.isHidden() for widget in toolbars)


def test_pins_groups_filter_and_view_survive_a_reopen(qtbot, settings) -> None:
    store = _store()
    window = _window(qtbot, store, key="/captures/shop.jsonl")
    chart = window.model.chart
    window.model.pin(chart.node_names.index("db.back"), 1234.0, 567.0)
    pinned = window.model.layout.pins["db.back"]  # in layout units
    window.controls.filter_field.setText("hide name = user")
    window.controls.apply_filter()
    window.view.viewport.zoom_at(2.0, 100, 100)
    window.view._user_moves_view()
    scale = window.view.viewport.scale
    window.controls.set_group_mode("namespace")
    window.model.set_scope(dataclasses.replace(window.model.scope, expanded=frozenset({"front", "back"})))
    window.view.semantic_zoom.opened_at["back"] = 1.5  # the zoom opened [back], the user [front]
    window.close()
    reopened = _window(qtbot, store, key="/captures/shop.jsonl")
    reopened.controls.restore_view()
    assert reopened.model.scope.expanded == {"front", "back"}
    assert reopened.view.semantic_zoom.opened_at == {"back": 1.5}  # zooming out closes it again
    result = reopened.model.layout.result
    assert tuple(result.positions[result.node_names.index("db.back")]) == pytest.approx(pinned)
    assert "user" not in _names(reopened)
    assert reopened.view.viewport.scale == pytest.approx(scale)
    reopened.controls.reset()
    assert "user" in _names(reopened)
    assert reopened.model.layout.pins == {}
    other = _window(qtbot, store, key="/captures/other.jsonl")
    assert "user" in _names(other)


def test_the_chart_refits_on_resize_until_the_user_zooms(qtbot) -> None:
    model = FlowChartModel(_store(), window_s=30.0, live=False)
    view = FlowChartView(model)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    model.tick(0.0)
    view.refresh()
    wide = view.viewport.scale
    view.resize(600, 700)  # a dock opened beside the chart
    qtbot.waitUntil(lambda: view.viewport.scale < wide)
    bounds = model.bounds()
    left, top = view.viewport.to_screen(np.array([bounds[0], bounds[1]]))
    assert 0 <= left <= 600
    assert 0 <= top <= 700
    view.viewport.zoom_at(1.5, 300, 300)
    view._user_moves_view()
    zoomed = view.viewport.scale
    view.resize(1200, 700)
    qtbot.wait(50)
    assert view.viewport.scale == zoomed  # the user's view is kept
    view.fit()
    assert view.viewport.scale != zoomed
    assert not view.user_moved
    assert ChartScope().group_mode == "auto"


def test_scrubbing_never_refits_the_view(qtbot) -> None:
    """Node sizes follow each window's traffic; the fitted view must not follow them at every step."""
    from tests.ui.test_flow_view import SECOND, T0

    store = RollingStore()
    store.ingest(traffic([("a", "b", 50, 0.0), ("b", "c", 50, 0.0)], seconds=10))
    store.ingest(traffic([("a", "b", 1, 0.0), ("b", "c", 1, 0.0)], seconds=10, start_ns=T0 + 10 * SECOND))
    model = FlowChartModel(store, window_s=5.0, live=False)
    view = FlowChartView(model)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    view.scrub_to(T0 + 5 * SECOND)
    view.fit()
    before = (view.viewport.scale, view.viewport.offset_x, view.viewport.offset_y)
    radius_before = model.chart.node_radius.copy()
    view.scrub_to(T0 + 18 * SECOND)
    assert not np.allclose(model.chart.node_radius, radius_before)  # the nodes did shrink
    assert (view.viewport.scale, view.viewport.offset_x, view.viewport.offset_y) == before


def test_a_live_source_keeps_its_pins_groups_filter_and_view_apart_from_others(qtbot, settings) -> None:
    from flowviz.ui.windows import source_memory_key

    kafka = source_memory_key("kafka", "broker:9092", "otlp_spans")
    keys = {
        kafka,
        source_memory_key("kafka", "broker:9092", "other"),
        source_memory_key("otlp", "gRPC :4317"),
        source_memory_key("prometheus", "http://prom:9090"),
        source_memory_key("simulator", "seed 0"),
    }
    assert len(keys) == 5  # each source its own memory
    store = _store()

    def live_window(key: str) -> MainWindow:
        window = MainWindow(FlowChartModel(store, window_s=30.0, live=True), title="live", memory_key=key)
        qtbot.addWidget(window)
        window.resize(1280, 720)
        window.show()
        window.model.tick(0.0)
        window.view.refresh()
        return window

    window = live_window(kafka)
    assert window.controls.memory_key == kafka
    window.model.pin(window.model.chart.node_names.index("db.back"), 1234.0, 567.0)
    pinned = window.model.layout.pins["db.back"]
    window.controls.filter_field.setText("hide name = user")
    window.controls.apply_filter()
    window.view.viewport.zoom_at(2.0, 100, 100)
    window.view._user_moves_view()
    scale = window.view.viewport.scale
    window.close()
    reopened = live_window(kafka)
    assert reopened.model.layout.pins["db.back"] == pytest.approx(pinned)
    assert "user" not in _names(reopened)
    qtbot.waitUntil(lambda: reopened.view.viewport.scale == pytest.approx(scale), timeout=3000)  # once it shows
    other = live_window(source_memory_key("otlp", "gRPC 127.0.0.1:4317"))  # another source: nothing of it
    assert "user" in _names(other)
    assert other.model.layout.pins == {}
    reopened.controls.reset()
    reopened.close()
    again = live_window(kafka)
    assert again.model.layout.pins == {}
    assert "user" in _names(again)
