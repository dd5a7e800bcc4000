"""Drill-down in the window: operations, latency range → traces, the edge panel, the trace waterfall and its path."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.latency_bars import bar_counts
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.sim.simulator import Simulator
from flowviz.sources.detail_channel import DetailClient, serve_details
from flowviz.sources.pipeline import IngestPipeline
from flowviz.sources.raw_inputs import RawRing
from flowviz.store.drill_down import DrillDownStore
from flowviz.store.latency_bins import BIN_LOWER_NS, bin_of
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.main_window import MainWindow

S = 1_000_000_000


@pytest.fixture(scope="module")
def simulated() -> tuple[RollingStore, DrillDownStore, int]:
    """Three simulated minutes at 400 spans/s through the pipeline, with the drill-down store."""
    simulator = Simulator(seed=5, rate_per_s=400)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    store, details, raw = RollingStore(problems=problems), DrillDownStore(), RawRing()
    details.raw_spans = raw.span_details  # as the simulator's worker does
    pipeline = IngestPipeline(store, problems=problems, details=details)
    for second in range(2, 181, 2):
        messages = simulator.generate(simulator.start_ns + second * S)
        raw.add(messages)
        decode_otlp_proto(messages, builder, problems, [""] * len(messages))
        pipeline.feed(builder.build())
    pipeline.finish()
    return store, details, simulator.start_ns


@pytest.fixture
def window(qtbot, simulated) -> MainWindow:
    store, details, start_ns = simulated
    model = FlowChartModel(store, window_s=60.0, live=False)
    model.time.tick(0.0, model.available(), streaming=False)
    model.time.seek(start_ns + 150 * S)
    model.refresh()
    window = MainWindow(model, title="test", details=details)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    with qtbot.waitExposed(window):
        window.show()
    window.view.refresh()
    qtbot.wait(50)  # let the view settle at its size (it fits the chart once)
    return window


def node(window: MainWindow, name: str) -> int:
    return window.model.chart.node_names.index(name)


def edge(window: MainWindow, source: str, target: str) -> int:
    chart = window.model.chart
    s, t = node(window, source), node(window, target)
    return int(np.flatnonzero((chart.edge_source == s) & (chart.edge_target == t))[0])


def texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_service_panel_shows_operations_histogram_and_critical_path_from_the_details(window, simulated):
    _, details, _ = simulated
    window.view.select(node(window, "orders"))
    panel = window.service_panel
    panel.wait_for_details()
    start, end = window.model.time.window_ns()
    operations = details.exemplars.operations("orders", start, end)
    assert operations
    assert [row[0] for row in texts(panel.operations)] == [op.name for op in operations]
    assert texts(panel.operations)[0][1] == f"{operations[0].requests / 60:.1f}"
    histogram = details.exemplars.latency_histogram("orders", start, end)
    assert np.array_equal(panel.histogram.counts["calls"], bar_counts(histogram))
    assert panel.histogram.counts["calls"].sum() == histogram.sum() > 0
    share = details.exemplars.critical_path_share("orders", start, end)
    assert f"{100 * share:.0f} %" in panel.bottleneck.text()
    slowest = details.exemplars.exemplars("orders", start, end, kind="slowest", limit=25)
    assert [e.trace_id for e in panel.exemplar_table.exemplars] == [e.trace_id for e in slowest]
    panel.kind.setCurrentText("failing")
    failing = details.exemplars.exemplars("orders", start, end, kind="failing", limit=25)
    assert [e.trace_id for e in panel.exemplar_table.exemplars] == [e.trace_id for e in failing]
    assert all(e.error for e in panel.exemplar_table.exemplars)


def test_a_histogram_range_lists_exactly_the_kept_traces_in_it(window, simulated):
    _, details, _ = simulated
    window.view.select(node(window, "orders"))
    panel = window.service_panel
    panel.wait_for_details()
    occupied = np.flatnonzero(panel.histogram.counts["calls"])
    first_bar, last_bar = int(occupied[-4]), int(occupied[-2])
    panel.histogram.select_bars(first_bar, last_bar)
    panel.wait_for_details()
    first_bin, last_bin = panel.selected_bins
    start, end = window.model.time.window_ns()
    expected = details.exemplars.traces_in_latency_bins("orders", start, end, first_bin, last_bin)
    listed = panel.range_traces.exemplars
    assert listed
    assert [e.trace_id for e in listed] == [e.trace_id for e in expected]
    bins = bin_of(np.array([e.latency_ns for e in listed]))
    assert ((bins >= first_bin) & (bins <= last_bin)).all()
    assert all(BIN_LOWER_NS[first_bin] <= e.latency_ns < BIN_LOWER_NS[last_bin + 1] for e in listed)
    calls = int(details.exemplars.latency_histogram("orders", start, end)[first_bin : last_bin + 1].sum())
    assert f"{calls:,} calls in the window, {len(listed)} kept traces" in panel.range_label.text()


def test_clicking_an_edge_opens_the_edge_panel_with_client_and_server_sides(window, simulated, qtbot):
    _, details, _ = simulated
    view = window.view
    index = edge(window, "orders", "payments")
    view.fit()
    slop = 6.0 / view.viewport.scale
    screen = np.round(view.viewport.to_screen(window.model.chart.edge_curve[index]))
    alone = [(x, y) for x, y in screen[2:-2] if window.model.edge_at(*view.viewport.to_world(x, y), slop=slop) == index]
    assert alone, "some stretch of the edge is nearer than any other edge"
    x, y = alone[len(alone) // 2]
    assert 0 <= x < view.width()
    assert 0 <= y < view.height()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPointF(x, y).toPoint())
    assert window.selection.edge == index
    assert window.edge_dock.isVisible()
    panel = window.edge_panel
    panel.wait_for_details()
    assert panel.ends == ("orders", "payments")
    start, end = window.model.time.window_ns()
    sides = details.edges.sides("orders", "payments", start, end)
    rows = texts(panel.sides)
    assert rows[0][:2] == ["client (caller)", f"{sides['client'].calls:,}"]
    assert rows[1][:2] == ["server (callee)", f"{sides['server'].calls:,}"]
    statuses = details.edges.statuses("orders", "payments", start, end)
    assert [r[0] for r in texts(panel.statuses)] == [s.label for s in statuses]
    assert sum(s.calls for s in statuses) == sides["server"].calls
    assert view.emphasis.selected_edge == index
    assert view.emphasis.edge_ends == {node(window, "orders"), node(window, "payments")}


def test_each_panel_refresh_asks_the_worker_once_and_shows_what_an_in_process_store_shows(qtbot, window, simulated):
    """The panels over the worker's pipe (served here from a thread) ask one typed request per refresh."""
    _store, details, _ = simulated
    parent, child = multiprocessing.Pipe()
    serve_details(details, child)
    client = DetailClient(parent)
    remote = MainWindow(window.model, title="over the pipe", details=client)
    qtbot.addWidget(remote)
    try:
        for shown in (window, remote):
            shown.view.select(node(shown, "orders"))
            shown.service_panel.wait_for_details()
        assert client.round_trips == 1  # operations, histogram, share, split, 3 kinds of traces, status: one
        for table in ("operations", "upstream", "downstream"):
            local_table, remote_table = getattr(window.service_panel, table), getattr(remote.service_panel, table)
            local_table = getattr(local_table, "table", local_table)
            remote_table = getattr(remote_table, "table", remote_table)
            assert texts(remote_table) == texts(local_table)
        assert texts(remote.service_panel.operations)
        assert remote.service_panel.bottleneck.text() == window.service_panel.bottleneck.text()
        assert np.array_equal(
            remote.service_panel.histogram.counts["calls"], window.service_panel.histogram.counts["calls"]
        )
        assert [e.trace_id for e in remote.service_panel.exemplar_table.exemplars] == [
            e.trace_id for e in window.service_panel.exemplar_table.exemplars
        ]
        trace_id = remote.service_panel.exemplar_table.exemplars[0].trace_id
        remote.service_panel.refresh()  # nothing changed: nothing asked
        assert client.round_trips == 1
        for shown in (window, remote):
            shown.view.select_edge(edge(shown, "orders", "payments"))
            shown.edge_panel.wait_for_details()
        assert client.round_trips == 2  # sides, statuses, payload, 3 kinds of traces, status: one
        assert texts(remote.edge_panel.sides) == texts(window.edge_panel.sides)
        assert texts(remote.edge_panel.statuses) == texts(window.edge_panel.statuses)
        assert texts(remote.edge_panel.sides)
        for shown in (window, remote):
            shown.trace_view.show_trace(trace_id)
            shown.trace_view.wait()
        assert client.round_trips == 3  # the spans and what the raw input holds of them: one
        assert remote.trace_view.fall is not None
        assert np.array_equal(remote.trace_view.fall.order, window.trace_view.fall.order)
        assert remote.trace_view.span_info == window.trace_view.span_info
    finally:
        client.close()


