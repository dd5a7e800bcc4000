"""OTLP protobuf format sniffing: does a message parse (with upb) as a trace request holding spans?"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def looks_like_otlp_proto(data: bytes) -> bool:
    """True when `data` parses as an ExportTraceServiceRequest / TracesData holding at least one span."""
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return False
    return any(scope.spans for rs in request.resource_spans for scope in rs.scope_spans)
