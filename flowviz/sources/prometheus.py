"""Service-graph metrics from Prometheus (or Mimir, Thanos): the servicegraph connector's series as edge observations.

At scale the OpenTelemetry Collector's `servicegraph` connector (or Tempo's metrics-generator, or
Alloy) already aggregates the spans of many machines into `traces_service_graph_request_total`,
`..._request_failed_total` and the histograms `..._request_server_seconds` / `..._client_seconds`
(`client`, `server`, `connection_type` labels). `PrometheusReader` reads those series over a range
at a step no finer than the scrape interval and turns each step's counter increases into
observations for the rolling store: one row per edge, step and latency bucket, with the bucket's
representative latency and the count as weight, so percentiles come out of the store as for spans.

Increases are computed here from the raw series (per series, then summed), not with `increase()`:
no extrapolation, so the counts are the integers the collector counted; a counter that drops was
reset and counts from zero; a series that first appears inside the range counts from zero.
"""

from __future__ import annotations

import base64
import math
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY, EdgeObservations
from flowviz.model.problems import Problems

SECOND_NS = 1_000_000_000
DEFAULT_STEP_S = 15.0  # when the scrape interval cannot be estimated (no samples yet)
MAX_POINTS_PER_QUERY = 10_000  # Prometheus refuses more than 11 000 points per series
POINTS_PER_ANSWER = 2_000_000  # series × steps in one answer (about 40 MB of JSON): long ranges come in chunks
GRAPH = "service_graph_request"
_CONNECTION_TYPES = {
    "": ConnectionType.DIRECT,
    "messaging_system": ConnectionType.MESSAGING_SYSTEM,
    "database": ConnectionType.DATABASE,
    "virtual_node": ConnectionType.VIRTUAL_NODE,
}
_VIRTUAL_CLIENT = "user"  # the servicegraph connector's name for the caller of a root server span
# labels that name the topic / queue of a messaging edge when the connector is configured to keep them
_VIA_LABELS = (
    "messaging_destination_name",
    "client_messaging_destination_name",
    "server_messaging_destination_name",
    "messaging_destination",
    "client_messaging_destination",
    "server_messaging_destination",
)


class PrometheusError(Exception):
    """A Prometheus that cannot be reached or refuses a query, or settings that cannot work."""


class NoGraphSeries(PrometheusError):
    """The server answers but holds no service-graph series in the range asked."""


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    """Where the metrics are and how to ask: URL, auth from files (never on the command line), TLS, tenant."""

    url: str
    bearer_token_file: str | None = None
    basic_auth_file: str | None = None  # one line, USER:PASSWORD
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    tenant: str | None = None  # X-Scope-OrgID (Mimir, Cortex, Tempo)
    step_s: float | None = None  # None: the scrape interval, estimated from the samples
    timeout_s: float = 30.0

    def describe(self) -> str:
        return self.url + (f" (tenant {self.tenant})" if self.tenant else "")


