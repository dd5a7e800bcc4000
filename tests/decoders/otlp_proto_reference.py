"""The oracle for the OTLP protobuf decoder: upb parses each request, Python walks it into builder rows.

`flowviz.decoders.otlp_proto` reads the wire format itself (vectorised, straight to columns);
the tests hold it to what this plain reading of the official classes gives, message by message.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowviz.decoders.attributes import ATTRIBUTE_CODES
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import RESOURCE_KEYS
from flowviz.model.problems import Problems


def scalar(any_value: object) -> object:
    """The value of an AnyValue's set member (None when none is set)."""
    which = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(any_value, which) if which else None


def add_otlp_proto(message: bytes, builder: SpanBatchBuilder, problems: Problems, where: str) -> int:
    """Append every span of one serialized request to `builder` as tuple rows; returns the number of spans added."""
    try:
        request = ExportTraceServiceRequest.FromString(message)
    except (DecodeError, RuntimeError, ValueError) as error:
        problems.add(f"otlp-proto: message does not parse ({type(error).__name__})", where)
        return 0
    rows_append = builder.rows.append
    attr_rows, attr_codes, attr_values = builder.attr_rows, builder.attr_codes, builder.attr_values
    codes_get = ATTRIBUTE_CODES.get
    first_row = row = len(builder.rows)
    for index, resource_spans in enumerate(request.resource_spans):
        service = ""
        resource_triples = []
        for pair in resource_spans.resource.attributes:
            if pair.key == "service.name":
                service = pair.value.string_value
            elif pair.key in RESOURCE_KEYS:
                resource_triples.append((ATTRIBUTE_CODES[pair.key], scalar(pair.value)))
        span_count = sum(len(scope.spans) for scope in resource_spans.scope_spans)
        if not service:
            problems.add(
                "otlp-proto: resource without service.name", f"{where} resourceSpans[{index}]", count=span_count
            )
            continue
        builder.marks.append((row, f"{where} resourceSpans[{index}]", 0))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for pair in span.attributes:
                    code = codes_get(pair.key)
                    if code is not None:
                        attr_rows.append(row)
                        attr_codes.append(code)
                        attr_values.append(scalar(pair.value))
                for code, value in resource_triples:
                    attr_rows.append(row)
                    attr_codes.append(code)
                    attr_values.append(value)
                if span.links:
                    links = builder.links
                    for link in span.links:
                        links["row"].append(row)
                        links["trace"].append(link.trace_id)
                        links["span"].append(link.span_id)
                rows_append(
                    (
                        span.trace_id,
                        span.span_id,
                        span.parent_span_id,
                        service,
                        span.name,
                        span.kind,
                        span.status.code,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        0,
                    )
                )
                row += 1
    return row - first_row
