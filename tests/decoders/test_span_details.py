"""A trace's attributes, events and resource read again from raw OTLP (JSON, protobuf-canonical JSON, protobuf)."""

from __future__ import annotations

from pathlib import Path

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.decoders.span_details import details_in_chunk, trace_id_forms
from flowviz.model.problems import Problems
from flowviz.sim.simulator import Simulator
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.raw_inputs import CaptureFiles, RawRing

S = 1_000_000_000


def first_trace(path: Path) -> tuple[int, int, list[int]]:
    batch = next(iter(CaptureReader(path, problems=Problems())))
    hi, lo = int(batch.trace_hi[0]), int(batch.trace_lo[0])
    mine = (batch.trace_hi == hi) & (batch.trace_lo == lo)
    return hi, lo, [int(s) for s in batch.span_id[mine]]


def test_otlp_json_attributes_resource_and_scope(captures_dir: Path) -> None:
    path = captures_dir / "otlp-json/opentelemetry-proto-example-trace.json"
    hi, lo, span_ids = first_trace(path)
    found = details_in_chunk(path.read_bytes(), hi, lo)
    assert set(found) == set(span_ids)
    detail = found[span_ids[0]]
    assert ("my.span.attr", "some value") in detail.attributes
    assert ("service.name", "my.service") in detail.resource
    assert detail.scope == "my.library 1.0.0"


def test_events_and_base64_ids(captures_dir: Path) -> None:
    path = captures_dir / "otlp-json/jaeger-integration-example-trace.json"
    hi, lo, span_ids = first_trace(path)
    found = CaptureFiles([str(path)]).span_details(hi, lo)
    assert set(found) == set(span_ids)
    assert any(detail.events for detail in found.values())
    time_ns, _name, _attributes = next(detail.events[0] for detail in found.values() if detail.events)
    assert time_ns > 0
    kiali = captures_dir / "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json"  # base64 ids, Tempo's batches
    hi, lo, span_ids = first_trace(kiali)
    found = CaptureFiles([str(kiali)]).span_details(hi, lo)
    assert set(found) == set(span_ids)
    assert all(dict(d.attributes).get("http.protocol") or d.attributes for d in found.values())


def test_protobuf_messages_in_the_ring_and_a_trace_not_there() -> None:
    simulator = Simulator(seed=4, rate_per_s=300)
    ring = RawRing(max_bytes=64 << 20)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    messages = simulator.generate(simulator.start_ns + 5 * S)
    ring.add(messages)
    decode_otlp_proto(messages, builder, problems, [""] * len(messages))
    batch = builder.build()
    hi, lo = int(batch.trace_hi[0]), int(batch.trace_lo[0])
    mine = (batch.trace_hi == hi) & (batch.trace_lo == lo)
    found = ring.span_details(hi, lo)
    assert set(found) == {int(s) for s in batch.span_id[mine]}
    server = [d for d in found.values() if "http.route" in dict(d.attributes)]
    assert server
    assert dict(server[0].resource)["service.name"] in set(batch.string_column("service"))
    assert ring.span_details(hi ^ 1, lo) == {}
    assert details_in_chunk(b"\x00" * 64, hi, lo) is None


def test_the_ring_forgets_the_oldest_messages() -> None:
    ring = RawRing(max_bytes=100)
    ring.add([b"a" * 60, b"b" * 60])
    hi, lo = 0, 0x61 * 0  # no trace: only the size bound is tested
    assert ring.span_details(hi, lo) == {}
    assert ring._bytes == 60
    assert trace_id_forms(1, 2)[0] == b"00000000000000010000000000000002"
