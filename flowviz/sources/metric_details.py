"""Drill-down answers for a Prometheus source: operations from span metrics, exemplar trace ids, histograms.

Metrics hold no spans, so a panel asks the same questions as of the drill-down store (`exemplars.*`,
`edges.*`, `status()`) and gets what metrics can tell: per-operation figures from span metrics, a
service's latency histogram from their buckets, and the trace ids Prometheus keeps as exemplars of the
service-graph series (the collector's servicegraph connector and Tempo attach them). Traces themselves
are not here: `status()["trace_note"]` says so for the trace view.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from flowviz.model.ids import hex_ids_to_u64_pairs
from flowviz.sources.prometheus import (
    GraphMetrics,
    NoGraphSeries,
    PrometheusReader,
    PrometheusSettings,
    bucket_latencies_ns,
    series_selector,
)
from flowviz.sources.span_metrics import SpanMetricTotals, bucket_increments, operation_rows, read_span_metric_totals
from flowviz.store.detail_queries import DetailAnswer, DetailQuery, answer_query
from flowviz.store.edge_details import SideFigures, StatusFigures
from flowviz.store.exemplars import KINDS, Exemplar
from flowviz.store.latency_bins import BIN_COUNT, bin_of, percentiles
from flowviz.store.operation_stats import OperationFigures

SECOND_NS = 1_000_000_000
TRACE_ID_LABELS = ("trace_id", "traceID", "traceId", "trace-id")  # the connector's, Tempo's, others'
EXEMPLAR_REASON = "prometheus exemplar"
TRACE_NOTE = (
    "not in flowviz: this source is Prometheus metrics, which keep only the trace id (an exemplar). "
    "Look the trace up in your tracing backend (Tempo, Jaeger, ...) by this id."
)
CACHED_WINDOWS = 8


@dataclass(frozen=True, slots=True)
class MetricExemplar:
    """One exemplar of a service-graph series: its trace, the edge, when, its value as latency (0: a counter's)."""

    trace_id: str
    client: str
    server: str
    time_ns: int
    latency_ns: int
    failed: bool


def label_selector_value(text: str) -> str:
    """`text` quoted for a PromQL label matcher."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def read_exemplars(
    reader: PrometheusReader, metrics: GraphMetrics, start_s: float, end_s: float, *, client: str = "", server: str = ""
) -> list[MetricExemplar]:
    """Exemplars of the service-graph series in [start, end] on calls from `client` and/or to `server` (both
    empty: every edge). Latency from the histograms' exemplars; failed when on the failed-requests counter."""
    buckets = [*metrics.server_buckets, *metrics.client_buckets]
    names = [*buckets, *metrics.requests, *metrics.failed]
    sides = (("client", client), ("server", server))
    matchers = [f"{side}={label_selector_value(value)}" for side, value in sides if value]
    found: list[MetricExemplar] = []
    for series in reader.client.query_exemplars(series_selector(tuple(names), ",".join(matchers)), start_s, end_s):
        labels = series.get("seriesLabels") or {}
        name = labels.get("__name__", "")
        is_histogram, is_failed = name in buckets, name in metrics.failed
        for exemplar in series.get("exemplars") or ():
            exemplar_labels = exemplar.get("labels") or {}
            trace_id = next((exemplar_labels[k] for k in TRACE_ID_LABELS if exemplar_labels.get(k)), "")
            try:
                value, time_s = float(exemplar.get("value", 0)), float(exemplar.get("timestamp", 0))
            except (TypeError, ValueError):
                reader.problems.add("prometheus: an exemplar without a numeric value or time (skipped)", name)
                continue
            if not trace_id:
                reader.problems.add("prometheus: an exemplar without a trace id label (skipped)", name)
                continue
            found.append(
                MetricExemplar(
                    trace_id=trace_id.lower(),
                    client=labels.get("client", ""),
                    server=labels.get("server", ""),
                    time_ns=round(time_s * SECOND_NS),
                    latency_ns=round(value * SECOND_NS) if is_histogram and np.isfinite(value) and value >= 0 else 0,
                    failed=is_failed,
                )
            )
    return merge_exemplars(found)


def merge_exemplars(exemplars: list[MetricExemplar]) -> list[MetricExemplar]:
    """One exemplar per trace id and edge (a trace is often an exemplar of several series): the longest
    latency, failed if any says so, the earliest time."""
    merged: dict[tuple[str, str, str], MetricExemplar] = {}
    for item in exemplars:
        key = (item.trace_id, item.client, item.server)
        old = merged.get(key)
        if old is None:
            merged[key] = item
            continue
        merged[key] = MetricExemplar(
            item.trace_id,
            item.client,
            item.server,
            min(old.time_ns, item.time_ns),
            max(old.latency_ns, item.latency_ns),
            old.failed or item.failed,
        )
    return list(merged.values())


def as_exemplar(item: MetricExemplar) -> Exemplar | None:
    """The panels' `Exemplar` for a metric exemplar (None for an id that is not hex)."""
    high, low, ok = hex_ids_to_u64_pairs([item.trace_id])
    if not ok[0]:
        return None
    return Exemplar(
        trace_hi=int(high[0]),
        trace_lo=int(low[0]),
        start_ns=item.time_ns,
        latency_ns=item.latency_ns,
        error=item.failed,
        trace_start_ns=item.time_ns,
        trace_end_ns=item.time_ns + item.latency_ns,
        reasons=(EXEMPLAR_REASON,),
    )


def chosen(exemplars: list[Exemplar], kind: str, limit: int) -> list[Exemplar]:
    """The first `limit` of a kind, as the drill-down store orders them: slowest, failing (latest first), recent."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "failing":
        exemplars = [e for e in exemplars if e.error]
    key = (lambda e: -e.latency_ns) if kind == "slowest" else (lambda e: -e.start_ns)
    return sorted(exemplars, key=key)[: max(int(limit), 0)]


class _Windows:
    """A few recent answers by (what, window): a panel asks again every refresh, Prometheus needs not."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute):
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        value = compute()
        with self._lock:
            self._answers[key] = value
            while len(self._answers) > CACHED_WINDOWS:
                self._answers.popitem(last=False)
        return value


class MetricExemplars:
    """The `exemplars` part of the drill-down questions, answered from Prometheus."""

    def __init__(self, reader: PrometheusReader) -> None:
        self.reader = reader
        self._cache = _Windows()

    def _window_s(self, start_ns: int, end_ns: int) -> tuple[float, float] | None:
        """The window on the step grid (answers are the same within a step, and the cache keys on it); None
        while the server has no service-graph series there to tell the step."""
        if self.reader.metrics is None:  # the step (the scrape interval unless given) and the series' names
            try:
                self.reader.prepare(start_ns / SECOND_NS, end_ns / SECOND_NS)
            except NoGraphSeries:
                return None
        step_s = self.reader.step_s
        return (start_ns / SECOND_NS // step_s * step_s, -(-end_ns / SECOND_NS // step_s) * step_s)

    def _all(self, service: str | tuple[str, str], start_ns: int, end_ns: int) -> list[Exemplar]:
        window = self._window_s(start_ns, end_ns)
        if window is None:
            return []
        start_s, end_s = window

        def compute() -> list[Exemplar]:
            metrics = self.reader.metrics
            assert metrics is not None  # `_window_s` found them
            if isinstance(service, tuple):
                items = read_exemplars(self.reader, metrics, start_s, end_s, client=service[0], server=service[1])
            else:  # calls into the service and out of it: a trace through it
                items = read_exemplars(self.reader, metrics, start_s, end_s, server=service)
                items += read_exemplars(self.reader, metrics, start_s, end_s, client=service)
            by_trace: dict[str, MetricExemplar] = {}
            for item in items:  # a service's trace once: its longest call there
                old = by_trace.get(item.trace_id)
                if old is None or item.latency_ns > old.latency_ns or (item.failed and not old.failed):
                    by_trace[item.trace_id] = MetricExemplar(
                        item.trace_id,
                        item.client,
                        item.server,
                        item.time_ns,
                        max(item.latency_ns, old.latency_ns if old else 0),
                        item.failed or bool(old and old.failed),
                    )
            return [e for e in map(as_exemplar, by_trace.values()) if e is not None]

        found = self._cache.get(("exemplars", service, start_s, end_s), compute)
        return [e for e in found if start_ns <= e.start_ns < end_ns]

    def exemplars(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, *, kind: str = "slowest", limit: int = 10
    ) -> list[Exemplar]:
        """Trace ids Prometheus keeps as exemplars of the service's (or edge's) calls in the window."""
        return chosen(self._all(service, start_ns, end_ns), kind, limit)

    def traces_in_latency_range(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, low_ms: float, high_ms: float
    ) -> list[Exemplar]:
        """Exemplars whose latency is in [low_ms, high_ms), fastest first."""
        rows = [e for e in self._all(service, start_ns, end_ns) if low_ms <= e.latency_ns / 1e6 < high_ms]
        return sorted(rows, key=lambda e: e.latency_ns)

    def traces_in_latency_bins(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, first_bin: int, last_bin: int
    ) -> list[Exemplar]:
        """Exemplars whose latency falls in the histogram bins first_bin..last_bin, fastest first."""
        rows = self._all(service, start_ns, end_ns)
        if not rows:
            return []
        bins = bin_of(np.array([e.latency_ns for e in rows], np.int64))
        keep = (bins >= first_bin) & (bins <= last_bin)
        return sorted((e for e, k in zip(rows, keep, strict=True) if k), key=lambda e: e.latency_ns)

    def _span_metrics(self, start_ns: int, end_ns: int) -> SpanMetricTotals | None:
        window = self._window_s(start_ns, end_ns)
        if window is None:
            return None
        start_s, end_s = window
        return self._cache.get(
            ("span metrics", start_s, end_s), lambda: read_span_metric_totals(self.reader, start_s, end_s)
        )

    def operations(self, service: str, start_ns: int, end_ns: int) -> list[OperationFigures]:
        """The service's operations from span metrics in the window (empty without span metrics), most calls first."""
        totals = self._span_metrics(start_ns, end_ns)
        if totals is None:
            return []
        figures = [
            OperationFigures(
                str(row["operation"]) + (f" ({row['kind']})" if row["kind"] not in ("", "server") else ""),
                int(row["requests"]),
                int(row["errors"]),
                *(float("nan") if row[k] is None else float(row[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
            )
            for row in operation_rows(totals)
            if row["service"] == service
        ]
        return sorted(figures, key=lambda f: (-f.requests, f.name))

    def latency_histogram(self, service: str, start_ns: int, end_ns: int) -> np.ndarray:
        """Calls of the service's operations per latency bin (`latency_bins`), from span-metric buckets: each
        bucket's calls at the latency that stands for it (zeros without span metrics)."""
        histogram = np.zeros(BIN_COUNT, np.int64)
        totals = self._span_metrics(start_ns, end_ns)
        if totals is None:
            return histogram
        for (name, _operation, _kind), cumulative in totals.buckets.items():
            if name != service or not cumulative:
                continue
            bounds_s, calls = bucket_increments(cumulative)
            np.add.at(histogram, bin_of(bucket_latencies_ns(bounds_s)), np.rint(calls).astype(np.int64))
        return histogram

    def services(self) -> list[str]:
        """No traces are kept: no services of traces."""
        return []

    def trace(self, trace_id: str | tuple[int, int]) -> None:
        """Metrics keep no spans (see `TRACE_NOTE`)."""
        return None

    def critical_path_share(self, service: str, start_ns: int, end_ns: int) -> None:
        return None

    def time_split(self, service: str, start_ns: int, end_ns: int) -> None:
        return None

    def operation_time_splits(self, service: str, start_ns: int, end_ns: int) -> list:
        return []

    def memory_bytes(self) -> int:
        return 0


class MetricEdgeDetails:
    """The `edges` part: client and server latency of an edge from the connector's two histograms; metrics carry
    no per-status or payload detail."""

    def __init__(self, exemplars: MetricExemplars) -> None:
        self._exemplars = exemplars

    def sides(self, source: str, target: str, start_ns: int, end_ns: int) -> dict[str, SideFigures]:
        """{"client": ..., "server": ...}: the calls each histogram measured on source → target in the window."""
        part = self._exemplars
        window = part._window_s(start_ns, end_ns)
        start_s, end_s = window or (0.0, 0.0)

        def compute() -> dict[str, SideFigures]:
            metrics = part.reader.metrics
            matchers = f"client={label_selector_value(source)},server={label_selector_value(target)}"
            out = {}
            for side, name in (
                ("client", metrics and metrics.client_buckets),
                ("server", metrics and metrics.server_buckets),
            ):
                histogram = np.zeros(BIN_COUNT, np.int64)
                cumulative: dict[float, float] = {}
                for chunk_start_s, chunk_end_s in part.reader.chunks(start_s, end_s) if name and window else ():
                    matrix = part.reader.matrix(name, chunk_start_s, chunk_end_s, matchers)
                    for labels, row in zip(matrix.labels, matrix.increases, strict=True) if matrix else ():
                        try:
                            bound_s = float(labels.get("le", ""))
                        except ValueError:
                            continue
                        cumulative[bound_s] = cumulative.get(bound_s, 0.0) + float(np.nansum(row))
                if cumulative:
                    bounds_s, calls = bucket_increments(cumulative)
                    np.add.at(histogram, bin_of(bucket_latencies_ns(bounds_s)), np.rint(calls).astype(np.int64))
                p50, p95, p99 = (float(v) for v in percentiles(histogram[None, :])[0])
                out[side] = SideFigures(int(histogram.sum()), p50, p95, p99, histogram)
            return out

        return part._cache.get(("sides", source, target, window), compute)

    def statuses(self, source: str, target: str, start_ns: int, end_ns: int) -> list[StatusFigures]:
        return []

    def payload(self, source: str, target: str, start_ns: int, end_ns: int) -> SideFigures:
        empty = np.zeros(BIN_COUNT, np.int64)
        return SideFigures(0, float("nan"), float("nan"), float("nan"), empty)

    def memory_bytes(self) -> int:
        return 0


class MetricDetails:
    """What a Prometheus source answers to the panels, in the drill-down store's shape."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self.reader = PrometheusReader(settings)
        self.exemplars = MetricExemplars(self.reader)
        self.edges = MetricEdgeDetails(self.exemplars)

    def status(self) -> dict[str, object]:
        return {"kept_traces": 0, "skipped_spans": 0, "memory_bytes": 0, "trace_note": TRACE_NOTE}

    def span_details(self, trace_id: str) -> None:
        return None

    def continued_traces(self, trace_id: str, span_id: str) -> list:
        """Metrics keep no spans: nothing carries on from one here."""
        return []

    def ask(self, query: DetailQuery) -> DetailAnswer:
        """The answer to one panel's request, as the drill-down store gives it."""
        return answer_query(self, query)
