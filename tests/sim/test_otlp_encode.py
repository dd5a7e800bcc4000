"""The hand-written OTLP writer against the official protobuf classes, and its JSON form against the protobuf form."""

from __future__ import annotations

import base64

import numpy as np
import orjson
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from flowviz.model.span_batch import SpanKind, StatusCode
from flowviz.sim.otlp_encode import (
    SpanShape,
    any_value,
    encode_span,
    request_json,
    request_message,
    resource_message,
    scope_message,
    varint,
)

ATTRIBUTES = {
    "http.request.method": "POST",
    "unicode": "Zürich → 東京",
    "empty": "",
    "http.response.status_code": 503,
    "negative": -42,
    "int64.max": 2**63 - 1,
    "int64.min": -(2**63),
    "ratio": 0.125,
    "pi": 3.141592653589793,
    "cache.hit": True,
    "retried": False,
    "raw": b"\x00\xff\x10",
    "list": ["a", 1, 2.5, True],
    "nested": {"k": "v", "n": 7, "inner": ["x"]},
}


def _scalar(value: AnyValue) -> object:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_scalar(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _scalar(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _random_rows(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    start = rng.integers(1, 2**62, count, dtype=np.int64)
    return {
        "trace_ids": rng.integers(0, 256, (count, 16), dtype=np.uint8),
        "span_ids": rng.integers(1, 2**64 - 1, count, dtype=np.uint64, endpoint=True),
        "parent_ids": rng.integers(1, 2**64 - 1, count, dtype=np.uint64, endpoint=True),
        "start_ns": start,
        "end_ns": start + rng.integers(0, 2**40, count, dtype=np.int64),
        "link_trace_ids": rng.integers(0, 256, (count, 16), dtype=np.uint8),
        "link_span_ids": rng.integers(1, 2**64 - 1, count, dtype=np.uint64, endpoint=True),
    }


def _request(shape_rows: list[tuple[bytes, list[tuple[bytes, bytes]]]]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(request_message(shape_rows))


def test_varint_and_scalars_match_protobuf() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1, -1, -(2**63)):
        assert AnyValue.FromString(any_value(value)).int_value == value
    assert varint(300) == b"\xac\x02"
    for value in ("", "é", 0.0, -1.5e300, True, False, b""):
        parsed = AnyValue.FromString(any_value(value))
        assert _scalar(parsed) == value


def test_span_rows_round_trip_through_the_official_classes() -> None:
    rng = np.random.default_rng(1)
    shape = SpanShape(
        name="POST /payments/authorize",
        kind=SpanKind.CONSUMER,
        attributes=ATTRIBUTES,
        has_parent=True,
        has_link=True,
        status_code=StatusCode.ERROR,
        status_message="deadline exceeded",
        flags=0x301,
        link_flags=0x301,
    )
    rows = _random_rows(rng, 50)
    encoded = shape.encode(**rows)
    assert encoded.shape == (50, shape.row_bytes)
    request = _request(
        [(resource_message({"service.name": "payments"}), [(scope_message("s", "1"), encoded.tobytes())])]
    )
    (resource_spans,) = request.resource_spans
    assert resource_spans.resource.attributes[0].value.string_value == "payments"
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("s", "1")
    assert len(scope_spans.spans) == 50
    for i, span in enumerate(scope_spans.spans):
        assert span.trace_id == rows["trace_ids"][i].tobytes()
        assert span.span_id == int(rows["span_ids"][i]).to_bytes(8, "big")
        assert span.parent_span_id == int(rows["parent_ids"][i]).to_bytes(8, "big")
        assert span.name == "POST /payments/authorize"
        assert span.kind == SpanKind.CONSUMER
        assert span.start_time_unix_nano == rows["start_ns"][i]
        assert span.end_time_unix_nano == rows["end_ns"][i]
        assert {kv.key: _scalar(kv.value) for kv in span.attributes} == ATTRIBUTES
        assert [kv.key for kv in span.attributes] == list(ATTRIBUTES)
        (link,) = span.links
        assert link.trace_id == rows["link_trace_ids"][i].tobytes()
        assert link.span_id == int(rows["link_span_ids"][i]).to_bytes(8, "big")
        assert link.flags == 0x301
        assert (span.status.code, span.status.message) == (StatusCode.ERROR, "deadline exceeded")
        assert span.flags == 0x301
        assert not span.events
        assert not span.trace_state


def test_minimal_shape_leaves_every_optional_field_at_its_default() -> None:
    shape = SpanShape(name="", kind=SpanKind.UNSPECIFIED, attributes={}, has_parent=False)
    rows = _random_rows(np.random.default_rng(2), 3)
    del rows["parent_ids"], rows["link_trace_ids"], rows["link_span_ids"]
    request = _request([(resource_message({"service.name": "a"}), [(b"", shape.encode(**rows).tobytes())])])
    for i, span in enumerate(request.resource_spans[0].scope_spans[0].spans):
        assert span.span_id == int(rows["span_ids"][i]).to_bytes(8, "big")
        assert span.parent_span_id == b""
        assert (span.name, span.kind, span.flags, len(span.attributes), len(span.links)) == ("", 0, 0, 0, 0)
        assert not span.HasField("status")


def test_request_with_several_resources_and_scopes() -> None:
    span = encode_span(
        trace_id=bytes(range(16)),
        span_id=b"\x01" * 8,
        parent_id=b"\x02" * 8,
        name="GET",
        kind=SpanKind.CLIENT,
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_000_005_000_000,
        attributes={"db.system": "redis"},
    )
    request = _request(
        [
            (resource_message({"service.name": "cart", "k8s.pod.name": "cart-1"}), [(scope_message("a"), span * 2)]),
            (resource_message({"service.name": "auth"}), [(scope_message("b"), span), (scope_message("c"), span * 3)]),
        ]
    )
    shapes = [[(s.scope.name, len(s.spans)) for s in rs.scope_spans] for rs in request.resource_spans]
    assert shapes == [[("a", 2)], [("b", 1), ("c", 3)]]
    assert request.resource_spans[0].resource.attributes[1].value.string_value == "cart-1"
    assert request.resource_spans[1].scope_spans[1].spans[2].end_time_unix_nano == 1_700_000_000_005_000_000


def _hex_ids_to_base64(document: dict) -> dict:
    """OTLP/JSON (hex ids) -> protobuf canonical JSON (base64 bytes) so the official parser reads it."""

    def b64(value: str) -> str:
        return base64.b64encode(bytes.fromhex(value)).decode()

    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = b64(span[key])
                for link in span.get("links", []):
                    link["traceId"], link["spanId"] = b64(link["traceId"]), b64(link["spanId"])
    return document


@pytest.mark.parametrize(("has_parent", "has_link"), [(True, False), (False, True), (False, False)])
def test_json_form_is_the_same_request(has_parent: bool, has_link: bool) -> None:
    shape = SpanShape(
        name='quote "%s" 100%',
        kind=SpanKind.SERVER,
        attributes=ATTRIBUTES,
        has_parent=has_parent,
        has_link=has_link,
        status_code=StatusCode.ERROR if has_link else StatusCode.UNSET,
        status_message="boom" if has_link else "",
        flags=0x101,
        link_flags=0x301,
    )
    rows = _random_rows(np.random.default_rng(3), 20)
    if not has_parent:
        del rows["parent_ids"]
    if not has_link:
        del rows["link_trace_ids"], rows["link_span_ids"]
    resource = {"service.name": "svc", "n": 3}
    proto = request_message(
        [(resource_message(resource), [(scope_message("sc", "1.0"), shape.encode(**rows).tobytes())])]
    )
    json = request_json(
        [
            (
                orjson.dumps(
                    {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "svc"}},
                            {"key": "n", "value": {"intValue": "3"}},
                        ]
                    }
                ),
                [(orjson.dumps({"name": "sc", "version": "1.0"}), shape.encode_json(**rows))],
            )
        ]
    )
    document = orjson.loads(json)
    assert document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == rows["trace_ids"][0].tobytes().hex()
    parsed = ParseDict(_hex_ids_to_base64(document), ExportTraceServiceRequest())
    assert parsed == ExportTraceServiceRequest.FromString(proto)
