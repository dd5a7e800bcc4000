"""The service summary: the store's figures for callers and callees, operations, exemplars, the bottleneck share."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.analysis.report import default_window
from flowviz.analysis.service_report import format_service_summary, service_summary
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sim.simulator import Simulator
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.pipeline import IngestPipeline
from flowviz.store.exemplars import ExemplarStore
from flowviz.store.latency_bins import percentiles
from flowviz.store.rolling_store import RollingStore
from tests.derive.test_critical_path import SEED_TRACE  # one seed trace for both

S = 1_000_000_000
DEATHSTARBENCH = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"
KIALI = "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json"


def load(*paths: Path, per_kind: int = 5) -> tuple[RollingStore, ExemplarStore, IngestPipeline]:
    """Captures through the pipeline into the store, and the same span batches into an exemplar store."""
    problems = Problems()
    store, exemplars = RollingStore(problems=problems), ExemplarStore(per_kind=per_kind)
    pipeline = IngestPipeline(store, problems=problems)
    for path in paths:
        for item in CaptureReader(path, problems=problems):
            pipeline.feed(item)
            if isinstance(item, SpanBatch):
                exemplars.ingest(item)
    pipeline.finish()
    exemplars.flush()
    return store, exemplars, pipeline


def whole(store: RollingStore, pipeline: IngestPipeline) -> tuple[int, int]:
    window = default_window(store, pipeline.totals)
    assert window is not None
    return window.start_ns, window.end_ns


def test_schema(tmp_path: Path) -> None:
    (tmp_path / "seed.json").write_bytes(orjson.dumps(SEED_TRACE))
    store, exemplars, pipeline = load(tmp_path / "seed.json")
    summary = service_summary(store, exemplars, "payment", *whole(store, pipeline))
    assert set(summary) == {
        "name",
        "upstream",
        "downstream",
        "operations",
        "exemplars",
        "critical_path_share",
        "time_split",
        "operation_time_splits",
    }
    assert set(summary["time_split"]) == {"name", "traces", "self_ms", "waiting_ms", "self_share"}
    for entry in summary["upstream"] + summary["downstream"]:
        assert set(entry) == {"name", "requests", "errors", "p95_ms", "share", "via"}
    for operation in summary["operations"]:
        assert set(operation) == {"name", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"}
    for exemplar in summary["exemplars"]:
        assert set(exemplar) == {"trace_id", "duration_ms", "error"}
    assert orjson.loads(orjson.dumps(summary)) == summary  # plain JSON values only


def test_seed_example_payment_and_database_dominate(tmp_path: Path) -> None:
    """frontend 15 ms -> auth 10 ms -> payment 50 ms -> database 30 ms, each starting with its caller."""
    (tmp_path / "seed.json").write_bytes(orjson.dumps(SEED_TRACE))
    store, exemplars, pipeline = load(tmp_path / "seed.json")
    window = whole(store, pipeline)
    shares = {
        name: service_summary(store, exemplars, name, *window)["critical_path_share"]
        for name in ("frontend", "auth", "payment", "database")
    }
    assert shares == {"frontend": 0.0, "auth": 0.0, "payment": 0.4, "database": 0.6}
    payment = service_summary(store, exemplars, "payment", *window)
    assert payment["upstream"] == [
        {"name": "auth", "requests": 1, "errors": 0, "p95_ms": pytest.approx(50, rel=0.05), "share": 1.0, "via": None}
    ]
    assert [d["name"] for d in payment["downstream"]] == ["database"]
    assert [(o["name"], o["requests"]) for o in payment["operations"]] == [("", 1)]
    assert [(e["duration_ms"], e["error"]) for e in payment["exemplars"]] == [(50.0, False)]


def test_trace_ids_are_hex_as_in_the_capture(captures_dir: Path) -> None:
    """Jaeger's 64-bit ids as its 16 hex digits; OTLP protobuf-JSON's base64 128-bit ids as 32 hex digits."""
    text = (captures_dir / DEATHSTARBENCH).read_text()
    kiali_ids = {
        base64.b64decode(t).hex() for t in re.findall(r'"traceId": *"([^"]+)"', (captures_dir / KIALI).read_text())
    }
    for name, digits, in_capture in ((DEATHSTARBENCH, 16, text.__contains__), (KIALI, 32, kiali_ids.__contains__)):
        store, exemplars, pipeline = load(captures_dir / name)
        window = whole(store, pipeline)
        summaries = [service_summary(store, exemplars, service, *window) for service in exemplars.services()]
        listed = [exemplar["trace_id"] for summary in summaries for exemplar in summary["exemplars"]]
        assert listed
        for trace_id in listed:
            assert len(trace_id) == digits
            assert in_capture(trace_id)
            assert exemplars.trace(trace_id) is not None


def test_deathstarbench_every_trace_is_an_exemplar(captures_dir: Path) -> None:
    store, exemplars, pipeline = load(captures_dir / DEATHSTARBENCH, per_kind=20)
    window = whole(store, pipeline)
    summary = service_summary(store, exemplars, "compose-post-service", *window, limit=20)
    assert len(summary["exemplars"]) == 20
    durations = [e["duration_ms"] for e in summary["exemplars"]][:5]
    assert durations == sorted(durations, reverse=True)  # the slowest first
    assert summary["operations"][0]["requests"] == summary["upstream"][0]["requests"] == 20
    assert 0 < summary["critical_path_share"] < 1


@pytest.fixture(scope="module")
def simulated() -> tuple[RollingStore, ExemplarStore, int, int]:
    """Two simulated minutes at 500 spans/s through the pipeline and an exemplar store, batch by batch."""
    simulator = Simulator(seed=2, rate_per_s=500)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    store, exemplars = RollingStore(problems=problems), ExemplarStore()
    pipeline = IngestPipeline(store, problems=problems)
    for second in range(1, 121):
        messages = simulator.generate(simulator.start_ns + second * S)
        decode_otlp_proto(messages, builder, problems, [""] * len(messages))
        batch = builder.build()
        pipeline.feed(batch)
        exemplars.ingest(batch)
    pipeline.finish()
    exemplars.flush()
    return store, exemplars, simulator.start_ns + 10 * S, simulator.start_ns + 100 * S


def test_panel_figures_equal_store_queries(simulated) -> None:
    store, exemplars, start_ns, end_ns = simulated
    frame = store.query(start_ns, end_ns)
    services = exemplars.services()
    assert len(services) > 10
    for name in services:
        summary = service_summary(store, exemplars, name, start_ns, end_ns, frame=frame)
        node = frame.node_names.index(name)
        for key, own, other in (
            ("upstream", frame.edge_target, frame.edge_source),
            ("downstream", frame.edge_source, frame.edge_target),
        ):
            edges = np.flatnonzero((own == node) & (frame.edge_requests > 0))
            expected = sorted(
                (
                    frame.node_names[other[e]],
                    int(frame.edge_requests[e]),
                    int(frame.edge_errors[e]),
                    None if np.isnan(frame.edge_p95_ms[e]) else round(float(frame.edge_p95_ms[e]), 3),
                )
                for e in edges
            )
            assert sorted((n["name"], n["requests"], n["errors"], n["p95_ms"]) for n in summary[key]) == expected
            if summary[key]:
                assert sum(n["share"] for n in summary[key]) == pytest.approx(1.0, abs=1e-3)
        # every call into the service is one of its operations, with the same failures and latencies
        operations = summary["operations"]
        assert sum(o["requests"] for o in operations) == frame.node_requests[node]
        assert sum(o["errors"] for o in operations) == frame.node_errors[node]
        histogram = exemplars.latency_histogram(name, start_ns, end_ns)
        assert percentiles(histogram[None, :])[0, 1] == pytest.approx(frame.node_p95_ms[node])
        assert summary["exemplars"]
        assert all(start_ns <= exemplars.trace(e["trace_id"]).start_ns.max() for e in summary["exemplars"])
        assert 0.0 <= summary["critical_path_share"] <= 1.0


def test_exemplars_stay_in_the_window(simulated) -> None:
    store, exemplars, start_ns, end_ns = simulated
    for kind in ("slowest", "failing", "recent"):
        for exemplar in exemplars.exemplars("api-gateway", start_ns, start_ns + 30 * S, kind=kind, limit=50):
            assert start_ns <= exemplar.start_ns < start_ns + 30 * S
    slowest = exemplars.exemplars("api-gateway", start_ns, end_ns, kind="slowest", limit=5)
    summary = service_summary(store, exemplars, "api-gateway", start_ns, end_ns)
    assert [e["trace_id"] for e in summary["exemplars"][:5]] == [e.trace_id for e in slowest]


def test_unknown_service_and_text(simulated) -> None:
    store, exemplars, start_ns, end_ns = simulated
    with pytest.raises(KeyError):
        service_summary(store, exemplars, "no-such-service", start_ns, end_ns)
    summary = service_summary(store, None, "orders", start_ns, end_ns)  # the store alone: no exemplars
    assert summary["upstream"]
    assert (summary["operations"], summary["exemplars"], summary["critical_path_share"]) == ([], [], None)
    text = format_service_summary(service_summary(store, exemplars, "orders", start_ns, end_ns))
    assert text.startswith("Service orders")
    assert "critical-path share" in text
    assert "exemplar traces:" in text
