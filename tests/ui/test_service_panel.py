"""The service panel: window figures, neighbour tables and shares, clicking a neighbour, the series, the dock."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import Selection
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.flow_view import FlowChartView
from flowviz.ui.main_window import MainWindow
from flowviz.ui.service_panel import ServicePanel
from tests.ui.test_flow_view import SECOND, T0, traffic

SECONDS = 120


@pytest.fixture
def store() -> RollingStore:
    """a → b 10/s, c → b 5/s (20 % failing), b → d 3/s, for two minutes."""
    store = RollingStore()
    store.ingest(traffic([("a", "b", 10, 0.0), ("c", "b", 5, 0.2), ("b", "d", 3, 0.0)], seconds=SECONDS))
    return store


def make_model(store: RollingStore) -> FlowChartModel:
    model = FlowChartModel(store, window_s=30.0, live=False)
    model.time.tick(0.0, model.available(), streaming=False)
    model.time.seek(T0 + 60 * SECOND)
    model.refresh()
    return model


def make_panel(qtbot, store: RollingStore) -> tuple[ServicePanel, FlowChartView]:
    model = make_model(store)
    selection = Selection()
    view = FlowChartView(model, selection)
    panel = ServicePanel(model, selection)
    panel.service_clicked.connect(lambda node: view.select(node, center=True))
    qtbot.addWidget(view)
    qtbot.addWidget(panel)
    panel.resize(420, 800)
    panel.show()
    return panel, view


def index_of(model: FlowChartModel, name: str) -> int:
    return model.chart.node_names.index(name)


def table_texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_figures_are_the_windows_store_figures(qtbot, store):
    panel, _ = make_panel(qtbot, store)
    model = panel.model
    b = index_of(model, "b")
    panel.selection.select_node(b)
    start, end = model.time.window_ns()
    frame = store.query(start, end)
    window_s = (end - start) / SECOND
    rate = frame.node_requests[b] / window_s
    failure = 100 * frame.node_errors[b] / frame.node_requests[b]
    assert rate == pytest.approx(15.0)
    assert failure == pytest.approx(100 / 15)
    text = panel.figures.text()
    assert f"{rate:.1f}" in text
    assert f"{failure:.1f} %" in text
    assert f"{frame.node_p95_ms[b]:.1f} ms" in text
    assert "b" in panel.title.text()
    assert "service" in panel.title.text()


def test_neighbour_rows_and_shares_are_exact(qtbot, store):
    panel, _ = make_panel(qtbot, store)
    model = panel.model
    panel.selection.select_node(index_of(model, "b"))
    up = panel.upstream.rows
    assert [row.name for row in up] == ["a", "c"]
    assert [row.rate_per_s for row in up] == pytest.approx([10.0, 5.0])
    assert [row.share for row in up] == pytest.approx([2 / 3, 1 / 3])
    assert [row.failure_pct for row in up] == pytest.approx([0.0, 20.0])
    assert table_texts(panel.upstream.table)[0][0] == "a"
    assert table_texts(panel.upstream.table)[1][4] == "33 %"
    down = panel.downstream.rows
    assert [(row.name, row.share) for row in down] == [("d", pytest.approx(1.0))]
    assert down[0].rate_per_s == pytest.approx(3.0)
    start, end = model.time.window_ns()
    p95 = store.query(start, end).edge_p95_ms[model.chart.edge_target == index_of(model, "d")][0]
    assert table_texts(panel.downstream.table) == [["d", "3.0", "0.0", f"{p95:.1f}", "100 %"]]


def test_clicking_a_downstream_row_selects_that_service(qtbot, store):
    panel, view = make_panel(qtbot, store)
    d = index_of(panel.model, "d")
    panel.selection.select_node(index_of(panel.model, "b"))
    table = panel.downstream.table
    cell = table.visualItemRect(table.item(0, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.waitUntil(lambda: view.selection.node == d)  # once no double click can follow
    assert view.emphasis.selected == d
    assert panel.name == "d"  # the panel follows the one selection


def test_the_series_matches_per_step_store_queries(qtbot, store):
    panel, _ = make_panel(qtbot, store)
    b = index_of(panel.model, "b")
    panel.selection.select_node(b)
    qtbot.waitUntil(lambda: (panel.refresh(), panel.history.series is not None)[1], timeout=10_000)
    series = panel.history.series
    assert series.node == b
    assert len(series.start_ns) >= 10
    for k in (0, len(series.start_ns) // 2):
        start = int(series.start_ns[k])
        frame = store.query(start, start + series.step_ns)
        assert series.rate_per_s[k] == pytest.approx(frame.node_requests[b] / (series.step_ns / SECOND))
        assert series.failure_pct[k] == pytest.approx(100 * frame.node_errors[b] / frame.node_requests[b])
        assert series.p95_ms[k] == pytest.approx(frame.node_p95_ms[b])
    assert series.rate_per_s[len(series.start_ns) // 2] == pytest.approx(15.0)
    _x, y = panel.history.rate_curve.getData()
    assert np.allclose(y, series.rate_per_s)


def test_band_and_cursor_follow_the_time_control(qtbot, store):
    panel, _ = make_panel(qtbot, store)
    panel.selection.select_node(index_of(panel.model, "b"))
    panel.model.time.seek(T0 + 90 * SECOND)
    panel.refresh()
    start, end = panel.model.time.window_ns()
    for band, cursor in zip(panel.history.bands, panel.history.cursors, strict=True):
        assert band.getRegion() == pytest.approx((start / 1e9, end / 1e9))
        assert cursor.value() == pytest.approx(end / 1e9)


def test_the_dock_opens_when_a_service_is_selected(qtbot, store):
    window = MainWindow(make_model(store), title="test")
    qtbot.addWidget(window)
    window.show()
    window.view.refresh()
    assert not window.service_dock.isVisible()
    b = index_of(window.model, "b")
    window.view.select(b)
    assert window.service_dock.isVisible()
    assert window.service_panel.node == b
    window.service_panel.service_clicked.emit(index_of(window.model, "d"))
    assert window.service_panel.node == index_of(window.model, "d")
    assert window.service_panel.upstream.rows[0].name == "b"


def test_sub_millisecond_figures_read_in_microseconds(qtbot):
    fast = RollingStore()
    observations = traffic([("a", "b", 10, 0.0)], seconds=SECONDS)
    observations.latency_ns[:] = 420_000  # 0.42 ms calls
    fast.ingest(observations)
    panel, _view = make_panel(qtbot, fast)
    panel.selection.select_node(index_of(panel.model, "b"))
    assert "µs" in panel.figures.text()
    assert "0.0 ms" not in panel.figures.text()
