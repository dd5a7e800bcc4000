"""The report: schema, windows that select the right calls, node figures, topology-only input, the text table."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flowviz.analysis.report import ReportWindow, build_report, default_window, format_report
from flowviz.model.problems import Problems
from flowviz.model.time_spec import format_time_ns, parse_time_ns
from flowviz.sources.pipeline import IngestPipeline, IngestTotals, load_captures
from flowviz.store.rolling_store import RollingStore

S = 1_000_000_000
T0 = 1_700_000_040 * S  # a whole second; the first call starts 1 s later
PER_MINUTE = [3, 5, 7, 0, 2]  # calls front -> back in minutes 0..4 of the capture
SERVER_MS = [10.0, 20.0, 40.0, 0.0, 80.0]  # the back end's duration in each minute
ERRORS_MINUTE = 1  # one failed call, in minute 1
KIALI = "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json"
SMALL_DEPS = "jaeger-dependencies/jaeger-ui-dependencygraph-small.json"


def _span(trace: int, span: int, parent: int, kind: int, start_ns: int, end_ns: int, error: bool = False) -> dict:
    return {
        "traceId": f"{trace:032x}",
        "spanId": f"{span:016x}",
        "parentSpanId": f"{parent:016x}" if parent else "",
        "name": "GET /items",
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "status": {"code": 2} if error else {},
    }


def _resource(service: str, spans: list[dict]) -> dict:
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}],
    }


def write_minutes_capture(path: Path) -> Path:
    """JSON lines, one request per minute: CLIENT front -> SERVER back calls at known times and durations."""
    lines = []
    trace = 0
    for minute, calls in enumerate(PER_MINUTE):
        clients, servers = [], []
        for i in range(calls):
            trace += 1
            start = T0 + (minute * 60 + 1 + 2 * i) * S
            server_ns = int(SERVER_MS[minute] * 1e6)
            error = minute == ERRORS_MINUTE and i == 0
            clients.append(_span(trace, 1, 0, 3, start, start + server_ns + 2_000_000, error))
            servers.append(_span(trace, 2, 1, 2, start + 1_000_000, start + 1_000_000 + server_ns, error))
        if calls:
            lines.append(orjson.dumps({"resourceSpans": [_resource("front", clients), _resource("back", servers)]}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _load(*paths: Path) -> tuple[RollingStore, IngestTotals, Problems]:
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures(paths, IngestPipeline(store, problems=problems))
    return store, totals, problems


def _window(totals: IngestTotals, start: str, end: str) -> ReportWindow:
    origin = totals.first_start_ns
    assert origin is not None
    return ReportWindow.snapped(parse_time_ns(start, origin_ns=origin), parse_time_ns(end, origin_ns=origin))


def _edge(report: dict, source: str, target: str) -> dict | None:
    found = [e for e in report["edges"] if (e["source"], e["target"]) == (source, target)]
    assert len(found) <= 1
    return found[0] if found else None


def test_schema_keys(tmp_path: Path) -> None:
    store, totals, problems = _load(write_minutes_capture(tmp_path / "minutes.jsonl"))
    report = build_report(store, default_window(store, totals), totals, problems)
    assert set(report) == {"window", "nodes", "edges", "problems", "input", "findings", "root_causes"}
    assert set(report["window"]) == {"start", "end", "seconds"}
    for node in report["nodes"]:
        assert set(node) == {"name", "kind", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"}
    for edge in report["edges"]:
        assert set(edge) == {
            "source",
            "target",
            "connection_type",
            "requests",
            "errors",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "via",
        }
    assert report["input"]["spans"] == 2 * sum(PER_MINUTE)
    assert report["input"]["files"] == {str(tmp_path / "minutes.jsonl"): "otlp_json"}
    assert orjson.loads(orjson.dumps(report)) == report  # plain JSON values only


def test_default_window_covers_the_capture(tmp_path: Path) -> None:
    store, totals, problems = _load(write_minutes_capture(tmp_path / "minutes.jsonl"))
    report = build_report(store, default_window(store, totals), totals, problems)
    edge = _edge(report, "front", "back")
    assert edge is not None
    assert (edge["requests"], edge["errors"], edge["connection_type"], edge["via"]) == (17, 1, "", None)
    assert report["edges"] == [edge]
    start = parse_time_ns(report["window"]["start"], origin_ns=0)
    end = parse_time_ns(report["window"]["end"], origin_ns=0)
    assert start <= T0 + S
    assert end > T0 + (4 * 60 + 3) * S
    assert report["window"]["seconds"] == (end - start) / S


@pytest.mark.parametrize(
    ("start", "end", "requests", "errors", "p50_ms"),
    [
        ("+0", "+60", 3, 0, SERVER_MS[0]),
        ("+60", "+120", 5, 1, SERVER_MS[1]),
        ("+1m", "+2m", 5, 1, SERVER_MS[1]),
        ("+120s", "+180s", 7, 0, SERVER_MS[2]),
        ("+60", "+180", 12, 1, None),
        ("+4m", "+5m", 2, 0, SERVER_MS[4]),
        (format_time_ns(T0 + 61 * S), format_time_ns(T0 + 181 * S), 12, 1, None),  # ISO
        ("2023-11-14T22:15:01Z", "2023-11-14T22:17:01", 12, 1, None),  # the same instants, with and without a zone
        ("+0", "+1h", 17, 1, None),
    ],
)
def test_windows_select_the_calls(
    tmp_path: Path, start: str, end: str, requests: int, errors: int, p50_ms: float | None
) -> None:
    assert format_time_ns(T0 + 61 * S) == "2023-11-14T22:15:01.000Z"
    store, totals, problems = _load(write_minutes_capture(tmp_path / "minutes.jsonl"))
    assert totals.first_start_ns == T0 + S
    report = build_report(store, _window(totals, start, end), totals, problems)
    edge = _edge(report, "front", "back")
    assert edge is not None
    assert (edge["requests"], edge["errors"]) == (requests, errors)
    if p50_ms is not None:
        assert edge["p50_ms"] == pytest.approx(p50_ms, rel=0.05)
        assert edge["p99_ms"] == pytest.approx(p50_ms, rel=0.05)
    (back,) = (n for n in report["nodes"] if n["name"] == "back")
    assert (back["requests"], back["errors"], back["kind"]) == (requests, errors, "service")


def test_an_empty_window(tmp_path: Path) -> None:
    store, totals, problems = _load(write_minutes_capture(tmp_path / "minutes.jsonl"))
    report = build_report(store, _window(totals, "+180", "+240"), totals, problems)
    assert report["edges"] == []
    assert report["nodes"] == []
    assert report["window"]["seconds"] == 60.0
    assert report["window"]["start"] == format_time_ns(T0 + 181 * S)


def test_window_snaps_outwards_to_whole_seconds() -> None:
    window = ReportWindow.snapped(T0 + 1_500_000_000, T0 + 3_200_000_000)
    assert (window.start_ns, window.end_ns) == (T0 + S, T0 + 4 * S)
    assert ReportWindow.snapped(T0, T0) == ReportWindow(T0, T0 + S)  # never empty


def test_node_figures_aggregate_incoming_edges(captures_dir: Path) -> None:
    store, totals, problems = _load(captures_dir / KIALI)
    report = build_report(store, default_window(store, totals), totals, problems)
    nodes = {n["name"]: n for n in report["nodes"]}
    assert set(nodes) == {
        "istio-ingressgateway.istio-system",
        "productpage.bookinfo",
        "details.bookinfo",
        "reviews.bookinfo",
        "ratings.bookinfo",
    }
    for edge in report["edges"]:
        target = nodes[edge["target"]]
        assert (target["requests"], target["p50_ms"]) == (edge["requests"], edge["p50_ms"])
    gateway = nodes["istio-ingressgateway.istio-system"]
    assert (gateway["requests"], gateway["p50_ms"], gateway["p95_ms"]) == (0, None, None)  # nothing calls it
    assert report["nodes"][-1] is gateway  # most requests first
    assert report["problems"] == {}


def test_topology_only_report(captures_dir: Path) -> None:
    store, totals, problems = _load(captures_dir / SMALL_DEPS)
    window = default_window(store, totals)
    assert window is None
    report = build_report(store, window, totals, problems)
    assert report["window"] == {"start": None, "end": None, "seconds": None}
    assert len(report["edges"]) == 7
    assert sum(e["requests"] for e in report["edges"]) == report["input"]["calls"] == 290225
    assert report["input"]["dependency_links"] == 7
    first = report["edges"][0]
    assert (first["source"], first["target"], first["requests"]) == ("Service2", "Service4", 129216)
    assert (first["p50_ms"], first["errors"], first["connection_type"]) == (None, 0, "")
    nodes = {n["name"]: n["requests"] for n in report["nodes"]}
    assert nodes["Service4"] == 129216
    assert nodes["Service1"] == 30489  # Service6 -> Service1
    assert nodes["Service8"] == 0
    text = format_report(report)
    assert "Window: whole capture (topology only, no times)" in text
    assert "Read 0 spans, 7 dependency links -> 290225 calls" in text


def test_format_report_table(captures_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    store, totals, problems = _load(captures_dir / KIALI, missing)
    problems.add("json: line is not valid JSON", "x.jsonl:3")
    report = build_report(store, default_window(store, totals), totals, problems)
    text = format_report(report)
    lines = text.splitlines()
    assert lines[0] == "Window: 2023-12-05T12:37:56.000Z .. 2023-12-05T12:37:57.000Z (1 s)"
    assert lines[1] == "Read 8 spans, 0 dependency links -> 4 calls"
    assert "Nodes (5)" in lines
    assert "Edges (4)" in lines
    row = next(line for line in lines if line.startswith("istio-ingressgateway.istio-system -> productpage.bookinfo"))
    assert row.split()[3:7] == ["direct", "1", "0", "11.5"]
    node_row = next(line for line in lines if line.startswith("ratings.bookinfo "))
    assert node_row.split()[1:4] == ["service", "1", "0"]
    gateway_row = next(line for line in lines if line.startswith("istio-ingressgateway.istio-system "))
    assert gateway_row.split()[1:] == ["service", "0", "0", "-", "-", "-"]
    header = next(line for line in lines if line.startswith("edge "))
    assert header.split() == ["edge", "type", "requests", "errors", "p50", "ms", "p95", "ms", "p99", "ms", "via"]
    assert "  1 × json: line is not valid JSON (first at x.jsonl:3)" in lines
    assert lines[-1] == f"Unreadable: {missing}: No such file or directory"


def test_format_report_shows_via_and_connection_type(captures_dir: Path) -> None:
    store, totals, problems = _load(captures_dir / "zipkin-v2/zipkin-lens-messaging-kafka.json")
    report = build_report(store, default_window(store, totals), totals, problems)
    edge = _edge(report, "servicea", "serviceb")
    assert edge is not None
    assert (edge["connection_type"], edge["via"], edge["requests"]) == ("messaging_system", "messages", 3)
    row = next(line for line in format_report(report).splitlines() if line.startswith("servicea -> serviceb "))
    assert row.split()[3:6] == ["messaging_system", "3", "0"]
    assert row.split()[-1] == "messages"
