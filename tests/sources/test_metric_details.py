"""What the panels get from a Prometheus source: exemplar trace ids, client/server histograms, operations and a
service's histogram from span metrics — from a real Prometheus."""

from __future__ import annotations

import time

import numpy as np

from flowviz.sources.metric_details import TRACE_NOTE, MetricDetails, label_selector_value
from flowviz.sources.prometheus import PrometheusReader, PrometheusSettings
from flowviz.sources.span_metrics import read_operations
from flowviz.store.latency_bins import bin_of
from tests.sources.prometheus_series import EXEMPLARS, STEP_S, STEPS, T0, operations, system

SECOND_NS = 1_000_000_000


def _recent_window_ns() -> tuple[int, int]:
    now_ns = time.time_ns()
    return now_ns - 600 * SECOND_NS, now_ns + 60 * SECOND_NS


def test_an_edge_lists_the_trace_ids_prometheus_keeps_as_exemplars(exemplar_prometheus):
    details = MetricDetails(PrometheusSettings(exemplar_prometheus[0]))
    start_ns, end_ns = _recent_window_ns()
    slowest = details.exemplars.exemplars(("frontend", "checkout"), start_ns, end_ns, kind="slowest", limit=10)
    assert [e.trace_id for e in slowest] == ["00f067aa0ba902b7a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"]
    assert [e.latency_ns for e in slowest] == [1_700_000_000, 67_000_000]  # the histogram exemplars' values
    failing = details.exemplars.exemplars(("frontend", "checkout"), start_ns, end_ns, kind="failing", limit=10)
    assert [e.trace_id for e in failing] == ["00f067aa0ba902b7a3ce929d0e0e4736"]
    assert all(start_ns <= e.start_ns < end_ns for e in slowest)


def test_a_service_lists_the_exemplars_of_calls_into_and_out_of_it(exemplar_prometheus):
    details = MetricDetails(PrometheusSettings(exemplar_prometheus[0]))
    start_ns, end_ns = _recent_window_ns()
    recent = details.exemplars.exemplars("checkout", start_ns, end_ns, kind="recent", limit=10)
    expected = {trace_id for client, server, trace_id, _, _ in EXEMPLARS if "checkout" in (client, server)}
    assert {e.trace_id for e in recent} == expected  # the 64-bit id keeps its 16 digits
    in_range = details.exemplars.traces_in_latency_range("checkout", start_ns, end_ns, 1.0, 100.0)
    assert [e.trace_id for e in in_range] == ["a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"]
    bins = bin_of(np.array([67_000_000]))
    by_bins = details.exemplars.traces_in_latency_bins("checkout", start_ns, end_ns, int(bins[0]), int(bins[0]))
    assert [e.trace_id for e in by_bins] == ["4bf92f3577b34da6a3ce929d0e0e4736"]


def test_a_window_without_exemplars_lists_none(exemplar_prometheus):
    details = MetricDetails(PrometheusSettings(exemplar_prometheus[0]))
    now_ns = time.time_ns()
    past = details.exemplars.exemplars(("frontend", "checkout"), now_ns - 7200 * SECOND_NS, now_ns - 3600 * SECOND_NS)
    assert past == []


def test_client_and_server_sides_come_from_the_two_histograms(prometheus_server):
    url, edges = prometheus_server
    details = MetricDetails(PrometheusSettings(url))
    start_ns, end_ns = T0 * SECOND_NS, (T0 + STEPS * STEP_S) * SECOND_NS
    by_edge = {(e.client, e.server): e for e in edges}
    edge = by_edge[("frontend", "recommendations")]  # both histograms, series that start late
    sides = details.edges.sides("frontend", "recommendations", start_ns, end_ns)
    assert sides["server"].calls == sides["client"].calls == int(edge.requests[1:].sum())
    only_client = by_edge[("checkout", "postgresql")]  # a database: no server histogram
    sides = details.edges.sides("checkout", "postgresql", start_ns, end_ns)
    assert sides["client"].calls == int(only_client.requests[1:].sum())
    assert sides["server"].calls == 0
    assert 2.0 < sides["client"].p50_ms < 8.0  # typical 4 ms, in the buckets around it


def test_operations_and_histogram_of_a_service_come_from_span_metrics(prometheus_server):
    url, edges = prometheus_server
    details = MetricDetails(PrometheusSettings(url))
    start_ns, end_ns = T0 * SECOND_NS, (T0 + STEPS * STEP_S) * SECOND_NS
    served = {e.server: e for e in operations(edges)}
    checkout = served["checkout"]
    figures = details.exemplars.operations("checkout", start_ns, end_ns)
    assert [(f.name, f.requests, f.errors) for f in figures] == [
        ("POST /checkout", int(checkout.requests[1:].sum()), int(checkout.failed[1:].sum()))
    ]
    reader = PrometheusReader(PrometheusSettings(url))
    reader.prepare(start_ns / SECOND_NS, end_ns / SECOND_NS)
    rows = read_operations(reader, start_ns / SECOND_NS, end_ns / SECOND_NS)
    row = next(r for r in rows if r["service"] == "checkout")
    assert (figures[0].p50_ms, figures[0].p95_ms) == (row["p50_ms"], row["p95_ms"])
    histogram = details.exemplars.latency_histogram("checkout", start_ns, end_ns)
    assert histogram.sum() == int(checkout.requests[1:].sum())
    assert details.exemplars.operations("postgresql", start_ns, end_ns) == []  # not instrumented: no span metrics


def test_the_trace_view_is_told_why_a_metric_exemplar_has_no_spans(prometheus_server):
    url, _ = prometheus_server
    details = MetricDetails(PrometheusSettings(url))
    assert details.exemplars.trace("4bf92f3577b34da6a3ce929d0e0e4736") is None
    assert details.status()["trace_note"] == TRACE_NOTE
    assert details.status()["skipped_spans"] == 0


def test_label_values_are_quoted_for_promql():
    assert label_selector_value('a"b\\c') == '"a\\"b\\\\c"'
    assert system  # the shared series module is the one the fixtures use


def test_the_report_lists_the_slowest_exemplar_trace_ids_per_edge(exemplar_prometheus):
    from tests.sources.test_prometheus import report

    url, exemplar_time_s = exemplar_prometheus
    result = report(url, int(exemplar_time_s) - 60, int(exemplar_time_s) + 60)
    rows = [(r["source"], r["target"], r["trace_id"], r["latency_ms"], r["failed"]) for r in result["exemplars"]]
    assert rows == [
        ("checkout", "postgresql", "a3ce929d0e0e4736", 4.0, False),
        ("frontend", "checkout", "00f067aa0ba902b7a3ce929d0e0e4736", 1700.0, True),
        ("frontend", "checkout", "4bf92f3577b34da6a3ce929d0e0e4736", 67.0, False),
    ]