def check_prometheus_settings(settings: PrometheusSettings) -> None:
    """Raise PrometheusError for settings that cannot work (before any request)."""
    parsed = urllib.parse.urlparse(settings.url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PrometheusError(f"{settings.url!r}: expected an http:// or https:// URL of Prometheus")
    if settings.bearer_token_file and settings.basic_auth_file:
        raise PrometheusError("use a bearer token or basic auth, not both")
    _auth_header(settings)
    if bool(settings.client_cert) != bool(settings.client_key):
        raise PrometheusError("--prometheus-cert and --prometheus-key go together")
    if settings.step_s is not None and settings.step_s <= 0:
        raise PrometheusError("the step must be positive")


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise PrometheusError(f"{path}: {error.strerror or error}") from None


def _auth_header(settings: PrometheusSettings) -> str | None:
    if settings.bearer_token_file:
        return f"Bearer {_read_secret(settings.bearer_token_file)}"
    if settings.basic_auth_file:
        text = _read_secret(settings.basic_auth_file)
        if ":" not in text:
            raise PrometheusError(f"{settings.basic_auth_file}: expected one line USER:PASSWORD")
        return "Basic " + base64.b64encode(text.encode()).decode()
    return None


class PrometheusClient:
    """The HTTP API (`/api/v1/...`) with auth, TLS and the tenant header; answers' `data`, or PrometheusError."""

    def __init__(self, settings: PrometheusSettings) -> None:
        check_prometheus_settings(settings)
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": "flowviz"}
        auth = _auth_header(settings)
        if auth:
            self._headers["Authorization"] = auth
        if settings.tenant:
            self._headers["X-Scope-OrgID"] = settings.tenant
        self._context: ssl.SSLContext | None = None
        if settings.url.startswith("https"):
            self._context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.client_cert:
                self._context.load_cert_chain(settings.client_cert, settings.client_key)
            if settings.insecure_skip_verify:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    def get(self, path: str, params: list[tuple[str, str]]) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s, context=self._context) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise PrometheusError(f"{self.settings.url}: HTTP {error.code}: {_error_text(error.read())}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PrometheusError(f"{self.settings.url}: {reason}") from None
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise PrometheusError(f"{self.settings.url}: the answer is not JSON (is this Prometheus?)") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise PrometheusError(f"{self.settings.url}: {_error_text(body)}")
        return answer.get("data")

    def metric_names(self, pattern: str, start_s: float, end_s: float) -> list[str]:
        data = self.get(
            "/api/v1/label/__name__/values",
            [("match[]", f'{{__name__=~"{pattern}"}}'), ("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}")],
        )
        return sorted(data) if isinstance(data, list) else []

    def query(self, expression: str, at_s: float) -> list[dict]:
        data = self.get("/api/v1/query", [("query", expression), ("time", f"{at_s:.3f}")])
        return data.get("result", []) if isinstance(data, dict) else []

    def query_range(self, expression: str, start_s: float, end_s: float, step_s: float) -> list[dict]:
        params = [("query", expression), ("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}"), ("step", f"{step_s:g}")]
        data = self.get("/api/v1/query_range", params)
        return data.get("result", []) if isinstance(data, dict) else []

    def query_exemplars(self, expression: str, start_s: float, end_s: float) -> list[dict]:
        """`/api/v1/query_exemplars`: per series `{"seriesLabels": ..., "exemplars": [{"labels", "value",
        "timestamp"}]}` (empty where the server keeps no exemplars)."""
        params = [("query", expression), ("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}")]
        data = self.get("/api/v1/query_exemplars", params)
        return data if isinstance(data, list) else []


def _error_text(body: bytes) -> str:
    try:
        answer = orjson.loads(body)
        return str(answer.get("error") or answer)
    except (orjson.JSONDecodeError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip() or "no answer"


# -- which series --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphMetrics:
    """The servicegraph series' names as this server has them (with or without the `traces_` prefix)."""

    requests: str
    failed: str | None
    server_buckets: str | None
    client_buckets: str | None


def find_graph_metrics(client: PrometheusClient, start_s: float, end_s: float) -> GraphMetrics:
    """The service-graph metric names present in [start, end]; PrometheusError when there are none."""
    names = set(client.metric_names(f"(traces_)?{GRAPH}_.*", start_s, end_s))
    for prefix in ("traces_", ""):
        requests = f"{prefix}{GRAPH}_total"
        if requests in names:

            def present(name: str) -> str | None:
                return name if name in names else None

            return GraphMetrics(
                requests,
                present(f"{prefix}{GRAPH}_failed_total"),
                present(f"{prefix}{GRAPH}_server_seconds_bucket"),
                present(f"{prefix}{GRAPH}_client_seconds_bucket"),
            )
    raise NoGraphSeries(
        f"{client.settings.url}: no traces_service_graph_request_total (or service_graph_request_total) series "
        "in that time range: is the collector's servicegraph connector exporting to this Prometheus?"
    )


def estimate_step_s(client: PrometheusClient, metric: str, at_s: float) -> float:
    """The scrape (or remote-write) interval of `metric` near `at_s`: the median gap of its newest samples."""
    result = client.query(f"{metric}[10m]", at_s)
    gaps = [
        float(later[0]) - float(earlier[0])
        for series in result[:20]
        for earlier, later in zip(series.get("values", []), series.get("values", [])[1:], strict=False)
    ]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return DEFAULT_STEP_S
    return max(1.0, round(float(np.median(gaps))))


# -- counters into increases ---------------------------------------------------------------


@dataclass(slots=True)
class SeriesMatrix:
    """Series (their labels) × step times: each step's increase over the step before (NaN: no sample there)."""

    labels: list[dict[str, str]]
    increases: np.ndarray  # float64, series × steps
    times_s: np.ndarray  # the end of each step's interval


def increases(result: list[dict], start_s: float, step_s: float, steps: int, *, first_is_base: bool) -> SeriesMatrix:
    """Per-step counter increases of a `query_range` result on the grid start + k·step, k < steps.

    With `first_is_base` the grid's first point only gives each series its starting value. A counter
    lower than before was reset: its increase is its new value. A series without a value before (it
    appeared inside the range, or after a gap) counts from zero when it first appears after the first point,
    from its last value after a gap.
    """
    times = start_s + step_s * np.arange(steps)
    values = np.full((len(result), steps), np.nan)
    labels = []
    for row, series in enumerate(result):
        labels.append(series.get("metric", {}))
        points = series.get("values") or []
        if not points:
            continue
        stamps = np.array([float(p[0]) for p in points])
        index = np.rint((stamps - start_s) / step_s).astype(np.int64)
        ok = (index >= 0) & (index < steps)
        values[row, index[ok]] = np.array([float(p[1]) for p in points])[ok]
    out = np.zeros_like(values)
    for row in range(values.shape[0]):
        series = values[row]
        present = np.flatnonzero(~np.isnan(series))
        if not present.size:
            continue
        series_values = series[present]
        previous = np.concatenate(([np.nan], series_values[:-1]))
        delta = series_values - previous
        reset = delta < 0
        delta[reset] = series_values[reset]
        if present[0] > 0 or not first_is_base:
            delta[0] = series_values[0]  # appeared inside the range: counted from zero
        else:
            delta[0] = 0.0
        out[row, present] = delta
    if first_is_base:
        return SeriesMatrix(labels, out[:, 1:], times[1:])
    return SeriesMatrix(labels, out, times)


# -- increases into observations -----------------------------------------------------------


def edge_key(labels: dict[str, str]) -> tuple[str, str, str, str]:
    """(client, server, connection_type, via) of a series."""
    via = next((labels[name] for name in _VIA_LABELS if labels.get(name)), "")
    return labels.get("client", ""), labels.get("server", ""), labels.get("connection_type", ""), via


def _sum_by(matrix: SeriesMatrix, key_of) -> dict:
    sums: dict = {}
    for labels, row in zip(matrix.labels, matrix.increases, strict=True):
        key = key_of(labels)
        sums[key] = sums[key] + row if key in sums else row.copy()
    return sums


def bucket_latencies_ns(bounds_s: np.ndarray) -> np.ndarray:
    """A latency for each histogram bucket (lower, upper]: the geometric middle; the first bucket half its
    bound; the +Inf bucket its lower bound (the best that is known: more than that)."""
    upper = bounds_s
    lower = np.concatenate(([0.0], bounds_s[:-1]))
    middle = np.where(lower > 0, np.sqrt(np.maximum(lower, 1e-12) * upper), upper / 2)
    middle = np.where(np.isinf(upper), lower, middle)
    return np.rint(middle * 1e9).astype(np.int64)


@dataclass(slots=True)
class GraphStep:
    """Observations of the edges over a range of steps, with counts for the status."""

    observations: EdgeObservations
    requests: int
    failed: int


def graph_observations(
    requests: SeriesMatrix,
    failed: SeriesMatrix | None,
    server: SeriesMatrix | None,
    client: SeriesMatrix | None,
    step_s: float,
    problems: Problems,
) -> GraphStep:
    """Rows per edge, step and latency bucket: counts are the counters' increases; latency from the server
    histogram where an edge has one, else the client's; failures spread over the buckets in proportion
    (largest remainders), so both the request and error counts and the latency distribution are exact."""
    request_sums = _sum_by(requests, edge_key)
    failed_sums = _sum_by(failed, edge_key) if failed is not None else {}
    histograms = {}
    for matrix in (server, client):  # server first: it wins where both exist
        if matrix is None:
            continue
        for (edge, le), row in _sum_by(matrix, lambda labels: (edge_key(labels), labels.get("le", ""))).items():
            try:
                bound = float(le)
            except ValueError:
                problems.add("prometheus: histogram bucket without a numeric le label (skipped)", str(edge))
                continue
            histograms.setdefault(id(matrix), {}).setdefault(edge, {})[bound] = row
    server_histograms = histograms.get(id(server), {}) if server is not None else {}
    client_histograms = histograms.get(id(client), {}) if client is not None else {}
    names: dict[str, int] = {"": 0}
    columns: dict[str, list] = {k: [] for k in ("source", "target", "source_kind", "target_kind", "type", "via")}
    columns.update({k: [] for k in ("time_ns", "latency_ns", "failed", "count")})
    step_ns = round(step_s * SECOND_NS)
    times_ns = np.rint(requests.times_s * SECOND_NS).astype(np.int64) - step_ns  # each step's interval starts here
    total_requests = total_failed = 0
    for edge, request_row in request_sums.items():
        client_name, server_name, type_label, via = edge
        connection_type = _CONNECTION_TYPES.get(type_label)
        if connection_type is None:
            problems.add("prometheus: unknown connection_type (read as a direct call)", type_label)
            connection_type = ConnectionType.DIRECT
        counts = np.nan_to_num(request_row).round().astype(np.int64)
        errors = np.nan_to_num(failed_sums.get(edge, np.zeros_like(request_row))).round().astype(np.int64)
        errors = np.minimum(errors, counts)
        buckets = server_histograms.get(edge) or client_histograms.get(edge)
        rows = _edge_rows(counts, errors, buckets)
        if not rows[0].size:
            continue
        step_index, latency_ns, is_failed, count = rows
        source_kind, target_kind = NodeKind.SERVICE, NodeKind.SERVICE
        if connection_type is ConnectionType.DATABASE:
            target_kind = NodeKind.DATABASE
        elif connection_type is ConnectionType.VIRTUAL_NODE:
            if client_name == _VIRTUAL_CLIENT:
                source_kind = NodeKind.USER
            else:
                target_kind = NodeKind.EXTERNAL
        size = step_index.size
        columns["source"].append(np.full(size, names.setdefault(client_name, len(names))))
        columns["target"].append(np.full(size, names.setdefault(server_name, len(names))))
        columns["source_kind"].append(np.full(size, source_kind))
        columns["target_kind"].append(np.full(size, target_kind))
        columns["type"].append(np.full(size, connection_type))
        columns["via"].append(np.full(size, names.setdefault(via, len(names)) if via else 0))
        columns["time_ns"].append(times_ns[step_index])
        columns["latency_ns"].append(latency_ns)
        columns["failed"].append(is_failed)
        columns["count"].append(count)
        total_requests += int(counts.sum())
        total_failed += int(errors.sum())
    if not columns["source"]:
        return GraphStep(EdgeObservations.empty(), 0, 0)
    joined = {k: np.concatenate(v) for k, v in columns.items()}
    observations = EdgeObservations.from_columns(
        names,
        source=joined["source"],
        target=joined["target"],
        source_kind=joined["source_kind"],
        target_kind=joined["target_kind"],
        connection_type=joined["type"],
        via=joined["via"],
        time_ns=joined["time_ns"],
        latency_ns=joined["latency_ns"],
        failed=joined["failed"],
        count=joined["count"],
    )
    return GraphStep(observations, total_requests, total_failed)


def _edge_rows(
    counts: np.ndarray, errors: np.ndarray, buckets: dict[float, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(step index, latency, failed, count) rows of one edge: histogram buckets split into failed and not,
    plus rows without latency for requests the histogram does not cover."""
    steps = counts.size
    if buckets:
        bounds = np.array(sorted(buckets))
        cumulative = np.stack([np.nan_to_num(buckets[b]) for b in bounds]).round().astype(np.int64)  # buckets × steps
        cumulative = np.maximum.accumulate(np.maximum(cumulative, 0), axis=0)
        per_bucket = np.diff(cumulative, axis=0, prepend=0)
        latencies = bucket_latencies_ns(bounds)
        covered = cumulative[-1]
    else:
        per_bucket = np.zeros((0, steps), np.int64)
        latencies = np.zeros(0, np.int64)
        covered = np.zeros(steps, np.int64)
    failed_in_buckets = _spread(np.minimum(errors, covered), per_bucket)
    uncovered = np.maximum(counts - covered, 0)
    uncovered_failed = errors - failed_in_buckets.sum(axis=0)
    no_latency = np.array([NO_LATENCY])
    parts = []
    for latency_rows, latency, failed_flag in (
        (per_bucket - failed_in_buckets, latencies, False),
        (failed_in_buckets, latencies, True),
        (np.maximum(uncovered - uncovered_failed, 0)[None, :], no_latency, False),
        (np.minimum(uncovered_failed, uncovered)[None, :], no_latency, True),
    ):
        bucket_index, step_index = np.nonzero(latency_rows > 0)
        count = latency_rows[bucket_index, step_index]
        parts.append((step_index, latency[bucket_index], np.full(step_index.size, failed_flag), count))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))  # type: ignore[return-value]


def _spread(errors: np.ndarray, per_bucket: np.ndarray) -> np.ndarray:
    """Split each step's `errors` over its buckets in proportion to their counts, in integers (largest remainder)."""
    if per_bucket.shape[0] == 0:
        return per_bucket
    totals = per_bucket.sum(axis=0)
    share = np.divide(per_bucket * errors[None, :], totals[None, :], out=np.zeros(per_bucket.shape), where=totals > 0)
    whole = np.floor(share).astype(np.int64)
    missing = errors - whole.sum(axis=0)
    remainder = share - whole
    order = np.argsort(-remainder, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(per_bucket.shape[0])[:, None].repeat(per_bucket.shape[1], 1), axis=0)
    whole += (ranks < missing[None, :]).astype(np.int64)
    return np.minimum(whole, per_bucket)


# -- reading a range -----------------------------------------------------------------------


@dataclass(slots=True)
class PrometheusStatus:
    """How the metrics source is doing (plain values: they cross process pipes)."""

    kind: str = "prometheus"
    state: str = "connecting"  # connecting | reading | following | done | failed
    url: str = ""
    step_s: float = 0.0
    metric: str = ""
    requests: int = 0
    failed: int = 0
    newest_s: float | None = None
    last_error: str = ""
    problems: dict[str, dict[str, object]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class PrometheusReader:
    """Reads the service graph from Prometheus: `read(start_s, end_s)` yields observations chunk by chunk."""

    def __init__(self, settings: PrometheusSettings, *, problems: Problems | None = None) -> None:
        self.client = PrometheusClient(settings)
        self.settings = settings
        self.problems = problems if problems is not None else Problems()
        self.status = PrometheusStatus(url=settings.describe())
        self.metrics: GraphMetrics | None = None
        self.step_s = settings.step_s or 0.0
        self.chunk_steps = MAX_POINTS_PER_QUERY - 1

    def prepare(self, start_s: float, end_s: float) -> None:
        """Find the metric names and the step (the scrape interval unless given) for [start, end]."""
        self.metrics = find_graph_metrics(self.client, start_s, end_s)
        if not self.step_s:
            self.step_s = estimate_step_s(self.client, self.metrics.requests, end_s)
        self.status.step_s, self.status.metric = self.step_s, self.metrics.requests
        names = [n for n in (self.metrics.requests, self.metrics.server_buckets, self.metrics.client_buckets) if n]
        counted = self.client.query(f'count({{__name__=~"{"|".join(names)}"}})', end_s)
        series = max((int(float(r["value"][1])) for r in counted if r.get("value")), default=1)
        self.chunk_steps = max(10, min(MAX_POINTS_PER_QUERY - 1, POINTS_PER_ANSWER // max(series, 1)))

    def read(self, start_s: float, end_s: float) -> Iterator[GraphStep]:
        """Increases over [start, end) step by step (start aligned down to the step), chunk by chunk."""
        if self.metrics is None:
            self.prepare(start_s, end_s)
        for interval_start_s, steps in self.chunks(start_s, end_s):
            yield self._read_chunk(interval_start_s, steps)

    def chunks(self, start_s: float, end_s: float) -> Iterator[tuple[float, int]]:
        """(first interval's start, steps) covering [start, end) on the step grid, at most
        `chunk_steps` points a query (fewer where there are many series: answers stay about `POINTS_PER_ANSWER`)."""
        step = self.step_s
        first = math.floor(start_s / step) * step
        steps_total = max(0, math.ceil((end_s - first) / step))
        for done in range(0, steps_total, self.chunk_steps):
            yield first + done * step, min(self.chunk_steps, steps_total - done)

    def matrix(self, name: str | None, interval_start_s: float, steps: int) -> SeriesMatrix | None:
        """The increases of every series of `name` in intervals [interval_start + k·step, +step), k < steps,
        from the counters at the grid points bounding them (None for no name)."""
        if name is None:
            return None
        step = self.step_s
        result = self.client.query_range(name, interval_start_s, interval_start_s + steps * step, step)
        return increases(result, interval_start_s, step, steps + 1, first_is_base=True)

    def _read_chunk(self, interval_start_s: float, steps: int) -> GraphStep:
        metrics = self.metrics
        assert metrics is not None
        requests = self.matrix(metrics.requests, interval_start_s, steps)
        assert requests is not None
        graph = graph_observations(
            requests,
            self.matrix(metrics.failed, interval_start_s, steps),
            self.matrix(metrics.server_buckets, interval_start_s, steps),
            self.matrix(metrics.client_buckets, interval_start_s, steps),
            self.step_s,
            self.problems,
        )
        self.status.requests += graph.requests
        self.status.failed += graph.failed
        self.status.newest_s = interval_start_s + steps * self.step_s
        return graph


def status_text(status: dict[str, Any]) -> str:
    """One status line from `PrometheusStatus.as_dict()`."""
    state = status["state"]
    text = f"{state} · Prometheus {status['url']}"
    if status.get("step_s"):
        text += f" · step {status['step_s']:g} s (the scrape interval: no finer)"
    if status.get("newest_s"):
        newest = time.strftime("%H:%M:%S", time.localtime(status["newest_s"]))
        text += f" · up to {newest}"
    text += f" · {status['requests']:,} requests, {status['failed']:,} failed"
    if status.get("last_error"):
        text += f" · {status['last_error']}"
    return text