def test_a_chosen_trace_opens_as_a_waterfall_and_lights_its_path(window, simulated):
    _, details, _ = simulated
    window.view.select(node(window, "payments"))
    panel = window.service_panel
    panel.wait_for_details()
    chosen = panel.exemplar_table.exemplars[0]
    panel.exemplar_table.cellClicked.emit(0, 0)
    assert window.trace_dock.isVisible()
    window.trace_view.wait()
    fall = window.trace_view.fall
    assert fall is not None
    assert fall.spans.trace_id == chosen.trace_id
    spans = details.exemplars.trace(chosen.trace_id)
    assert len(fall.order) == len(spans)  # every span drawn once
    parent_row = {int(s): r for r, s in enumerate(fall.spans.span_id.tolist())}
    position = {int(row): k for k, row in enumerate(fall.order.tolist())}
    for row, parent in enumerate(fall.spans.parent_id.tolist()):  # a child is drawn below its parent, deeper
        if int(parent) in parent_row:
            assert position[row] > position[parent_row[int(parent)]]
    assert fall.path.critical.any()
    names, calls = fall.path_on_chart()
    assert "payments" in names
    assert ("user", fall.spans.string_column("service")[int(fall.order[0])]) in calls
    emphasis = window.view.emphasis
    chart = window.model.chart
    assert {chart.node_names[i] for i in emphasis.path_nodes} == {n for n in names if n in chart.node_names}
    lit = {
        (chart.node_names[chart.edge_source[e]], chart.node_names[chart.edge_target[e]]) for e in emphasis.path_edges
    }
    assert lit <= set(calls)
    assert ("orders", "payments") in lit or ("checkout", "payments") in lit or any(t == "payments" for _, t in lit)
    dimmed = emphasis.is_dimmed(chart.node_count)
    assert not dimmed[node(window, "payments")]
    assert dimmed.any()
    # a span's details
    row = int(fall.order[1])
    window.trace_view.canvas.span_clicked.emit(row)
    text = window.trace_view.span_details.text()
    assert fall.spans.strings[int(fall.spans.service[row])] in text
    assert f"{int(fall.spans.span_id[row]):016x}" in text
    # what the raw message holds: its attributes and resource, read again from the kept raw input
    more = details.span_details(chosen.trace_id)[int(fall.spans.span_id[row])]
    assert more.attributes
    assert "<b>Attributes</b>" in text
    key, value = more.attributes[0]
    assert key in text
    assert value in text
    assert "service.name" in text
    window.trace_dock.hide()  # closing the trace clears the path
    assert not window.view.emphasis.path_nodes


def test_without_span_details_the_panels_say_so(qtbot, simulated):
    store, _, start_ns = simulated
    model = FlowChartModel(store, window_s=60.0, live=False)
    model.time.tick(0.0, model.available(), streaming=False)
    model.time.seek(start_ns + 150 * S)
    model.refresh()
    window = MainWindow(model, title="deps only")
    qtbot.addWidget(window)
    window.show()
    window.view.select(node(window, "orders"))
    assert "No span details" in window.service_panel.traces_note.text()
    assert window.service_panel.operations.rowCount() == 0
