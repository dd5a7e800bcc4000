"""Namespaces from resource attributes (service.namespace, k8s.namespace.name) and Jaeger process tags, per decoder."""

from __future__ import annotations

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.jaeger_json import add_jaeger
from flowviz.decoders.otlp_json import add_otlp_json
from flowviz.decoders.otlp_json_fast import try_add_otlp_json_bytes
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems

TRACE = "5b8efff798038103d269b633813fc60c"
# service -> its resource's namespace attributes; the expected namespace follows the attributes' precedence
RESOURCES = {
    "cart": {"service.namespace": "shop"},
    "ledger": {"k8s.namespace.name": "finance"},
    "checkout": {"k8s.namespace.name": "k8s-shop", "service.namespace": "shop"},  # service.namespace wins
    "mailer": {},  # none: absent from the mapping
    "audit": {"service.namespace": ""},  # empty: as none
}
EXPECTED = {"cart": "shop", "ledger": "finance", "checkout": "shop"}


def otlp_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for index, (service, attributes) in enumerate(RESOURCES.items()):
        resource_spans = request.resource_spans.add()
        pairs = {"service.name": service, "host.name": "node-1", **attributes}
        resource_spans.resource.attributes.extend(
            KeyValue(key=key, value=AnyValue(string_value=value)) for key, value in pairs.items()
        )
        span = resource_spans.scope_spans.add().spans.add()
        span.trace_id = bytes.fromhex(TRACE)
        span.span_id = (index + 1).to_bytes(8, "big")
        span.name = "work"
        span.kind = 2
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + index
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    return request


def otlp_json_bytes() -> bytes:
    """The same request as OTLP/JSON writes it (hex ids, integer kinds, times as decimal strings)."""
    resources = []
    for index, (service, attributes) in enumerate(RESOURCES.items()):
        pairs = {"service.name": service, "host.name": "node-1", **attributes}
        start_ns = 1_700_000_000_000_000_000 + index
        span = {"traceId": TRACE, "spanId": f"{index + 1:016x}", "name": "work", "kind": 2,
                "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 1_000_000)}  # fmt: skip
        resources.append(
            {
                "resource": {"attributes": [{"key": k, "value": {"stringValue": v}} for k, v in pairs.items()]},
                "scopeSpans": [{"spans": [span]}],
            }
        )
    return orjson.dumps({"resourceSpans": resources})


def test_otlp_protobuf_names_each_services_namespace() -> None:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    assert decode_otlp_proto([otlp_request().SerializeToString()], builder, problems, ["m"]) == len(RESOURCES)
    batch = builder.build()
    assert dict(batch.service_namespaces) == EXPECTED
    assert builder.build().service_namespaces == ()  # emitted once, then the builder starts afresh


def test_otlp_json_fast_and_general_paths_name_the_same_namespaces() -> None:
    data = otlp_json_bytes()
    problems = Problems()
    fast = SpanBatchBuilder(problems)
    assert try_add_otlp_json_bytes(data, fast, "f") == len(RESOURCES)
    general = SpanBatchBuilder(problems)
    assert add_otlp_json(orjson.loads(data), general, problems, "f") == len(RESOURCES)
    assert dict(fast.build().service_namespaces) == EXPECTED
    assert dict(general.build().service_namespaces) == EXPECTED


def test_jaeger_process_tags_name_namespaces() -> None:
    processes = {
        f"p{index}": {
            "serviceName": service,
            "tags": [{"key": key, "type": "string", "value": value} for key, value in attributes.items()],
        }
        for index, (service, attributes) in enumerate(RESOURCES.items())
    }
    spans = [
        {"traceID": TRACE, "spanID": f"{index + 1:016x}", "operationName": "work", "processID": f"p{index}",
         "startTime": 1_700_000_000_000_000, "duration": 1000, "references": [], "tags": []}
        for index in range(len(RESOURCES))
    ]  # fmt: skip
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    assert (
        add_jaeger({"data": [{"traceID": TRACE, "spans": spans, "processes": processes}]}, builder, problems, "j") == 5
    )
    assert dict(builder.build().service_namespaces) == EXPECTED
