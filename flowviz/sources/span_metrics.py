"""Span metrics from Prometheus, when present: each service's operations with their rates, errors and latency.

Three shapes exist: the Collector's `spanmetrics` connector (`traces_span_metrics_calls_total` and
`..._duration_{milliseconds,seconds}_bucket`, or without the namespace `calls_total`,
`duration_milliseconds_bucket`; labels `service_name`, `span_name`, `span_kind`, `status_code`),
and Tempo's metrics-generator (`traces_spanmetrics_calls_total`, `traces_spanmetrics_latency_bucket`
in seconds; label `service`). Counts are exact increases over the range, as for the service graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.sources.prometheus import PrometheusReader, SeriesMatrix, bucket_latencies_ns

_PREFIXES = ("traces_span_metrics_", "traces_spanmetrics_", "")
_HISTOGRAMS = (  # (name after the prefix, seconds per unit)
    ("duration_milliseconds_bucket", 1e-3),
    ("duration_seconds_bucket", 1.0),
    ("latency_bucket", None),  # Tempo: seconds; the old spanmetrics processor: milliseconds
    ("duration_bucket", 1e-3),  # the connector's default unit, exported without a unit suffix
)
_ERROR = "STATUS_CODE_ERROR"


@dataclass(frozen=True, slots=True)
class SpanMetricNames:
    calls: str
    buckets: str | None
    seconds_per_unit: float


def find_span_metrics(reader: PrometheusReader, start_s: float, end_s: float) -> SpanMetricNames | None:
    """The span-metric names this server has in [start, end], or None."""
    names = set(
        reader.client.metric_names(
            "(traces_span_metrics_|traces_spanmetrics_)?(calls|duration|latency).*", start_s, end_s
        )
    )
    for prefix in _PREFIXES:
        if f"{prefix}calls_total" not in names:
            continue
        for suffix, unit in _HISTOGRAMS:
            if f"{prefix}{suffix}" in names:
                if unit is None:
                    unit = 1.0 if prefix == "traces_spanmetrics_" else 1e-3
                return SpanMetricNames(f"{prefix}calls_total", f"{prefix}{suffix}", unit)
        return SpanMetricNames(f"{prefix}calls_total", None, 1.0)
    return None


def _operation(labels: dict[str, str]) -> tuple[str, str, str]:
    service = labels.get("service_name") or labels.get("service") or labels.get("job", "")
    operation = labels.get("span_name") or labels.get("operation", "")
    kind = labels.get("span_kind", "").removeprefix("SPAN_KIND_").lower()
    return service, operation, kind


def _totals(matrix: SeriesMatrix, key_of) -> dict:
    sums: dict = {}
    for labels, row in zip(matrix.labels, matrix.increases, strict=True):
        key = key_of(labels)
        sums[key] = sums.get(key, 0.0) + float(np.nansum(row))
    return sums


@dataclass(slots=True)
class SpanMetricTotals:
    """Span metrics summed over a range: calls and failures per (service, operation, kind), and each operation's
    cumulative bucket counts by upper bound in seconds (empty without a histogram)."""

    calls: dict[tuple[str, str, str], float]
    errors: dict[tuple[str, str, str], float]
    buckets: dict[tuple[str, str, str], dict[float, float]]


def read_span_metric_totals(reader: PrometheusReader, start_s: float, end_s: float) -> SpanMetricTotals | None:
    """The span metrics' increases over [start, end), or None when the server has none."""
    names = find_span_metrics(reader, start_s, end_s)
    if names is None:
        return None
    calls: dict = {}
    errors: dict = {}
    buckets: dict = {}
    for chunk_start_s, chunk_end_s in reader.chunks(start_s, end_s):
        matrix = reader.matrix(names.calls, chunk_start_s, chunk_end_s)
        assert matrix is not None
        for key, value in _totals(matrix, _operation).items():
            calls[key] = calls.get(key, 0.0) + value
        for key, value in _totals(matrix, lambda labels: (_operation(labels), labels.get("status_code"))).items():
            if key[1] == _ERROR:
                errors[key[0]] = errors.get(key[0], 0.0) + value
        histogram = reader.matrix(names.buckets, chunk_start_s, chunk_end_s)
        if histogram is not None:
            for key, value in _totals(histogram, lambda labels: (_operation(labels), labels.get("le", ""))).items():
                buckets[key] = buckets.get(key, 0.0) + value
    by_operation: dict = {}
    for (operation, le), count in buckets.items():
        try:
            bound_s = float(le) * names.seconds_per_unit
        except ValueError:
            reader.problems.add("prometheus: span-metrics bucket without a numeric le label (skipped)", str(operation))
            continue
        by_operation.setdefault(operation, {})[bound_s] = count
    return SpanMetricTotals(calls, errors, by_operation)


def read_operations(reader: PrometheusReader, start_s: float, end_s: float) -> list[dict[str, object]]:
    """Per service and operation over [start, end): requests, errors and p50/p95/p99 (ms, None without a
    histogram); empty when the server has no span metrics. Sorted by service, then by requests."""
    totals = read_span_metric_totals(reader, start_s, end_s)
    return [] if totals is None else operation_rows(totals)


def operation_rows(totals: SpanMetricTotals) -> list[dict[str, object]]:
    """`read_operations`' rows from totals already read."""
    rows = []
    for key, count in totals.calls.items():
        service, operation, kind = key
        p50, p95, p99 = _percentiles_ms(totals.buckets.get(key))
        rows.append(
            {
                "service": service,
                "operation": operation,
                "kind": kind,
                "requests": round(count),
                "errors": round(totals.errors.get(key, 0.0)),
                "p50_ms": p50,
                "p95_ms": p95,
                "p99_ms": p99,
            }
        )
    rows = [r for r in rows if r["requests"]]
    rows.sort(key=lambda r: (r["service"], -r["requests"], r["operation"]))  # type: ignore[operator]
    return rows


def bucket_increments(cumulative: dict[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(upper bounds in seconds, calls in each bucket) from cumulative counts by upper bound."""
    bounds_s = np.array(sorted(cumulative), np.float64)
    counts = np.maximum.accumulate(np.array([cumulative[b] for b in bounds_s], np.float64))
    return bounds_s, np.diff(counts, prepend=0.0)


def _percentiles_ms(cumulative: dict[float, float] | None) -> tuple[float | None, ...]:
    """Percentiles from cumulative bucket counts (bounds in seconds): the latency that stands for the bucket
    holding each rank."""
    if not cumulative:
        return None, None, None
    bounds_s = np.array(sorted(cumulative))
    counts = np.maximum.accumulate(np.array([cumulative[b] for b in bounds_s]))
    total = counts[-1]
    if total <= 0:
        return None, None, None
    latencies_ms = bucket_latencies_ns(bounds_s) / 1e6
    out = []
    for percentile in (50, 95, 99):
        rank = max(1.0, np.ceil(total * percentile / 100 - 1e-9))
        out.append(round(float(latencies_ms[int(np.searchsorted(counts, rank))]), 3))
    return tuple(out)
