"""Service-graph metrics from a real Prometheus (Debian's `prometheus`, filled with `promtool tsdb
create-blocks-from openmetrics`), series shaped as the Collector's servicegraph connector writes them:
the graph read back equals the graph the series encode."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import ssl
import threading
from typing import ClassVar

import numpy as np
import pytest

from flowviz.model.problems import Problems
from flowviz.model.time_spec import format_time_ns
from flowviz.sources.prometheus import (
    MAX_POINTS_PER_QUERY,
    PrometheusClient,
    PrometheusError,
    PrometheusReader,
    PrometheusSettings,
    find_graph_metrics,
    increases,
)
from tests.sources.prometheus_series import (
    BUCKETS_S,
    MIXED_T0,
    STEP_S,
    STEPS,
    T0,
    TLS_DIR,
    UNPREFIXED_T0,
    expected_graph,
    free_port,
    mixed_legacy,
    operations,
)


def report(url: str, start_s: int, end_s: int, *extra: str) -> dict:
    from flowviz.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            [
                "report",
                "--prometheus",
                url,
                "--from",
                format_time_ns(start_s * 1_000_000_000),
                "--to",
                format_time_ns(end_s * 1_000_000_000),
                "--json",
                *extra,
            ]
        )
    assert code == 0
    return json.loads(buffer.getvalue())


def report_text(url: str, start_s: int, end_s: int, *extra: str) -> str:
    from flowviz.cli import main

    buffer = io.StringIO()
    start, end = (format_time_ns(t * 1_000_000_000) for t in (start_s, end_s))
    with contextlib.redirect_stdout(buffer):
        assert main(["report", "--prometheus", url, "--from", start, "--to", end, *extra]) == 0
    return buffer.getvalue()


def _graph(report_json: dict) -> dict:
    return {
        (e["source"], e["target"]): (e["connection_type"], e["requests"], e["errors"], e["via"])
        for e in report_json["edges"]
    }


def test_report_reads_back_the_graph_the_series_encode(prometheus_server):
    url, edges = prometheus_server
    result = report(url, T0, T0 + STEPS * STEP_S)
    assert _graph(result) == expected_graph(edges, 1, STEPS)
    kinds = {n["name"]: n["kind"] for n in result["nodes"]}
    assert kinds["user"] == "user"
    assert kinds["postgresql"] == "database"
    assert kinds["payments-api"] == "external"
    assert kinds["checkout"] == kinds["shipping"] == "service"
    assert result["window"]["seconds"] == STEPS * STEP_S
    assert result["input"]["step_seconds"] == STEP_S  # the scrape interval, estimated from the samples
    assert result["input"]["metric"] == "traces_service_graph_request_total"


def test_latency_percentiles_fall_in_the_buckets_that_hold_them(prometheus_server):
    url, edges = prometheus_server
    result = report(url, T0, T0 + STEPS * STEP_S)
    reported = {(e["source"], e["target"]): e for e in result["edges"]}
    bounds = np.array([0.0, *BUCKETS_S, np.inf])
    for edge in edges:
        counts = edge.buckets[1:].sum(axis=0)
        for percentile, key in ((50, "p50_ms"), (95, "p95_ms")):
            rank = np.ceil(counts.sum() * percentile / 100)
            bucket = int(np.searchsorted(np.cumsum(counts), rank))
            low, high = bounds[bucket] * 1000, bounds[bucket + 1] * 1000
            value = reported[(edge.client, edge.server)][key]
            assert low * 0.9 <= value <= high * 1.1, (edge.client, edge.server, key, value, low, high)


def test_a_window_counts_only_its_steps_and_handles_resets_and_new_series(prometheus_server):
    url, edges = prometheus_server
    start, end = T0 + 10 * STEP_S, T0 + 30 * STEP_S  # holds the reset (step 23) and the new series (step 12)
    assert _graph(report(url, start, end)) == expected_graph(edges, 11, 30)


def test_names_without_the_traces_prefix_are_read_too(prometheus_server):
    url, edges = prometheus_server
    result = report(url, UNPREFIXED_T0, UNPREFIXED_T0 + STEPS * STEP_S)
    assert result["input"]["metric"] == "service_graph_request_total"  # only this family in that range
    assert _graph(result) == expected_graph(edges, 1, STEPS)


def test_a_range_without_graph_series_says_so(prometheus_server, capsys):
    from flowviz.cli import main

    url, _ = prometheus_server
    assert main(["report", "--prometheus", url, "--from", "2001-01-01T00:00:00Z", "--to", "2001-01-01T01:00:00Z"]) == 1
    assert "no traces_service_graph_request_total" in capsys.readouterr().err


def test_a_step_finer_than_the_data_gives_the_same_counts(prometheus_server):
    url, edges = prometheus_server
    settings = PrometheusSettings(url, step_s=5.0)
    reader = PrometheusReader(settings, problems=Problems())
    chunks = list(reader.read(T0, T0 + STEPS * STEP_S))
    assert sum(c.requests for c in chunks) == sum(int(e.requests[1:].sum()) for e in edges)
    assert sum(c.failed for c in chunks) == sum(int(e.failed[1:].sum()) for e in edges)


def test_unreachable_and_not_prometheus_are_errors_not_tracebacks(capsys):
    from flowviz.cli import main

    port = free_port()
    assert main(["report", "--prometheus", f"http://127.0.0.1:{port}", "--from=-1h"]) == 1
    assert "Connection refused" in capsys.readouterr().err
    assert main(["report", "--prometheus", "ftp://x", "--from=-1h"]) == 2
    assert main(["report", "--prometheus", "http://x", "--from", "+5m"]) == 2


def test_counter_increases_reset_and_new_series():
    result = [
        {"metric": {"a": "1"}, "values": [[100, "5"], [115, "9"], [130, "2"], [145, "4"]]},  # reset at 130
        {"metric": {"a": "2"}, "values": [[130, "3"], [145, "3"]]},  # appears at 130: counted from zero
    ]
    matrix = increases(result, 100, 145, 15)  # the samples in (100, 145], each in the step holding it
    assert matrix.increases.tolist() == [[0, 4, 2, 2], [0, 0, 3, 0]]
    assert matrix.starts_s.tolist() == [100, 105, 120, 135]  # the grid of 15 s, its first step clipped to 100
    assert matrix.covered_s == (100, 145)
    for step_s in (1, 7, 40, 60):  # the step only spreads the same increases over the timeline
        assert increases(result, 100, 145, step_s).increases.sum(axis=1).tolist() == [8, 3]
    between = increases(result, 107, 140, 60)  # edges between samples: the samples inside, and which they are
    assert between.increases.sum(axis=1).tolist() == [6, 3]
    assert between.starts_s.tolist() == [107, 120]
    assert between.covered_s == (100, 130)


@pytest.mark.parametrize("step", [None, "15s", "45s", "1m", "7m"])
def test_counts_are_the_windows_whatever_the_step(prometheus_server, step):
    url, edges = prometheus_server
    start, end = T0 + 10 * STEP_S, T0 + 30 * STEP_S  # not on a minute: holds the reset (23) and a new series (12)
    result = report(url, start, end, *(["--step", step] if step else []))
    assert _graph(result) == expected_graph(edges, 11, 30), step
    assert result["window"]["start"] == format_time_ns(start * 1_000_000_000)
    assert result["window"]["seconds"] == 20 * STEP_S
    assert "counts_cover" not in result["input"]  # the window's edges are samples: the counts are exactly its


def test_a_window_between_samples_counts_the_samples_inside_and_says_which(prometheus_server):
    url, edges = prometheus_server
    start, end = T0 + 10 * STEP_S + 7, T0 + 30 * STEP_S - 7
    result = report(url, start, end)
    assert _graph(result) == expected_graph(edges, 11, 29)  # the samples in (start, end]
    assert result["window"]["start"] == format_time_ns(start * 1_000_000_000)
    assert result["window"]["seconds"] == end - start
    assert result["input"]["counts_cover"] == {
        "start": format_time_ns((T0 + 10 * STEP_S) * 1_000_000_000),
        "end": format_time_ns((T0 + 29 * STEP_S) * 1_000_000_000),
    }
    text = report_text(url, start, end)
    assert f"Window: {format_time_ns(start * 1_000_000_000)} .. {format_time_ns(end * 1_000_000_000)}" in text
    assert f"between the samples at {format_time_ns((T0 + 10 * STEP_S) * 1_000_000_000)} and" in text


def test_a_step_finer_than_the_scrape_interval_is_raised_to_it_and_said_so(prometheus_server, capsys):
    url, edges = prometheus_server
    result = report(url, T0, T0 + STEPS * STEP_S, "--step", "5s")
    assert result["input"]["step_seconds"] == STEP_S
    assert result["input"]["step_note"] == "--step 5 s is finer than the scrape interval: raised to it (15 s)"
    assert _graph(result) == expected_graph(edges, 1, STEPS)
    text = report_text(url, T0, T0 + STEPS * STEP_S, "--step", "5s")
    assert "step 15 s (the scrape interval)\n--step 5 s is finer than the scrape interval" in text
    coarser = report_text(url, T0, T0 + STEPS * STEP_S, "--step", "1m")
    assert "step 60 s (the scrape interval is 15 s)" in coarser
    assert "(the scrape interval)" not in coarser
    assert "step 15 s (the scrape interval)" in report_text(url, T0, T0 + STEPS * STEP_S)


def test_both_families_in_one_range_are_read_and_their_edges_merged(prometheus_server):
    url, edges = prometheus_server
    legacy = mixed_legacy(np.random.default_rng(8))
    result = report(url, MIXED_T0, MIXED_T0 + STEPS * STEP_S)
    assert result["input"]["metric"] == "traces_service_graph_request_total + service_graph_request_total"
    expected = expected_graph(edges, 1, STEPS)
    for key, (kind, requests, failed, via) in expected_graph(legacy, 1, STEPS).items():
        old = expected.get(key, (kind, 0, 0, via))
        expected[key] = (kind, old[1] + requests, old[2] + failed, via)
    assert _graph(result) == expected
    both = [p for p in result["problems"] if "both traces_service_graph_* and service_graph_*" in p]
    assert len(both) == 1
    assert result["problems"][both[0]]["count"] == 1
    assert result["problems"][both[0]]["first"] == ["user -> frontend"]  # the edge both collectors export


# -- auth, tenants, TLS ------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in for Prometheus that keeps the request headers and answers with no names."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({name.lower(): value for name, value in self.headers.items()})
        body = json.dumps({"status": "success", "data": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def header_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_bearer_token_basic_auth_and_tenant_come_from_files(tmp_path, header_server):
    url = f"http://127.0.0.1:{header_server.server_address[1]}"
    (tmp_path / "token").write_text("s3cret-token\n")
    (tmp_path / "basic").write_text("alice:pa:ss\n")
    PrometheusClient(PrometheusSettings(url, bearer_token_file=str(tmp_path / "token"), tenant="team-a")).metric_names(
        ".*", 0, 1
    )
    PrometheusClient(PrometheusSettings(url, basic_auth_file=str(tmp_path / "basic"))).metric_names(".*", 0, 1)
    first, second = _Recorder.seen
    assert first["authorization"] == "Bearer s3cret-token"
    assert first["x-scope-orgid"] == "team-a"
    assert "x-scope-orgid" not in second
    assert second["authorization"] == "Basic YWxpY2U6cGE6c3M="  # alice:pa:ss
    (tmp_path / "bad").write_text("no colon")
    with pytest.raises(PrometheusError, match="USER:PASSWORD"):
        PrometheusClient(PrometheusSettings(url, basic_auth_file=str(tmp_path / "bad")))
    with pytest.raises(PrometheusError, match="no traces_service_graph_request_total"):
        find_graph_metrics(PrometheusClient(PrometheusSettings(url)), 0, 1)


def test_https_with_a_ca_file(header_server):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
    header_server.socket = context.wrap_socket(header_server.socket, server_side=True)
    url = f"https://127.0.0.1:{header_server.server_address[1]}"
    with pytest.raises(PrometheusError, match="CERTIFICATE_VERIFY_FAILED"):
        PrometheusClient(PrometheusSettings(url)).metric_names(".*", 0, 1)
    assert PrometheusClient(PrometheusSettings(url, ca_file=str(TLS_DIR / "cert.pem"))).metric_names(".*", 0, 1) == []


@pytest.mark.parametrize(("start", "shape"), [(T0, "connector"), (UNPREFIXED_T0, "tempo")])
def test_span_metrics_give_each_service_its_operations(prometheus_server, start, shape):
    url, edges = prometheus_server
    result = report(url, start, start + STEPS * STEP_S)
    found = {(o["service"], o["operation"], o["kind"]): o for o in result["operations"]}
    expected = {
        (e.server, f"POST /{e.server}", "server"): (int(e.requests[1:].sum()), int(e.failed[1:].sum()))
        for e in operations(edges)
    }
    assert {key: (o["requests"], o["errors"]) for key, o in found.items()} == expected, shape
    bounds_ms = np.array([0.0, *BUCKETS_S, np.inf]) * 1000
    for edge in operations(edges):
        counts = edge.buckets[1:].sum(axis=0)
        bucket = int(np.searchsorted(np.cumsum(counts), np.ceil(counts.sum() * 0.5)))
        p50 = found[(edge.server, f"POST /{edge.server}", "server")]["p50_ms"]
        assert bounds_ms[bucket] <= p50 <= bounds_ms[bucket + 1], (shape, edge.server, p50)


def test_without_span_metrics_the_report_has_no_operations(prometheus_server):
    from tests.sources.prometheus_series import RECENT_T0

    url, _ = prometheus_server
    assert "operations" not in report(url, RECENT_T0, RECENT_T0 + STEPS * STEP_S)


def test_reading_in_small_chunks_gives_the_same_counts(prometheus_server):
    url, edges = prometheus_server
    reader = PrometheusReader(PrometheusSettings(url), problems=Problems())
    reader.prepare(T0, T0 + STEPS * STEP_S)
    assert STEPS < reader.chunk_steps <= MAX_POINTS_PER_QUERY - 1  # few series: one answer holds the range
    reader.chunk_steps = 7  # boundaries at steps 7, 14, 21, 28, 35: across the new series (12) and the reset (23)
    chunks = list(reader.read(T0, T0 + STEPS * STEP_S))
    assert len(chunks) == 6
    assert sum(c.requests for c in chunks) == sum(int(e.requests[1:].sum()) for e in edges)
    assert sum(c.failed for c in chunks) == sum(int(e.failed[1:].sum()) for e in edges)


def _prometheus_command(capsys, command: str, url: str, *options: str) -> tuple[int, str]:
    from flowviz.cli import main

    times = ["--from=-1h"] + (["--to=now"] if command != "live" else [])
    code = main([command, "--prometheus", url, *times, *options])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "open", "live"])
@pytest.mark.parametrize("scheme", ["https", "http"])  # files named are checked whatever the scheme
def test_bad_tls_and_token_files_are_one_line_before_any_request(capsys, tmp_path, command, scheme):
    junk, empty = tmp_path / "junk.pem", tmp_path / "empty.txt"
    junk.write_text("junk\n")
    empty.write_text("\n")
    cert, other_key = str(TLS_DIR / "cert.pem"), str(TLS_DIR / "other_key.pem")
    cases = [
        (["--prometheus-ca", str(junk)], f"{junk}: not a CA bundle in PEM: [X509: NO_CERTIFICATE_OR_CRL_FOUND] "
         "no certificate or crl found"),
        (["--prometheus-ca", "/nope/ca.pem"], "/nope/ca.pem: No such file or directory"),
        (["--prometheus-cert", cert, "--prometheus-key", "/nope.key"], "/nope.key: No such file or directory"),
        (["--prometheus-cert", cert, "--prometheus-key", other_key],
         f"{other_key}: not the key of {cert}: [X509: KEY_VALUES_MISMATCH] key values mismatch"),
        (["--bearer-token-file", str(empty)], f"{empty}: empty (expected the bearer token)"),
    ]  # fmt: skip
    url = f"{scheme}://127.0.0.1:{free_port()}"  # nothing there: a request would fail differently
    for options, message in cases:
        code, err = _prometheus_command(capsys, command, url, *options)
        assert (code, err) == (2, f"flowviz {command}: {message}\n")


def test_a_bearer_token_over_lines_is_refused(tmp_path):
    (tmp_path / "token").write_text("first\nsecond\n")
    with pytest.raises(PrometheusError, match="on one line"):
        PrometheusClient(PrometheusSettings("http://x", bearer_token_file=str(tmp_path / "token")))
