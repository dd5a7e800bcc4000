"""Simple trace form decoder: call chains, explicit ids, times, hashed trace ids, bad input, sniffing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.simple_json import add_simple, looks_like_simple
from flowviz.model.problems import Problems
from flowviz.model.span_batch import PeerKind, SpanBatch, SpanKind, StatusCode

MS = 1_000_000  # ns per ms


def _decode(doc: object, where: str = "s.jsonl:3") -> tuple[SpanBatch, Problems, int]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    added = add_simple(doc, builder, problems, where)
    return builder.build(), problems, added


def test_spans_without_ids_form_a_call_chain() -> None:
    doc = {
        "traceId": "checkout-42",
        "startMs": 1_700_000_000_000,
        "spans": [
            {"service": "web", "durationMs": 30},
            {"service": "orders", "durationMs": 20.5},
            {"service": "db", "durationMs": 4, "startMs": 1_700_000_000_010.25},
            {"service": "cache"},
        ],
    }
    batch, problems, added = _decode(doc)
    assert added == len(batch) == 4
    assert not problems
    assert batch.string_column("service") == ["web", "orders", "db", "cache"]
    assert batch.span_id.tolist() == [1, 2, 3, 4]
    assert batch.parent_id.tolist() == [0, 1, 2, 3]
    start = 1_700_000_000_000 * MS
    assert batch.start_ns.tolist() == [start, start, start + 10_250_000, start + 10_250_000]
    assert batch.duration_ns.tolist() == [30 * MS, 20_500_000, 4 * MS, 0]
    assert set(batch.kind.tolist()) == {SpanKind.UNSPECIFIED}
    expected = hashlib.blake2b(b"checkout-42", digest_size=16).hexdigest()
    assert (int(batch.trace_hi[0]), int(batch.trace_lo[0])) == (int(expected[:16], 16), int(expected[16:], 16))


def test_explicit_ids_kind_error_name_and_peer() -> None:
    doc = {
        "traceId": "00000000000000000000000000abcdef",
        "spans": [
            {"service": "web", "spanId": "a1", "durationMs": 9, "kind": "SERVER", "name": "GET /"},
            {"service": "web", "spanId": "a2", "parentId": "a1", "kind": "client", "peer": "payments", "error": 1},
            {"service": "worker", "spanId": "a3", "parentId": None, "operation": "poll", "error": False},
            {"service": "worker", "spanId": "a4", "parentId": "a1", "startMs": 5, "kind": "weird"},
        ],
    }
    batch, problems, _ = _decode(doc)
    assert not problems
    assert batch.trace_lo.tolist() == [0xABCDEF] * 4  # a hex trace id is kept as is
    assert batch.span_id.tolist() == [0xA1, 0xA2, 0xA3, 0xA4]
    assert batch.parent_id.tolist() == [0, 0xA1, 0, 0xA1]
    assert batch.kind.tolist() == [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.UNSPECIFIED, SpanKind.UNSPECIFIED]
    assert batch.status.tolist() == [StatusCode.UNSET, StatusCode.ERROR, StatusCode.UNSET, StatusCode.UNSET]
    assert batch.string_column("name") == ["GET /", "", "poll", ""]
    assert (batch.string_column("peer")[1], batch.peer_kind[1]) == ("payments", PeerKind.SERVICE)
    assert batch.start_ns.tolist() == [0, 0, 0, 5 * MS]


def test_list_of_traces_never_merge_by_name() -> None:
    doc = [
        {"traceId": "order 1", "spans": [{"service": "a"}, {"service": "b"}]},
        {"traceId": "order 2", "spans": [{"service": "a"}, {"service": "b"}]},
        {"traceId": 42, "spans": [{"service": "c"}]},
    ]
    batch, problems, added = _decode(doc)
    assert added == 5
    assert not problems
    traces = list(zip(batch.trace_hi.tolist(), batch.trace_lo.tolist(), strict=True))
    assert traces[0] == traces[1] != traces[2] == traces[3]
    assert traces[4] == (0, 0x42)  # an int id reads like its decimal text


def test_bad_input_is_counted_with_location_and_the_rest_is_read() -> None:
    doc = [
        {
            "traceId": "t",
            "spans": [
                {"service": "a"},
                "b",
                {"service": None},
                {"service": "d", "durationMs": "long"},
                {"service": "e", "spanId": "f" * 40},
                {"service": "f", "parentId": {"x": 1}},
                {"service": "g", "startMs": -1},
                {"service": "h", "spanId": "zz"},
                {"service": "i", "parentId": None},
                {"service": "j"},
            ],
        },
        {"traceId": None, "spans": [{"service": "a"}]},
        {"traceId": "u", "spans": "a,b"},
        {"traceId": "v", "startMs": "now", "spans": [{"service": "a"}]},
        7,
    ]
    batch, problems, added = _decode(doc, where="bad.jsonl:9")
    assert batch.string_column("service") == ["a", "i", "j"]
    assert batch.parent_id.tolist() == [0, 0, 9]
    assert added == 4  # "zz" passes the cheap checks; the builder drops it and counts it
    assert problems.as_dict() == {
        "simple: durationMs is not a number in range": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 3"]},
        "simple: parentId is not an id": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 5"]},
        "simple: span is not an object": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 1"]},
        "simple: span without service": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 2"]},
        "simple: spanId is not an id": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 4"]},
        "simple: startMs is not a number in range": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 6"]},
        "simple: trace startMs is not a number in range": {"count": 1, "first": ["bad.jsonl:9:trace 3"]},
        "simple: trace is not an object": {"count": 1, "first": ["bad.jsonl:9:trace 4"]},
        "simple: trace without a spans list": {"count": 1, "first": ["bad.jsonl:9:trace 2"]},
        "simple: trace without traceId": {"count": 1, "first": ["bad.jsonl:9:trace 1"]},
        "span with an invalid trace or span id": {"count": 1, "first": ["bad.jsonl:9:trace 0 span 7"]},
    }
    _, problems, added = _decode("spans")
    assert added == 0
    assert problems.count("simple: document is not an object or list") == 1


def test_looks_like_simple(captures_dir: Path) -> None:
    doc = {"traceId": "t1", "spans": [{"service": "a", "durationMs": 3}]}
    assert looks_like_simple(doc)
    assert looks_like_simple([doc])
    for name in (
        "jaeger-json/jaeger-ui-genai-agent-trace.json",
        "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json",
        "zipkin-v2/zipkin-lens-yelp.json",
        "otlp-json/jaeger-integration-example-trace.json",
        "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
        "jaeger-dependencies/jaeger-ui-dependencygraph-small.json",
    ):
        assert not looks_like_simple(orjson.loads((captures_dir / name).read_bytes())), name
    for other in ({"traceId": "t1", "spans": []}, {"data": []}, [], None, {"traceID": "1", "spans": [{"service": 1}]}):
        assert not looks_like_simple(other)
