"""The ingest pipeline: captures -> deriver -> store, totals per file, the edges of real captures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind
from flowviz.sources.capture_file import CaptureReader, DependencyLinks
from flowviz.sources.pipeline import IngestPipeline, dependency_observations, load_captures
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.rolling_store import RollingStore

KIALI = "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json"
DSB = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"
KAFKA = "zipkin-v2/zipkin-lens-messaging-kafka.json"
ENVOY = "zipkin-v2/zipkin-lens-envoy.json"
SMALL_DEPS = "jaeger-dependencies/jaeger-ui-dependencygraph-small.json"
EVERYTHING = (-(2**62), 2**62)


def _load(*paths: Path, format_name: str = "auto") -> tuple[RollingStore, IngestPipeline, Problems]:
    problems = Problems()
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    load_captures(paths, pipeline, format_name=format_name)
    return store, pipeline, problems


def _edges(frame: GraphFrame) -> dict[tuple[str, str], dict[str, object]]:
    names = frame.node_names
    out = {}
    for e in np.flatnonzero(frame.edge_requests > 0).tolist():
        out[(names[frame.edge_source[e]], names[frame.edge_target[e]])] = {
            "requests": int(frame.edge_requests[e]),
            "errors": int(frame.edge_errors[e]),
            "type": ConnectionType(int(frame.edge_connection_type[e])),
            "via": frame.edge_via[e],
            "p50_ms": float(frame.edge_p50_ms[e]),
        }
    return out


def _batch(path: Path) -> SpanBatch:
    return SpanBatch.concat(list(CaptureReader(path, problems=Problems())))  # type: ignore[arg-type]


def test_istio_bookinfo_via_kiali(captures_dir: Path) -> None:
    store, pipeline, _ = _load(captures_dir / KIALI)
    edges = _edges(store.query(*EVERYTHING))
    assert set(edges) == {
        ("istio-ingressgateway.istio-system", "productpage.bookinfo"),
        ("productpage.bookinfo", "details.bookinfo"),
        ("productpage.bookinfo", "reviews.bookinfo"),
        ("reviews.bookinfo", "ratings.bookinfo"),
    }
    assert {e["requests"] for e in edges.values()} == {1}
    assert {e["errors"] for e in edges.values()} == {0}
    assert {e["type"] for e in edges.values()} == {ConnectionType.DIRECT}
    # latency is the server span's duration
    batch = _batch(captures_dir / KIALI)
    servers = batch.kind == SpanKind.SERVER
    server_ms = dict(
        zip(
            [s for s, k in zip(batch.string_column("service"), servers.tolist(), strict=True) if k],
            (batch.duration_ns[servers] / 1e6).tolist(),
            strict=True,
        )
    )
    for (_, target), edge in edges.items():
        assert edge["p50_ms"] == pytest.approx(server_ms[target], rel=0.05)
    assert server_ms["productpage.bookinfo"] == pytest.approx(11.439)
    totals = pipeline.totals
    assert (totals.spans, totals.calls, totals.dependency_links) == (8, 4, 0)
    assert totals.formats == {str(captures_dir / KIALI): "otlp_json"}
    assert totals.first_start_ns == int(batch.start_ns.min()) == 1701779876570888000
    assert totals.last_start_ns == int(batch.start_ns.max())


def test_deathstarbench_social_network(captures_dir: Path) -> None:
    store, pipeline, _ = _load(captures_dir / DSB)
    edges = _edges(store.query(*EVERYTHING))
    compose = "compose-post-service"
    expected = {
        ("user", "nginx-web-server"),
        ("nginx-web-server", compose),
        *(
            (compose, target)
            for target in (
                "text-service",
                "user-service",
                "unique-id-service",
                "media-service",
                "post-storage-service",
                "user-timeline-service",
                "home-timeline-service",
            )
        ),
        ("text-service", "url-shorten-service"),
        ("text-service", "user-mention-service"),
        ("home-timeline-service", "social-graph-service"),
    }
    assert set(edges) == expected
    assert len(edges) == 12
    assert {e["requests"] for e in edges.values()} == {20}
    assert {e["errors"] for e in edges.values()} == {0}
    assert pipeline.totals.spans == 660
    assert pipeline.totals.calls == 240


def test_zipkin_kafka_messaging(captures_dir: Path) -> None:
    store, _, _ = _load(captures_dir / KAFKA)
    frame = store.query(*EVERYTHING)
    edges = _edges(frame)
    edge = edges[("servicea", "serviceb")]
    assert edge["type"] == ConnectionType.MESSAGING_SYSTEM
    assert edge["via"] == "messages"
    assert edge["requests"] == 3
    kinds = dict(zip(frame.node_names, frame.node_kind.tolist(), strict=True))
    assert kinds["servicea"] == kinds["serviceb"] == NodeKind.SERVICE


def test_dependency_links_are_topology(captures_dir: Path) -> None:
    store, pipeline, _ = _load(captures_dir / SMALL_DEPS)
    edges = _edges(store.query(*EVERYTHING))
    assert len(edges) == 7
    assert edges[("Service1", "Service2")]["requests"] == 30489
    assert edges[("Service2", "Service4")]["requests"] == 129216
    assert np.isnan(edges[("Service1", "Service2")]["p50_ms"])  # no latency behind a link
    totals = pipeline.totals
    assert (totals.spans, totals.dependency_links, totals.calls) == (0, 7, 290225)
    assert totals.first_start_ns is None
    assert totals.usable


def test_dependency_observations() -> None:
    observations = dependency_observations(DependencyLinks([("a", "b", 3), ("a", "b", 4), ("b", "c", 5)]))
    assert len(observations) == 3
    names = observations.names
    assert [(names[s], names[t]) for s, t in zip(observations.source, observations.target, strict=True)] == [
        ("a", "b"),
        ("a", "b"),
        ("b", "c"),
    ]
    assert observations.count.tolist() == [3, 4, 5]
    assert observations.time_ns.tolist() == [0, 0, 0]
    assert observations.latency_ns.tolist() == [-1, -1, -1]
    assert not observations.failed.any()


def test_repeated_links_are_summed(tmp_path: Path) -> None:
    path = tmp_path / "deps.json"
    links = [
        {"parent": "a", "child": "b", "callCount": 3},
        {"parent": "a", "child": "b", "callCount": 4},
        {"parent": "b", "child": "c", "callCount": 5},
    ]
    path.write_bytes(orjson.dumps({"data": links}))
    store, pipeline, _ = _load(path)
    frame = store.query(*EVERYTHING)
    assert {k: v["requests"] for k, v in _edges(frame).items()} == {("a", "b"): 7, ("b", "c"): 5}
    incoming = dict(zip(frame.node_names, frame.node_requests.tolist(), strict=True))
    assert (incoming["a"], incoming["b"], incoming["c"]) == (0, 7, 5)
    assert pipeline.totals.calls == 12


def test_an_unreadable_file_is_recorded_and_the_rest_read(captures_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a trace\nat all\n")
    store, pipeline, _ = _load(text, captures_dir / KIALI, tmp_path / "missing.json")
    totals = pipeline.totals
    assert totals.spans == 8
    assert set(totals.failed_files) == {str(text), str(tmp_path / "missing.json")}
    assert "not a trace file (tried" in totals.failed_files[str(text)]
    assert totals.formats == {str(captures_dir / KIALI): "otlp_json"}
    assert len(_edges(store.query(*EVERYTHING))) == 4


def test_nothing_usable(tmp_path: Path) -> None:
    capture = tmp_path / "anonymous.json"
    capture.write_bytes(orjson.dumps([{"traceId": "0a", "id": "0a", "timestamp": 1, "duration": 1}]))
    _, pipeline, problems = _load(capture)
    assert not pipeline.totals.usable
    assert pipeline.totals.formats == {str(capture): "zipkin_json"}
    assert problems.count("zipkin: span without localEndpoint serviceName or address") == 1


def test_envoy_span_named_by_its_address_gives_an_edge(captures_dir: Path) -> None:
    # Envoy's span names no service and says it shares its id with a client nobody recorded
    store, pipeline, problems = _load(captures_dir / ENVOY)
    assert pipeline.totals.usable
    edges = _edges(store.query(*EVERYTHING))
    assert list(edges) == [("user", "169.254.65.45")]
    assert problems.total == 0


def test_several_captures_add_up(captures_dir: Path) -> None:
    store, pipeline, _ = _load(captures_dir / KIALI, captures_dir / DSB, captures_dir / SMALL_DEPS)
    edges = _edges(store.query(*EVERYTHING))
    assert len(edges) == 4 + 12 + 7
    assert edges[("productpage.bookinfo", "details.bookinfo")]["requests"] == 1
    assert edges[("text-service", "url-shorten-service")]["requests"] == 20
    assert edges[("Service1", "Service2")]["requests"] == 30489
    totals = pipeline.totals
    assert (totals.spans, totals.dependency_links, totals.calls) == (668, 7, 4 + 240 + 290225)
    assert len(totals.formats) == 3


def test_forced_format_reaches_the_reader(captures_dir: Path) -> None:
    _, pipeline, problems = _load(captures_dir / KIALI, format_name="zipkin_json")
    assert pipeline.totals.formats == {str(captures_dir / KIALI): "zipkin_json"}
    assert pipeline.totals.spans == 0
    assert problems.count("zipkin: document is not a list of spans") == 1


def test_feed_ignores_empty_batches() -> None:
    problems = Problems()
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems)
    pipeline.feed(SpanBatch.empty())
    pipeline.finish()
    assert (pipeline.totals.spans, pipeline.totals.calls, pipeline.totals.first_start_ns) == (0, 0, None)


def _namespaced_capture(path: Path) -> Path:
    """OTLP/JSON lines: web -> cart -> ledger, resources naming namespaces (web's in a later request only)."""
    namespaces = {"cart": {"service.namespace": "shop"}, "ledger": {"k8s.namespace.name": "finance"}}
    lines = []
    for trace in range(3):
        trace_id = f"{trace + 1:032x}"
        for depth, service in enumerate(("web", "cart", "ledger")):
            attributes = {"service.name": service, **namespaces.get(service, {})}
            if service == "web" and trace == 2:
                attributes["service.namespace"] = "edge"
            start_ns = 1_700_000_000_000_000_000 + trace * 1_000_000_000 + depth * 1_000
            span = {"traceId": trace_id, "spanId": f"{trace * 10 + depth + 1:016x}", "name": "op",
                    "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 500_000)}  # fmt: skip
            if depth:
                span["parentSpanId"] = f"{trace * 10 + depth:016x}"
            resource = {"attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]}
            lines.append(orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_resource_namespaces_reach_the_store(tmp_path: Path) -> None:
    store, _, _ = _load(_namespaced_capture(tmp_path / "ns.jsonl"))
    assert dict(store.service_namespaces()) == {"cart": "shop", "ledger": "finance", "web": "edge"}
    edges = _edges(store.query(*EVERYTHING))
    assert {("web", "cart"), ("cart", "ledger")} <= set(edges)
