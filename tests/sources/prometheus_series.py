"""Series shaped exactly as the OpenTelemetry Collector's servicegraph connector exports them, a real Prometheus
(Debian's `prometheus`) holding them (filled with `promtool tsdb create-blocks-from openmetrics`), and the
graph they encode."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

STEP_S = 15
T0 = 1_700_000_000 // STEP_S * STEP_S  # the first sample (2023-11-14), far in the past: replay, not live
STEPS = 40  # samples after the first: 10 minutes
UNPREFIXED_T0 = T0 + 86_400  # a day later, the same system exported without the `traces_` prefix
RECENT_T0 = (int(time.time()) - 20 * 60) // STEP_S * STEP_S  # and once more, ending 10 minutes before the tests
MIXED_T0 = T0 + 2 * 86_400  # two days later, both families at once: the system prefixed, `mixed_legacy()` not
BUCKETS_S = (0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15)  # connector default
TLS_DIR = Path(__file__).parent / "otlp_tls"


@dataclass
class Edge:
    """One edge as the connector reports it, with what it counted in each step (index 1..STEPS)."""

    client: str
    server: str
    connection_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    server_histogram: bool = True
    client_histogram: bool = True
    instances: tuple[str, ...] = ("collector-0:8889",)
    first_step: int = 0  # the series appear at this sample
    reset_at: int | None = None  # the last instance restarts here (its counters start again from 0)
    requests: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    buckets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # steps × buckets (+Inf last)

    def fill(self, rng: np.random.Generator, rate: int, typical_s: float) -> Edge:
        self.requests = rng.poisson(rate, STEPS + 1)
        self.requests[: max(self.first_step, 1)] = 0  # the first sample is the base (or the series' first count)
        self.failed = rng.binomial(self.requests, 0.1)
        latency = rng.lognormal(np.log(typical_s), 0.5, (STEPS + 1, int(self.requests.max()) + 1))
        bounds = np.array([*BUCKETS_S, np.inf])
        self.buckets = np.zeros((STEPS + 1, bounds.size), np.int64)
        for step in range(STEPS + 1):
            index = np.searchsorted(bounds, latency[step, : self.requests[step]], side="left")
            self.buckets[step] = np.bincount(index, minlength=bounds.size)
        return self


def system(rng: np.random.Generator) -> list[Edge]:
    return [
        Edge("user", "frontend", "virtual_node").fill(rng, 60, 0.12),
        Edge("frontend", "checkout", instances=("collector-0:8889", "collector-1:8889"), reset_at=23).fill(
            rng, 40, 0.05
        ),
        Edge("checkout", "postgresql", "database", client_histogram=True, server_histogram=False).fill(rng, 80, 0.004),
        Edge("checkout", "payments-api", "virtual_node", server_histogram=False).fill(rng, 20, 0.3),
        Edge("checkout", "shipping", "messaging_system", extra={"client_messaging_destination_name": "shipments"}).fill(
            rng, 15, 0.02
        ),
        Edge("frontend", "recommendations", first_step=12).fill(rng, 10, 0.008),
    ]


def mixed_legacy(rng: np.random.Generator) -> list[Edge]:
    """What a second, older collector exports without the prefix beside `system()` at MIXED_T0: an edge of its own
    and one that `system()` has too."""
    return [
        Edge("batch", "checkout", instances=("legacy-collector:8889",)).fill(rng, 12, 0.03),
        Edge("user", "frontend", "virtual_node", instances=("legacy-collector:8889",)).fill(rng, 5, 0.12),
    ]


def _labels(edge: Edge, instance: str, **more: str) -> str:
    labels = {"client": edge.client, "server": edge.server, "connection_type": edge.connection_type, **edge.extra}
    labels.update(job="otel-collector", instance=instance, **more)
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


SPAN_METRICS = {  # shape -> (calls, histogram, its unit in seconds, service label)
    "connector": ("traces_span_metrics_calls_total", "traces_span_metrics_duration_milliseconds", 1e-3, "service_name"),
    "tempo": ("traces_spanmetrics_calls_total", "traces_spanmetrics_latency", 1.0, "service"),
}


def operations(edges: list[Edge]) -> list[Edge]:
    """The server operations span metrics count: each instrumented server's `POST /NAME` (its calls of the graph)."""
    return [e for e in edges if e.connection_type in ("", "messaging_system") or e.client == "user"]


