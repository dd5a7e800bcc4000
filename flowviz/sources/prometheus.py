"""Service-graph metrics from Prometheus (or Mimir, Thanos): the servicegraph connector's series as edge observations.

At scale the OpenTelemetry Collector's `servicegraph` connector (or Tempo's metrics-generator, or
Alloy) already aggregates the spans of many machines into `traces_service_graph_request_total`,
`..._request_failed_total` and the histograms `..._request_server_seconds` / `..._client_seconds`
(`client`, `server`, `connection_type` labels; with or without the `traces_` prefix, both read
where a range holds both). `PrometheusReader` reads those series' raw samples over a range and
turns their counter increases into observations for the rolling store: one row per edge, step and
latency bucket, with the bucket's representative latency and the count as weight, so percentiles
come out of the store as for spans. The step (never finer than the scrape interval) only sets the
timeline's resolution: a sample's increase goes to the step that holds the sample.

Increases are computed here from the raw samples (per series, then summed), not with `increase()`:
no extrapolation, so the counts are the integers the collector counted; a counter that drops was
reset and its new value is the increase; a series that first appears inside the range counts from
zero. The range [start, end) counts the samples in (start, end]: the counter at `end` less the
counter at `start`, each the last sample at or before it.
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
from flowviz.sources.tls_files import TlsFileError, client_context

SECOND_NS = 1_000_000_000
DEFAULT_STEP_S = 15.0  # when the scrape interval cannot be estimated (no samples yet)
MAX_POINTS_PER_QUERY = 10_000  # steps in one chunk at most (series × steps are held as one matrix)
POINTS_PER_ANSWER = 2_000_000  # raw samples in one answer (about 40 MB of JSON): long ranges come in chunks
LOOKBACK_S = 300.0  # how far before a chunk a counter's last sample is looked for (Prometheus's lookback delta)
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
    if settings.ca_file or settings.client_cert:
        _tls_context(settings)  # files named are checked whatever the scheme: a typo is not silently ignored
    if settings.step_s is not None and settings.step_s <= 0:
        raise PrometheusError("the step must be positive")


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise PrometheusError(f"{path}: {error.strerror or error}") from None


def _tls_context(settings: PrometheusSettings) -> ssl.SSLContext:
    """The client context of an https URL: the CA file (else the system's), the client pair, skip-verify."""
    try:
        context = client_context(settings.ca_file, settings.client_cert, settings.client_key)
    except TlsFileError as error:
        raise PrometheusError(str(error)) from None
    if settings.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _auth_header(settings: PrometheusSettings) -> str | None:
    if settings.bearer_token_file:
        token = _read_secret(settings.bearer_token_file)
        if not token:
            raise PrometheusError(f"{settings.bearer_token_file}: empty (expected the bearer token)")
        if not token.isprintable():
            raise PrometheusError(f"{settings.bearer_token_file}: expected the bearer token on one line")
        return f"Bearer {token}"
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
            self._context = _tls_context(settings)

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
    """The servicegraph series' names as this server has them in a range: with the `traces_` prefix, without
    it, or both (each role's names, prefixed first; empty where the server has none)."""

    requests: tuple[str, ...]
    failed: tuple[str, ...]
    server_buckets: tuple[str, ...]
    client_buckets: tuple[str, ...]

    def describe(self) -> str:
        return " + ".join(self.requests)


def series_selector(names: str | tuple[str, ...], matchers: str = "") -> str:
    """A PromQL selector of every series of `names` (one or several metric names), with more label `matchers`."""
    names = (names,) if isinstance(names, str) else names
    return "{" + ",".join([f'__name__=~"{"|".join(names)}"', *([matchers] if matchers else [])]) + "}"


def find_graph_metrics(client: PrometheusClient, start_s: float, end_s: float) -> GraphMetrics:
    """The service-graph metric names present in [start, end] (both families where both are); PrometheusError
    when there are none."""
    names = set(client.metric_names(f"(traces_)?{GRAPH}_.*", start_s, end_s))
    prefixes = [prefix for prefix in ("traces_", "") if f"{prefix}{GRAPH}_total" in names]
    if prefixes:

        def present(suffix: str) -> tuple[str, ...]:
            return tuple(f"{p}{GRAPH}_{suffix}" for p in prefixes if f"{p}{GRAPH}_{suffix}" in names)

        return GraphMetrics(
            present("total"),
            present("failed_total"),
            present("server_seconds_bucket"),
            present("client_seconds_bucket"),
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
    """Series (their labels) × steps: the counter increases of the raw samples each step holds."""

    labels: list[dict[str, str]]
    increases: np.ndarray  # float64, series × steps
    starts_s: np.ndarray  # each step's start on the step grid, the first one clipped to the range's start
    covered_s: tuple[float, float] | None = None  # the counted increases happened between these samples' times


def describe_step(step_s: float, scrape_s: float) -> str:
    """`15 s (the scrape interval)` or `60 s (the scrape interval is 15 s)`: the step, and if it is the scrape's."""
    if not scrape_s or step_s == scrape_s:
        return f"{step_s:g} s (the scrape interval)"
    return f"{step_s:g} s (the scrape interval is {scrape_s:g} s)"


def increases(result: list[dict], start_s: float, end_s: float, step_s: float) -> SeriesMatrix:
    """The counter increases in [start, end) of a range-vector answer (raw samples), per series and step.

    The range counts the samples in (start, end]: each sample's increase over the sample before it (fetched
    from before `start` where there is one), in the step of the step grid (multiples of `step_s`) that holds
    the sample — so the total does not depend on the step. A counter lower than before was reset: its increase
    is its new value. A series without a sample before (it appeared inside the range) counts from zero.
    """
    start_ms, end_ms, step_ms = round(start_s * 1000), round(end_s * 1000), max(1, round(step_s * 1000))
    first_ms = start_ms // step_ms * step_ms
    steps = max(1, -(-(end_ms - first_ms) // step_ms))
    starts_s = np.maximum(first_ms + step_ms * np.arange(steps, dtype=np.int64), start_ms) / 1000
    out = np.zeros((len(result), steps))
    labels = []
    covered_from_ms, covered_to_ms = None, None
    for row, series in enumerate(result):
        labels.append(series.get("metric", {}))
        points = series.get("values") or []
        if not points:
            continue
        stamps_ms = np.rint(np.array([float(p[0]) for p in points]) * 1000).astype(np.int64)
        values = np.array([float(p[1]) for p in points])
        finite = np.isfinite(values)
        stamps_ms, values = stamps_ms[finite], values[finite]
        delta = np.diff(values, prepend=0.0)  # the first sample's: counted from zero where it is counted
        reset = delta < 0
        delta[reset] = values[reset]
        counted = np.flatnonzero((stamps_ms > start_ms) & (stamps_ms <= end_ms))
        if not counted.size:
            continue
        np.add.at(out[row], (stamps_ms[counted] - first_ms - 1) // step_ms, delta[counted])
        since_ms = int(stamps_ms[counted[0] - 1] if counted[0] > 0 else stamps_ms[counted[0]])
        covered_from_ms = since_ms if covered_from_ms is None else min(covered_from_ms, since_ms)
        covered_to_ms = max(covered_to_ms or 0, int(stamps_ms[counted[-1]]))
    covered = None if covered_from_ms is None else (covered_from_ms / 1000, covered_to_ms / 1000)
    return SeriesMatrix(labels, out, starts_s, covered)


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
    times_ns = np.rint(requests.starts_s * SECOND_NS).astype(np.int64)  # each step's interval starts here
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
    scrape_s: float = 0.0  # the scrape interval, estimated from the samples
    step_note: str = ""  # says so when a --step finer than the scrape interval was raised to it
    metric: str = ""
    requests: int = 0
    failed: int = 0
    newest_s: float | None = None
    covered_s: tuple[float, float] | None = None  # the samples the counts run between (first, last)
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
        self.scrape_s = 0.0
        self.lookback_s = LOOKBACK_S
        self.chunk_steps = MAX_POINTS_PER_QUERY - 1
        self._edges_in_both: set[tuple[str, str, str, str]] = set()

    def prepare(self, start_s: float, end_s: float) -> None:
        """Find the metric names, the scrape interval and the step (the scrape interval unless a coarser one is
        given; a finer one is raised to it, and `status.step_note` says so) for [start, end]."""
        self.metrics = find_graph_metrics(self.client, start_s, end_s)
        self.scrape_s = estimate_step_s(self.client, series_selector(self.metrics.requests), end_s)
        asked_s = self.settings.step_s
        self.step_s = max(asked_s, self.scrape_s) if asked_s else self.scrape_s
        if asked_s and asked_s < self.scrape_s:
            self.status.step_note = (
                f"--step {asked_s:g} s is finer than the scrape interval: raised to it ({self.scrape_s:g} s)"
            )
        self.lookback_s = max(LOOKBACK_S, 4 * self.scrape_s)
        self.status.step_s, self.status.scrape_s = self.step_s, self.scrape_s
        self.status.metric = self.metrics.describe()
        metrics = self.metrics
        names = (*metrics.requests, *metrics.server_buckets, *metrics.client_buckets)
        counted = self.client.query(f"count({series_selector(names)})", end_s)
        series = max((int(float(r["value"][1])) for r in counted if r.get("value")), default=1)
        samples_per_series = POINTS_PER_ANSWER / max(series, 1) - self.lookback_s / self.scrape_s
        steps = int(samples_per_series * self.scrape_s / self.step_s)
        self.chunk_steps = max(1, min(MAX_POINTS_PER_QUERY - 1, steps))

    def read(self, start_s: float, end_s: float) -> Iterator[GraphStep]:
        """Increases over [start, end) step by step, chunk by chunk (steps on the step grid; the first and the
        last clipped to the range)."""
        if self.metrics is None:
            self.prepare(start_s, end_s)
        for chunk_start_s, chunk_end_s in self.chunks(start_s, end_s):
            yield self._read_chunk(chunk_start_s, chunk_end_s)

    def chunks(self, start_s: float, end_s: float) -> Iterator[tuple[float, float]]:
        """(start, end) pieces of [start, end) ending on the step grid (but the last), at most `chunk_steps` steps
        each (fewer where there are many series: answers stay about `POINTS_PER_ANSWER` samples)."""
        step = self.step_s
        first = math.floor(start_s / step) * step
        steps_total = max(0, math.ceil((end_s - first) / step))
        for done in range(0, steps_total, self.chunk_steps):
            yield max(start_s, first + done * step), min(end_s, first + (done + self.chunk_steps) * step)

    def matrix(
        self, names: str | tuple[str, ...] | None, start_s: float, end_s: float, matchers: str = ""
    ) -> SeriesMatrix | None:
        """The increases in [start, end) of every series of `names` (with label `matchers`), per step, from their
        raw samples (None for no names)."""
        if not names:
            return None
        range_ms = math.ceil((end_s - start_s + self.lookback_s) * 1000)
        result = self.client.query(f"{series_selector(names, matchers)}[{range_ms}ms]", end_s)
        return increases(result, start_s, end_s, self.step_s)

    def _read_chunk(self, start_s: float, end_s: float) -> GraphStep:
        metrics = self.metrics
        assert metrics is not None
        requests = self.matrix(metrics.requests, start_s, end_s)
        assert requests is not None
        if len(metrics.requests) > 1:
            self._note_edges_in_both(requests)
        graph = graph_observations(
            requests,
            self.matrix(metrics.failed, start_s, end_s),
            self.matrix(metrics.server_buckets, start_s, end_s),
            self.matrix(metrics.client_buckets, start_s, end_s),
            self.problems,
        )
        self.status.requests += graph.requests
        self.status.failed += graph.failed
        self.status.newest_s = end_s
        if requests.covered_s is not None:
            old = self.status.covered_s
            first, last = requests.covered_s
            self.status.covered_s = (min(old[0], first), max(old[1], last)) if old else (first, last)
        return graph

    def _note_edges_in_both(self, requests: SeriesMatrix) -> None:
        """Both families are read and summed; an edge counted in both may be counted twice: say so, once an edge."""
        families: dict[tuple[str, str, str, str], set[str]] = {}
        for labels, row in zip(requests.labels, requests.increases, strict=True):
            if row.any():
                families.setdefault(edge_key(labels), set()).add(labels.get("__name__", ""))
        for edge, names in families.items():
            if len(names) > 1 and edge not in self._edges_in_both:
                self._edges_in_both.add(edge)
                self.problems.add(
                    "prometheus: an edge counted in both traces_service_graph_* and service_graph_* series "
                    "(summed: counted twice if one collector exports both)",
                    f"{edge[0]} -> {edge[1]}",
                )


def status_text(status: dict[str, Any]) -> str:
    """One status line from `PrometheusStatus.as_dict()`."""
    state = status["state"]
    text = f"{state} · Prometheus {status['url']}"
    if status.get("step_s"):
        text += f" · step {describe_step(status['step_s'], status.get('scrape_s', 0.0))}"
    if status.get("newest_s"):
        newest = time.strftime("%H:%M:%S", time.localtime(status["newest_s"]))
        text += f" · up to {newest}"
    text += f" · {status['requests']:,} requests, {status['failed']:,} failed"
    if status.get("step_note"):  # last: the figures stay in view on a narrow window
        text += f" · {status['step_note']}"
    if status.get("last_error"):
        text += f" · {status['last_error']}"
    return text
