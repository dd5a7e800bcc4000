"""Comparing in the window: a baseline "minutes before", the changes ranked in the panel (a click selects),
the comparison follows the cursor while the baseline stays, the palette shows improvement in blue."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer

from flowviz.chart.diverging import diverging_rgba, palette
from flowviz.ui.compare_overlay import signed
from flowviz.ui.export_menu import export_tables
from tests.ui.test_flow_view import SECOND, T0, grab
from tests.ui.test_time_travel import INCIDENT_END_S, INCIDENT_START_S, incident_store, make_window  # noqa: F401


def _row_texts(controller) -> list[tuple[str, str]]:
    table = controller.table
    return [(table.item(r, 1).text(), table.item(r, 2).text()) for r in range(table.rowCount())]


def _edge(window, target: str) -> int:
    chart = window.model.chart
    return next(e for e in range(chart.edge_count) if chart.node_names[chart.edge_target[e]] == target)


def test_the_incident_ranks_first_and_a_click_selects_it(qtbot, incident_store, tmp_path):  # noqa: F811
    window = make_window(qtbot, incident_store)
    controller = window.compare
    window.view.scrub_to(T0 + (INCIDENT_START_S + 40) * SECOND)  # window: the 30 s inside the incident
    controller.baseline_before(2)
    start = T0 + (INCIDENT_START_S + 10) * SECOND
    assert controller.baseline == (start - 120 * SECOND, start)
    assert controller.band.isVisible()
    assert controller.band.getRegion() == (controller.baseline[0] / 1e9, controller.baseline[1] / 1e9)
    assert controller.dock.isVisible()
    assert window.view.overlay is controller.overlay
    rows = _row_texts(controller)
    assert rows[0] == ("changed", "checkout → payments")
    assert ("same", "checkout → catalog") in rows
    controller._row_clicked(0, 2)
    assert window.view.emphasis.selected_edge == _edge(window, "payments")
    export_tables(window, str(tmp_path / "t.csv"))
    assert "checkout,payments,changed" in (tmp_path / "t-changes.csv").read_text()


def test_the_comparison_follows_the_cursor_and_the_baseline_stays(qtbot, incident_store):  # noqa: F811
    window = make_window(qtbot, incident_store)
    controller = window.compare
    window.view.scrub_to(T0 + (INCIDENT_START_S + 40) * SECOND)
    controller.set_baseline(T0 + 100 * SECOND, T0 + 200 * SECOND)
    payments = _edge(window, "payments")
    assert controller.comparison.edges.change[payments] == 1  # changed
    window.view.scrub_to(T0 + (INCIDENT_END_S + 120) * SECOND)  # well after the incident
    controller.refresh()
    assert controller.baseline == (T0 + 100 * SECOND, T0 + 200 * SECOND)
    assert controller.comparison.window == window.model.time.window_ns()
    assert controller.comparison.edges.change[payments] == 0  # same again
    controller.clear()
    assert window.view.overlay is None
    assert not controller.dock.isVisible()


def test_an_improvement_is_drawn_in_the_better_colour(qtbot, incident_store):  # noqa: F811
    window = make_window(qtbot, incident_store)
    window.view.scrub_to(T0 + (INCIDENT_END_S + 120) * SECOND)  # calm again ...
    window.compare.set_baseline(T0 + (INCIDENT_START_S + 5) * SECOND, T0 + (INCIDENT_END_S - 5) * SECOND)  # vs failing
    window.view.refresh()
    chart, view = window.model.chart, window.view
    curve = view.viewport.to_screen(chart.edge_curve[_edge(window, "payments")])
    image = grab(view)
    edges = window.compare.comparison.edges
    value = signed(edges)[_edge(window, "payments")]
    assert value < -2  # better: fewer failures
    better = diverging_rgba(np.array([value]), window.model.theme)[0, :3].astype(int)
    neutral = np.array(palette(window.model.theme)[1][:3])
    assert np.abs(better - neutral).sum() > 60  # visibly on the blue side
    found = []
    for x, y in curve[6:14]:
        colour = image.pixelColor(QPoint(round(x), round(y)))
        found.append(np.abs(np.array([colour.red(), colour.green(), colour.blue()]) - better).sum())
    assert min(found) < 25


def test_with_part_of_the_graph_filtered_away_rows_still_select_the_right_edge(qtbot, incident_store):  # noqa: F811
    from flowviz.chart.filter_expr import NodeFilter
    from flowviz.chart.reduction import ChartScope
    from flowviz.ui.compare_overlay import chart_row, store_rows

    window = make_window(qtbot, incident_store)
    window.model.set_scope(ChartScope(node_filter=NodeFilter.parse("hide name ~ payments")))
    window.view.scrub_to(T0 + (INCIDENT_START_S + 40) * SECOND)
    window.compare.baseline_before(2)
    chart = window.model.chart
    assert "payments" not in chart.node_names
    rows = _row_texts(window.compare)
    catalog_row = rows.index(("same", "checkout → catalog"))
    window.compare._row_clicked(catalog_row, 2)
    selected = window.view.emphasis.selected_edge
    assert chart.node_names[chart.edge_target[selected]] == "catalog"
    store_edge = window.compare.table.item(catalog_row, 0).data(Qt.ItemDataRole.UserRole)[1]
    assert store_rows(window.model, edges=True)[selected] == store_edge != selected  # the chart's index differs
    payments_row = rows.index(("changed", "checkout → payments"))
    payments_edge = window.compare.table.item(payments_row, 0).data(Qt.ItemDataRole.UserRole)[1]
    assert chart_row(window.model, payments_edge, edges=True) is None  # filtered away: nothing to select


def test_the_window_frame_clock_drives_the_comparison_and_no_panel_keeps_a_timer(qtbot, incident_store):  # noqa: F811
    """The comparison, the What's wrong dock, the Problems count (and a live window's Record button) follow the
    window's one frame clock at their own rates: none runs a repeating timer of its own."""
    window = make_window(qtbot, incident_store)
    controller = window.compare
    window.view.scrub_to(T0 + (INCIDENT_START_S + 40) * SECOND)
    controller.set_baseline(T0 + 100 * SECOND, T0 + 200 * SECOND)
    window.view.scrub_to(T0 + (INCIDENT_END_S + 120) * SECOND)
    assert controller.comparison.window != window.model.time.window_ns()  # not followed yet
    window.frame_schedule.run_due(time.monotonic() + 60)  # a frame with every client due
    assert controller.comparison.window == window.model.time.window_ns()
    repeating = [t for t in window.findChildren(QTimer) if t.isActive() and not t.isSingleShot()]
    assert repeating == [window.clock]