def openmetrics(edges: list[Edge], t0: int, prefix: str, span_metrics: str | None = None) -> str:
    """The connector's families, every series sampled every STEP_S (cumulative, as exported); with `span_metrics`
    also span metrics of that shape for `operations(edges)`."""
    families: dict[str, list[str]] = {}

    def series(family: str, kind: str, name: str, labels: str, increments: np.ndarray, start: int, reset: int | None):
        lines = families.setdefault(f"# TYPE {family} {kind}", [])
        total = 0.0
        for step in range(start, STEPS + 1):
            total = (0 if reset is not None and step == reset else total) + float(increments[step])
            lines.append(f"{name}{{{labels}}} {total:g} {t0 + step * STEP_S}")

    base = f"{prefix}service_graph_request"
    bounds = [*(f"{b:g}" for b in BUCKETS_S), "+Inf"]
    for edge in edges:
        shares = _instance_shares(edge)
        for number, instance in enumerate(edge.instances):
            reset = edge.reset_at if number == len(edge.instances) - 1 else None
            requests, failed, buckets = (shares[number] * x for x in (edge.requests, edge.failed, edge.buckets.T))
            labels = _labels(edge, instance)
            series(base, "counter", f"{base}_total", labels, requests, edge.first_step, reset)
            series(f"{base}_failed", "counter", f"{base}_failed_total", labels, failed, edge.first_step, reset)
            for side, present in (("server", edge.server_histogram), ("client", edge.client_histogram)):
                if not present:
                    continue
                family = f"{base}_{side}_seconds"
                cumulative = np.cumsum(buckets, axis=0)
                for le, counts in zip(bounds, cumulative, strict=True):
                    series(
                        family,
                        "histogram",
                        f"{family}_bucket",
                        _labels(edge, instance, le=le),
                        counts,
                        edge.first_step,
                        reset,
                    )
                series(family, "histogram", f"{family}_count", labels, requests, edge.first_step, reset)
                middles = np.array([*BUCKETS_S, 20.0])
                seconds = (buckets * middles[:, None]).sum(axis=0)
                series(family, "histogram", f"{family}_sum", labels, seconds, edge.first_step, reset)
    if span_metrics is not None:
        calls, histogram, unit_s, service_label = SPAN_METRICS[span_metrics]
        for edge in operations(edges):
            own = {service_label: edge.server, "span_name": f"POST /{edge.server}", "span_kind": "SPAN_KIND_SERVER"}
            labels = {**own, "job": "otel-collector"}
            for status, counts in (
                ("STATUS_CODE_ERROR", edge.failed),
                ("STATUS_CODE_UNSET", edge.requests - edge.failed),
            ):
                text = ",".join(f'{k}="{v}"' for k, v in {**labels, "status_code": status}.items())
                series(calls.removesuffix("_total"), "counter", calls, text, counts, edge.first_step, None)
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            cumulative = np.cumsum(edge.buckets.T, axis=0)
            for bound, counts in zip([*(f"{b / unit_s:g}" for b in BUCKETS_S), "+Inf"], cumulative, strict=True):
                series(
                    histogram, "histogram", f"{histogram}_bucket", f'{text},le="{bound}"', counts, edge.first_step, None
                )
            series(histogram, "histogram", f"{histogram}_count", text, edge.requests, edge.first_step, None)
    return "\n".join(line for header, lines in families.items() for line in (header, *lines)) + "\n"


