"""Encoders from synthetic spans to the capture formats flowviz reads (OTLP JSON/protobuf, Jaeger, Zipkin)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import orjson

from flowviz.bench.synthetic import SyntheticSpan


def _otlp_value(value: str | int) -> dict:
    return {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}


def otlp_json_request(spans: Iterable[SyntheticSpan]) -> dict:
    """One ExportTraceServiceRequest as OTLP/JSON (hex ids, integer enums, string nanoseconds)."""
    by_service: dict[str, list[SyntheticSpan]] = defaultdict(list)
    for span in spans:
        by_service[span.service].append(span)
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "service.version", "value": {"stringValue": "1.4.2"}},
                        {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}},
                        {"key": "host.name", "value": {"stringValue": f"{service}-7d9f8-abcde"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.flask", "version": "0.48b0"},
                        "spans": [
                            {
                                "traceId": s.trace_id,
                                "spanId": s.span_id,
                                "parentSpanId": s.parent_id,
                                "name": s.name,
                                "kind": s.kind,
                                "startTimeUnixNano": str(s.start_ns),
                                "endTimeUnixNano": str(s.end_ns),
                                "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in s.attributes.items()],
                                "status": {"code": 2, "message": "internal error"} if s.error else {},
                                "flags": 257,
                            }
                            for s in group
                        ],
                    }
                ],
            }
            for service, group in by_service.items()
        ]
    }


def otlp_json_lines(traces: Iterable[list[SyntheticSpan]], *, spans_per_request: int = 100) -> bytes:
    """JSON lines of requests, as the Collector's `file` exporter writes them."""
    lines, pending = [], []
    for trace in traces:
        pending.extend(trace)
        if len(pending) >= spans_per_request:
            lines.append(orjson.dumps(otlp_json_request(pending)))
            pending = []
    if pending:
        lines.append(orjson.dumps(otlp_json_request(pending)))
    return b"\n".join(lines) + b"\n"


def otlp_proto_request(spans: Iterable[SyntheticSpan]) -> bytes:
    """One serialized ExportTraceServiceRequest (protobuf)."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    document = otlp_json_request(spans)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    span[key] = _hex_to_b64(span[key])
    return ParseDict(document, ExportTraceServiceRequest()).SerializeToString()


def _hex_to_b64(value: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(value)).decode() if value else ""


def otlp_proto_frames(traces: Iterable[list[SyntheticSpan]], *, spans_per_request: int = 100) -> bytes:
    """The Collector `file` exporter's proto form: 4-byte big-endian length + request, repeated."""
    frames, pending = [], []
    for trace in traces:
        pending.extend(trace)
        if len(pending) >= spans_per_request:
            message = otlp_proto_request(pending)
            frames.append(len(message).to_bytes(4, "big") + message)
            pending = []
    if pending:
        message = otlp_proto_request(pending)
        frames.append(len(message).to_bytes(4, "big") + message)
    return b"".join(frames)


_JAEGER_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_ZIPKIN_KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


def _jaeger_tag(key: str, value: str | int | bool) -> dict:
    kind = "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "string"
    return {"key": key, "type": kind, "value": value}


def jaeger_json_document(traces: Iterable[list[SyntheticSpan]]) -> dict:
    """The Jaeger query API's `{"data": [trace, ...]}` (µs times, hex ids, span.kind tags)."""
    data = []
    for trace in traces:
        processes: dict[str, str] = {}
        spans = []
        for span in trace:
            process_id = processes.setdefault(span.service, f"p{len(processes) + 1}")
            tags = [_jaeger_tag(k, v) for k, v in span.attributes.items()]
            if span.kind in _JAEGER_KINDS:
                tags.append(_jaeger_tag("span.kind", _JAEGER_KINDS[span.kind]))
            if span.error:
                tags.append(_jaeger_tag("error", True))
            references = (
                [{"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_id}] if span.parent_id else []
            )
            spans.append(
                {
                    "traceID": span.trace_id,
                    "spanID": span.span_id,
                    "operationName": span.name,
                    "references": references,
                    "startTime": span.start_ns // 1000,
                    "duration": (span.end_ns - span.start_ns) // 1000,
                    "tags": tags,
                    "logs": [],
                    "processID": process_id,
                }
            )
        data.append(
            {
                "traceID": trace[0].trace_id,
                "spans": spans,
                "processes": {pid: {"serviceName": name, "tags": []} for name, pid in processes.items()},
            }
        )
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}


def zipkin_json_traces(traces: Iterable[list[SyntheticSpan]]) -> list[list[dict]]:
    """Zipkin v2 `/api/v2/traces` output: an array of traces, each an array of spans (µs times)."""
    out = []
    for trace in traces:
        spans = []
        for span in trace:
            tags = {k: str(v) for k, v in span.attributes.items()}
            if span.error:
                tags["error"] = "true"
            record = {
                "traceId": span.trace_id,
                "id": span.span_id,
                "name": span.name,
                "timestamp": span.start_ns // 1000,
                "duration": (span.end_ns - span.start_ns) // 1000,
                "localEndpoint": {"serviceName": span.service},
                "tags": tags,
            }
            if span.parent_id:
                record["parentId"] = span.parent_id
            if span.kind in _ZIPKIN_KINDS:
                record["kind"] = _ZIPKIN_KINDS[span.kind]
            spans.append(record)
        out.append(spans)
    return out
