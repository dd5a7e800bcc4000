"""Panels after the selection changes: nothing of the previous selection lingers, the tab bar stays where it
is, a double click on a neighbour opens that edge, closing a panel undims the chart, edge picking."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from flowviz.store.detail_queries import ServiceDetails
from flowviz.store.latency_bins import BIN_COUNT
from flowviz.ui.main_window import MainWindow
from tests.ui.test_service_panel import index_of, make_model, make_panel, store  # noqa: F401 (fixture)


def _details(model) -> ServiceDetails:
    histogram = np.zeros(BIN_COUNT, np.int64)
    histogram[100] = 7
    return ServiceDetails(
        operations=[], histogram=histogram, critical_path_share=0.42, exemplars={}, in_range=None, skipped_spans=0
    )


def test_deselecting_clears_what_the_panel_showed(qtbot, store):  # noqa: F811
    panel, _view = make_panel(qtbot, store)
    panel.selection.select_node(index_of(panel.model, "b"))
    panel._show_details(_details(panel.model), panel.model.time.window_ns())
    assert "42 %" in panel.bottleneck.text()
    assert panel.upstream.table.rowCount() == 2
    panel.selection.select_node(None)
    assert panel.title.text() == "Select a service in the chart"
    assert panel.upstream.table.rowCount() == 0
    assert panel.downstream.table.rowCount() == 0
    assert panel.bottleneck.text() == ""
    assert panel.operations.rowCount() == 0
    assert panel.exemplar_table.rowCount() == 0


def test_the_tab_bar_stays_put_when_the_texts_above_change(qtbot, store):  # noqa: F811
    panel, _view = make_panel(qtbot, store)
    panel.selection.select_node(index_of(panel.model, "b"))
    qtbot.wait(20)
    tab_y = panel.tabs.tabBar().mapTo(panel, QPoint(0, 0)).y()
    panel._show_details(_details(panel.model), panel.model.time.window_ns())  # a two-line bottleneck note
    panel.bottleneck.setText("Critical path: <b>42 %</b> of the time " + "of a long explanation " * 8)
    qtbot.wait(20)
    assert panel.tabs.tabBar().mapTo(panel, QPoint(0, 0)).y() == tab_y
    panel.selection.select_node(index_of(panel.model, "d"))
    qtbot.wait(20)
    assert panel.tabs.tabBar().mapTo(panel, QPoint(0, 0)).y() == tab_y


def test_double_clicking_a_neighbour_opens_its_edge_without_navigating(qtbot, store):  # noqa: F811
    panel, _view = make_panel(qtbot, store)
    b = index_of(panel.model, "b")
    panel.selection.select_node(b)
    clicked, edges = [], []
    panel.service_clicked.connect(clicked.append)
    panel.edge_clicked.connect(edges.append)
    table = panel.downstream.table
    row = panel.downstream.rows[0]
    cell = table.visualItemRect(table.item(0, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.wait(int(panel._click_timer.interval() * 1.5))
    assert edges == [row.edge]
    assert clicked == []  # the first click did not go to the neighbour
    assert panel.node == b


def test_closing_the_service_panel_undims_the_chart(qtbot, store):  # noqa: F811
    window = MainWindow(make_model(store), title="test")
    qtbot.addWidget(window)
    window.show()
    window.view.refresh()
    window.view.select(index_of(window.model, "b"))
    assert window.service_dock.isVisible()
    window.service_dock.close()
    assert window.view.emphasis.selected is None
    assert window.view.emphasis.neighbours == frozenset()


def test_an_edge_is_picked_only_within_a_few_pixels(qtbot, store):  # noqa: F811
    model = make_model(store)
    chart = model.chart
    edge = 0
    middle = chart.edge_curve[edge][len(chart.edge_curve[edge]) // 2]
    assert model.edge_at(float(middle[0]), float(middle[1]) + 2.0, slop=6.0) == edge
    others = chart.edge_curve[np.arange(chart.edge_count) != edge].reshape(-1, 2)
    far = middle + np.array([0.0, 60.0])
    if np.hypot(*(others - far).T).min() > 6.0:
        assert model.edge_at(float(far[0]), float(far[1]), slop=6.0) is None
