"""`flowviz open --prometheus`: the window on a past range of service-graph metrics from a real Prometheus."""

from __future__ import annotations

from flowviz.sources.prometheus import PrometheusSettings
from flowviz.sources.prometheus_feed import PrometheusSpec
from flowviz.ui.windows import metrics_window
from tests.sources.prometheus_series import STEP_S, STEPS, T0, expected_graph

SECOND_NS = 1_000_000_000


def test_a_past_range_of_metrics_opens_whole_in_the_window(qtbot, prometheus_server):
    url, edges = prometheus_server
    spec = PrometheusSpec(PrometheusSettings(url), T0 * SECOND_NS, (T0 + STEPS * STEP_S) * SECOND_NS)
    window = metrics_window(spec)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.feed.status.finished, timeout=30_000)
        expected = expected_graph(edges, 1, STEPS)
        assert window.feed.status.calls == sum(requests for _, requests, _, _ in expected.values())
        qtbot.waitUntil(lambda: window.model.chart is not None and bool(window.model.chart.node_names), timeout=10_000)
        names = set(window.model.chart.node_names)
        assert {client for client, _ in expected} | {server for _, server in expected} <= names
        summary = window.statusBar().currentMessage() or window.feed.status.summary()
        assert "step 15 s (the scrape interval)" in window.feed.status.summary(), summary
        assert "resolution = the scrape interval" in window.windowTitle()
    finally:
        window.feed.stop()


def test_a_step_finer_than_the_scrape_interval_is_raised_and_the_status_line_says_so(qtbot, prometheus_server):
    url, _ = prometheus_server
    spec = PrometheusSpec(PrometheusSettings(url, step_s=5.0), T0 * SECOND_NS, (T0 + STEPS * STEP_S) * SECOND_NS)
    window = metrics_window(spec)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.feed.status.finished, timeout=30_000)
        summary = window.feed.status.summary()
        assert "step 15 s (the scrape interval)" in summary
        note = "--step 5 s is finer than the scrape interval: raised to it (15 s)"
        assert summary.index(" failed") < summary.index(note), summary  # after the figures: they stay in view
    finally:
        window.feed.stop()


def test_a_prometheus_that_is_not_there_stops_the_feed_with_its_reason(qtbot):
    from tests.sources.prometheus_series import free_port

    spec = PrometheusSpec(PrometheusSettings(f"http://127.0.0.1:{free_port()}"), 0, 60 * SECOND_NS)
    window = metrics_window(spec)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: bool(window.feed.status.error), timeout=30_000)
        assert "Connection refused" in window.feed.status.summary()
    finally:
        window.feed.stop()


def test_live_metrics_read_the_recent_past_then_follow(qtbot, prometheus_server):
    from tests.sources.prometheus_series import RECENT_T0

    url, edges = prometheus_server
    spec = PrometheusSpec(PrometheusSettings(url), (RECENT_T0 - 60) * SECOND_NS)  # live: no end
    window = metrics_window(spec)
    qtbot.addWidget(window)
    try:
        expected = expected_graph(edges, 1, STEPS)
        total = sum(requests for _, requests, _, _ in expected.values())
        qtbot.waitUntil(lambda: window.feed.status.source.get("state") == "following", timeout=30_000)
        qtbot.waitUntil(lambda: window.feed.status.calls == total, timeout=10_000)
        assert window.model.time.live
        assert "following · Prometheus" in window.feed.status.summary()
    finally:
        window.feed.stop()


def test_an_edges_exemplar_traces_are_listed_and_say_where_to_find_them(qtbot, exemplar_prometheus):
    import numpy as np

    from flowviz.sources.metric_details import TRACE_NOTE
    from tests.sources.prometheus_series import EXEMPLARS

    url, exemplar_time_s = exemplar_prometheus
    spec = PrometheusSpec(PrometheusSettings(url), round((exemplar_time_s - 60) * SECOND_NS))  # live
    window = metrics_window(spec)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    try:
        qtbot.waitUntil(
            lambda: window.model.chart is not None and "checkout" in window.model.chart.node_names, timeout=30_000
        )
        exemplar_ns = round(exemplar_time_s * SECOND_NS)
        qtbot.waitUntil(lambda: window.model.available().end_ns > exemplar_ns + 5 * SECOND_NS, timeout=60_000)
        window.model.time.seek(exemplar_ns + 5 * SECOND_NS)  # the live window may end before the exemplars' time
        window.model.refresh()
        chart = window.model.chart
        source, target = chart.node_names.index("frontend"), chart.node_names.index("checkout")
        edge = int(np.flatnonzero((chart.edge_source == source) & (chart.edge_target == target))[0])
        window.view.select_edge(edge)
        panel = window.edge_panel
        expected = {t for c, s, t, _, _ in EXEMPLARS if (c, s) == ("frontend", "checkout")}

        def listed() -> set[str]:
            panel.wait_for_details()
            return {e.trace_id for e in panel.exemplar_table.exemplars}

        # the details query runs on a worker thread: under load it took longer than 20 s (1 run in 8)
        qtbot.waitUntil(lambda: listed() == expected, timeout=60_000)
        assert "trace ids Prometheus keeps as exemplars" in panel.traces_note.text()
        window.docks.show_trace(panel.exemplar_table.exemplars[0].trace_id)
        window.docks.trace_view.wait()
        assert TRACE_NOTE.split(":")[0] in window.docks.trace_view.header.text()
    finally:
        window.feed.stop()