def _instance_shares(edge: Edge) -> list[np.ndarray]:
    """Each collector instance counts a part (instance 0 the even steps' share, others the rest): masks per step."""
    if len(edge.instances) == 1:
        return [np.array(1)]
    even = (np.arange(STEPS + 1) % 2 == 0).astype(np.int64)
    return [even, 1 - even]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prometheus(directory: Path) -> Iterator[tuple[str, list[Edge]]]:
    """A real Prometheus on a free loopback port holding the connector's series of `system()` three times (with and
    without the `traces_` prefix, a day apart, and recently, for following live); killed by its pid afterwards."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        pytest.fail("these tests need Prometheus: apt-get install prometheus (.ci/run installs it)")
    edges = system(np.random.default_rng(7))
    text = (
        openmetrics(edges, T0, "traces_", span_metrics="connector")
        + openmetrics(edges, UNPREFIXED_T0, "", span_metrics="tempo")
        + openmetrics(edges, MIXED_T0, "traces_")
        + openmetrics(mixed_legacy(np.random.default_rng(8)), MIXED_T0, "")
        + openmetrics(edges, RECENT_T0, "traces_")
    )
    (directory / "series.om").write_text(_merge_families(text) + "# EOF\n")
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(directory / "series.om"), str(directory / "data")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    yield from run_prometheus(directory, "global:\n  scrape_interval: 15s\n", edges)


def run_prometheus(directory: Path, config: str, held, *flags: str) -> Iterator[tuple[str, object]]:
    """Prometheus with `config` on a free loopback port over `directory / "data"`: yields `(url, held)` once it is
    ready; killed afterwards."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("these tests need Prometheus: apt-get install prometheus (.ci/run installs it)")
    (directory / "prometheus.yml").write_text(config)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            *flags,
        ],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Prometheus did not start: {(directory / 'prometheus.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url, held
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def _merge_families(text: str) -> str:
    """OpenMetrics wants each family once: the two exports' lines of a family together."""
    families: dict[str, list[str]] = {}
    header = ""
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            header = line
            families.setdefault(header, [])
        else:
            families[header].append(line)
    return "\n".join(line for h, lines in families.items() for line in (h, *lines)) + "\n"


def expected_graph(edges: list[Edge], first: int, last: int) -> dict:
    """Edges of the steps first..last (their increments), as the report gives them."""
    out = {}
    for edge in edges:
        window = slice(first, last + 1)
        requests = int(edge.requests[window].sum())
        if requests == 0:
            continue
        via = next(iter(edge.extra.values()), None)
        out[(edge.client, edge.server)] = (edge.connection_type, requests, int(edge.failed[window].sum()), via)
    return out


EXEMPLARS = (  # (client, server, trace id, latency s, failed): what the scrape target attaches as exemplars
    ("frontend", "checkout", "4bf92f3577b34da6a3ce929d0e0e4736", 0.067, False),
    ("frontend", "checkout", "00f067aa0ba902b7a3ce929d0e0e4736", 1.7, True),
    ("checkout", "postgresql", "a3ce929d0e0e4736", 0.004, False),  # a 64-bit id, as Zipkin-era services send
)


def exemplar_metrics(time_s: float, calls: int) -> str:
    """OpenMetrics as the collector's servicegraph connector exposes it with exemplars (trace_id on histogram
    buckets and, for failed calls, on the failed-requests counter), the exemplars taken at `time_s`; each edge has
    made `calls` calls of its latency so far."""
    base = "traces_service_graph_request"
    requests, failed, histogram = [f"# TYPE {base} counter"], [f"# TYPE {base}_failed counter"], []
    histogram.append(f"# TYPE {base}_server_seconds histogram")
    for client, server, trace_id, latency_s, is_failed in EXEMPLARS:
        pair = f'client="{client}",server="{server}",trace="{trace_id[:6]}"'
        requests.append(f'{base}_total{{{pair}}} {calls} # {{trace_id="{trace_id}"}} 1 {time_s:.3f}')
        if is_failed:
            failed.append(f'{base}_failed_total{{{pair}}} {calls} # {{trace_id="{trace_id}"}} 1 {time_s:.3f}')
        bound = next(b for b in BUCKETS_S if b >= latency_s)
        for le in (*BUCKETS_S, "+Inf"):
            count = calls if le == "+Inf" or le >= latency_s else 0
            exemplar = f' # {{trace_id="{trace_id}"}} {latency_s} {time_s:.3f}' if le == bound else ""
            histogram.append(f'{base}_server_seconds_bucket{{{pair},le="{le}"}} {count}{exemplar}')
        histogram.append(f"{base}_server_seconds_count{{{pair}}} {calls}")
        histogram.append(f"{base}_server_seconds_sum{{{pair}}} {calls * latency_s:g}")
    return "\n".join([*requests, *failed, *histogram, "# EOF", ""])


class _MetricsTarget(http.server.BaseHTTPRequestHandler):
    exemplar_time_s: ClassVar[float] = 0.0

    def do_GET(self) -> None:
        calls = int(time.time() - self.exemplar_time_s) + 10  # a call a second: the graph has figures live
        body = exemplar_metrics(self.exemplar_time_s, calls).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def start_exemplar_prometheus(directory: Path) -> Iterator[tuple[str, float]]:
    """A Prometheus with exemplar storage scraping, every second, a target that exposes `EXEMPLARS`; yields once
    the exemplars are stored, with the time they are dated (5 s after the start: the series exist by then)."""
    exemplar_time_s = time.time() + 5
    port = free_port()
    # the target runs in its own process: a thread left in the test process would change what other tests see
    # (the parallel capture reader forks only a single-threaded process)
    target = subprocess.Popen(
        [sys.executable, "-m", "tests.sources.prometheus_series", str(port), repr(exemplar_time_s)],
        cwd=Path(__file__).resolve().parents[2],
    )
    config = (
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: otel-collector\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    try:
        for url, _ in run_prometheus(directory, config, None, "--enable-feature=exemplar-storage"):
            deadline = time.monotonic() + 30
            query = urllib.parse.urlencode(
                {
                    "query": "traces_service_graph_request_server_seconds_bucket",
                    "start": time.time() - 600,
                    "end": time.time() + 600,
                }
            )
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"{url}/api/v1/query_exemplars?{query}", timeout=5) as answer:
                    if len(json.loads(answer.read())["data"]) >= len(EXEMPLARS):
                        break
                time.sleep(0.5)
            else:
                pytest.fail("Prometheus stored no exemplars in 30 s")
            yield url, exemplar_time_s
    finally:
        target.kill()
        target.wait(10)


def serve_exemplar_metrics(port: int, exemplar_time_s: float) -> None:
    """The scrape target of `start_exemplar_prometheus` (run as this module's main)."""
    _MetricsTarget.exemplar_time_s = exemplar_time_s
    http.server.ThreadingHTTPServer(("127.0.0.1", port), _MetricsTarget).serve_forever()


if __name__ == "__main__":
    serve_exemplar_metrics(int(sys.argv[1]), float(sys.argv[2]))
