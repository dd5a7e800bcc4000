"""The window's one selection, end to end: the chart, the panels and the trace view read and write the same
`Selection` — a click, the pointer, a trace's path, a latency range, a scrub, Escape and a reset."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from flowviz.chart.latency_bars import bins_of_bars
from flowviz.chart.selection import Selection
from flowviz.store.latency_bins import bin_of
from tests.ui.test_drill_down import S, node, simulated, window  # noqa: F401 (fixtures)
from tests.ui.test_flow_view import node_center


def _open_trace(window):  # noqa: F811
    window.view.select(node(window, "payments"))
    panel = window.service_panel
    panel.wait_for_details()
    panel.exemplar_table.cellClicked.emit(0, 0)
    window.trace_view.wait()
    return window.trace_view


def test_one_selection_is_shared_by_the_chart_the_panels_and_the_trace_view(window):  # noqa: F811
    selection = window.selection
    assert isinstance(selection, Selection)
    assert window.view.selection is selection
    assert window.service_panel.selection is selection
    assert window.edge_panel.selection is selection
    assert window.trace_view.selection is selection


def test_a_node_clicked_on_the_chart_is_the_panels_and_the_trace_views(qtbot, window):  # noqa: F811
    trace_view = _open_trace(window)  # a trace through payments is open
    view = window.view
    view.fit()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=node_center(view, "orders"))
    assert window.selection.node == node(window, "orders")
    assert window.service_dock.isVisible()
    assert window.service_panel.name == "orders"
    assert "orders" in window.service_panel.title.text()
    assert trace_view.canvas.marked_service == "orders"  # its spans are marked in the waterfall
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert window.selection.node is None
    assert trace_view.canvas.marked_service is None
    assert window.service_panel.title.text() == "Select a service in the chart"


def test_the_pointer_over_a_node_is_the_selections_hover(qtbot, window):  # noqa: F811
    view = window.view
    view.fit()
    QTest.mouseMove(view, node_center(view, "payments"))
    qtbot.waitUntil(lambda: window.selection.hovered_node == node(window, "payments"), timeout=2_000)
    assert view.emphasis.hovered == node(window, "payments")
    assert window.selection.node is None  # pointing is not choosing


def test_a_trace_path_set_by_the_trace_view_lights_those_calls_in_the_charts_rows(window):  # noqa: F811
    trace_view = _open_trace(window)
    names, calls = trace_view.fall.path_on_chart()
    selection = window.selection
    assert selection.path_names == names
    assert selection.path_calls == calls
    chart = window.model.chart
    lit_nodes, lit_edges = selection.path_rows(chart)
    pairs = [
        (chart.node_names[s], chart.node_names[t])
        for s, t in zip(chart.edge_source.tolist(), chart.edge_target.tolist(), strict=True)
    ]
    expected = np.array([pair in calls for pair in pairs])
    assert np.array_equal(lit_edges, expected)
    assert lit_edges.any()
    assert np.array_equal(lit_nodes, np.isin(np.array(chart.node_names, object), list(names)))
    assert window.view.emphasis.path_edges == frozenset(np.flatnonzero(expected).tolist())
    window.trace_dock.hide()  # the trace closed: its path goes out
    assert not selection.path_rows(chart)[1].any()


def test_a_latency_range_set_on_the_selection_filters_the_panels_traces(window, simulated):  # noqa: F811
    _, details, _ = simulated
    selection = window.selection
    window.view.select(node(window, "orders"))
    panel = window.service_panel
    panel.wait_for_details()
    everything = {e.trace_id for kind in ("slowest", "latest") for e in panel._exemplars_of(kind)}
    occupied = np.flatnonzero(panel.histogram.counts["calls"])
    first_bin, last_bin = bins_of_bars(int(occupied[-3]), int(occupied[-2]))
    selection.set_latency_range((first_bin, last_bin))
    assert panel.selected_bins == (first_bin, last_bin)
    assert panel.histogram.region.isVisible()  # the histogram shows the range chosen elsewhere
    panel.wait_for_details()
    listed = panel.range_traces.exemplars
    assert listed
    bins = bin_of(np.array([e.latency_ns for e in listed]))
    assert ((bins >= first_bin) & (bins <= last_bin)).all()
    start, end = window.model.time.window_ns()
    expected = details.exemplars.traces_in_latency_bins("orders", start, end, first_bin, last_bin)
    assert [e.trace_id for e in listed] == [e.trace_id for e in expected]
    assert everything  # the panel's other lists are not the range's
    panel.histogram.select_bars(int(occupied[-2]), int(occupied[-2]))  # chosen on the histogram: the selection's
    assert selection.latency_bins == bins_of_bars(int(occupied[-2]), int(occupied[-2]))
    window.view.select(node(window, "payments"))  # another service: its whole histogram
    assert selection.latency_bins is None
    assert not panel.histogram.region.isVisible()


def test_the_selection_survives_a_scrub_and_a_reset_clears_it(window):  # noqa: F811
    selection = window.selection
    window.view.select(node(window, "orders"))
    _open_trace(window)
    window.view.select(node(window, "orders"))
    lit = selection.path_names
    cursor = window.model.time.cursor_ns
    window.view.scrub_to(cursor - 40 * S)
    assert window.model.time.cursor_ns == cursor - 40 * S
    assert selection.node_name(window.model.chart) == "orders"
    assert window.service_panel.name == "orders"
    assert selection.path_names == lit
    assert window.view.emphasis.selected == node(window, "orders")
    window.controls.reset()
    assert (selection.node, selection.edge, selection.path_names) == (None, None, frozenset())
    assert window.view.emphasis.selected is None
    assert not window.view.emphasis.path_edges


def test_clicking_the_chosen_node_again_brings_its_panel_forward(qtbot, window):  # noqa: F811
    view = window.view
    view.fit()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=node_center(view, "orders"))
    window.edge_dock.show()
    window.edge_dock.raise_()  # the user looks at the Edge tab; the node stays chosen
    qtbot.wait(20)
    assert window.service_dock.visibleRegion().isEmpty()
    version = window.selection.version
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=node_center(view, "orders"))
    assert window.selection.version == version  # nothing changed in the selection
    qtbot.wait(20)
    assert not window.service_dock.visibleRegion().isEmpty()
