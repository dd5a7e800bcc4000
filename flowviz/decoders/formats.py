"""The one table of trace formats: each format's name, how a document is recognised and how it is decoded.

The capture-file reader, the Kafka message decoder and the command line all consult it: adding a
format is one decoder module plus one row here. JSON formats are tried in table order (the first
whose `looks_like` accepts a document decodes it); OTLP protobuf is binary and recognised apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowviz.decoders import jaeger_deps, jaeger_json, otlp_json, simple_json, zipkin_json
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json_fast import try_add_otlp_json_bytes
from flowviz.model.problems import Problems

AUTO = "auto"
OTLP_PROTO = "otlp_proto"
EVENTS = "events"  # business events (Kafka messages; CloudEvents or plain JSON)
OTLP_PROTO_LABEL = "OTLP protobuf (message or length-prefixed frames)"
RECORDING_LABEL = "flowviz Kafka recordings"


@dataclass(frozen=True, slots=True)
class JsonFormat:
    """One JSON trace format: `add` appends a parsed document's spans to a builder (None: not spans,
    e.g. a dependency list, which only the file reader turns into topology); `add_bytes` is a faster
    path for a raw line or message (None when it cannot tell, then `add` runs on the parsed document)."""

    name: str
    label: str  # as "not a trace file (tried ...)" names it
    looks_like: Callable[[object], bool]
    add: Callable[[object, SpanBatchBuilder, Problems, str], int] | None
    add_bytes: Callable[[bytes, SpanBatchBuilder, str], int | None] | None = None


JSON_FORMATS = (
    JsonFormat(
        "otlp_json",
        "OTLP JSON (lines or document)",
        otlp_json.looks_like_otlp_json,
        otlp_json.add_otlp_json,
        try_add_otlp_json_bytes,
    ),
    JsonFormat("jaeger_json", "Jaeger JSON", jaeger_json.looks_like_jaeger, jaeger_json.add_jaeger),
    JsonFormat("zipkin_json", "Zipkin v2 JSON", zipkin_json.looks_like_zipkin, zipkin_json.add_zipkin),
    JsonFormat(
        "simple_json", "the simple {traceId, spans} form", simple_json.looks_like_simple, simple_json.add_simple
    ),
    JsonFormat("jaeger_dependencies", "Jaeger dependency lists", jaeger_deps.looks_like_dependencies, None),
)
SPAN_JSON_FORMATS = tuple(f for f in JSON_FORMATS if f.add is not None)

# what `--format` accepts: for capture files, and for Kafka messages (no dependency lists; events instead)
FORMAT_NAMES = (AUTO, *(f.name for f in JSON_FORMATS), OTLP_PROTO)
KAFKA_FORMATS = (AUTO, OTLP_PROTO, *(f.name for f in SPAN_JSON_FORMATS), EVENTS)
# the formats a file reader tries, for "not a trace file (tried ...)"
TRIED = ", ".join([JSON_FORMATS[0].label, OTLP_PROTO_LABEL, *(f.label for f in JSON_FORMATS[1:]), RECORDING_LABEL])


def json_format(name: str) -> JsonFormat:
    """The JSON format called `name` (KeyError for any other)."""
    for candidate in JSON_FORMATS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def detect_json_format(document: object, *, spans_only: bool = False) -> JsonFormat | None:
    """The first format of the table that recognises a parsed document (of those that carry spans, if asked)."""
    for candidate in SPAN_JSON_FORMATS if spans_only else JSON_FORMATS:
        try:
            if candidate.looks_like(document):
                return candidate
        except Exception:  # a recogniser surprised by a strange value: not this format
            continue
    return None
