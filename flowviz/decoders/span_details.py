"""Everything one trace's spans carry (attributes, events, status message, resource), read again from raw OTLP.

Decoders keep only what the graph needs; the trace view wants the rest for a handful of spans.
So raw inputs are searched for the trace id (hex, upper-case hex, base64 or the 16 raw bytes)
and only the messages or lines that contain it are decoded in full, with OpenTelemetry's own
protobuf classes or orjson.
"""

from __future__ import annotations

import base64
import binascii
import mmap
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from flowviz.model.ids import u64_pair_to_hex

Pairs = tuple[tuple[str, str], ...]
MAX_DOCUMENT_BYTES = 64 << 20  # a single JSON document is parsed whole only up to this size
_VALUE_CHARS = 300  # a long attribute value is cut here


@dataclass(frozen=True, slots=True)
class SpanDetail:
    """One span's own data: attributes, events (offset from the span start, name, attributes), status message,
    its resource's attributes and its instrumentation scope."""

    attributes: Pairs
    events: tuple[tuple[int, str, Pairs], ...]  # (time ns, name, attributes)
    status_message: str
    resource: Pairs
    scope: str


def trace_id_forms(trace_hi: int, trace_lo: int) -> tuple[bytes, ...]:
    """The ways a trace id is written in OTLP inputs: hex, upper-case hex, base64, raw bytes."""
    raw = trace_hi.to_bytes(8, "big") + trace_lo.to_bytes(8, "big")
    text = u64_pair_to_hex(trace_hi, trace_lo, digits=32).encode()
    return text, text.upper(), base64.b64encode(raw), raw


def _short(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS] + "…"


# -- protobuf ------------------------------------------------------------------------------------


def _any_value(value) -> object:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _proto_pairs(key_values) -> Pairs:
    return tuple((kv.key, _short(_any_value(kv.value))) for kv in key_values)


def proto_span_details(message: bytes, raw_trace_id: bytes) -> dict[int, SpanDetail]:
    """Spans of one trace in an OTLP protobuf message (ExportTraceServiceRequest / TracesData), by span id."""
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    try:
        data = TracesData.FromString(bytes(message))
    except Exception:  # not protobuf after all (a JSON message holding the raw bytes by chance)
        return {}
    found: dict[int, SpanDetail] = {}
    for resource_spans in data.resource_spans:
        resource = _proto_pairs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = " ".join(p for p in (scope_spans.scope.name, scope_spans.scope.version) if p)
            for span in scope_spans.spans:
                if span.trace_id.rjust(16, b"\0") != raw_trace_id:
                    continue
                events = tuple(
                    (int(event.time_unix_nano), event.name, _proto_pairs(event.attributes)) for event in span.events
                )
                found[int.from_bytes(span.span_id.rjust(8, b"\0")[-8:], "big")] = SpanDetail(
                    _proto_pairs(span.attributes), events, span.status.message, resource, scope
                )
    return found


# -- JSON ----------------------------------------------------------------------------------------


def _json_value(value: object) -> object:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "arrayValue":
        return [_json_value(v) for v in (inner or {}).get("values", [])]
    if kind == "kvlistValue":
        return {kv.get("key", ""): _json_value(kv.get("value")) for kv in (inner or {}).get("values", [])}
    return inner


def _json_pairs(key_values: object) -> Pairs:
    if not isinstance(key_values, list):
        return ()
    return tuple(
        (str(kv.get("key", "")), _short(_json_value(kv.get("value")))) for kv in key_values if isinstance(kv, dict)
    )


def _json_id(text: object, size: int) -> bytes | None:
    """An OTLP/JSON id: hex (any case) or base64 (protobuf-canonical JSON)."""
    if not isinstance(text, str):
        return None
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * size else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw.rjust(size, b"\0")[-size:]


def json_span_details(document: object, raw_trace_id: bytes) -> dict[int, SpanDetail]:
    """Spans of one trace in an OTLP/JSON document (a request, or Tempo's `batches`), by span id."""
    if not isinstance(document, dict):
        return {}
    found: dict[int, SpanDetail] = {}
    for resource_spans in document.get("resourceSpans") or document.get("batches") or []:
        if not isinstance(resource_spans, dict):
            continue
        resource = _json_pairs((resource_spans.get("resource") or {}).get("attributes"))
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
        for scope_spans in scopes if isinstance(scopes, list) else []:
            if not isinstance(scope_spans, dict):
                continue
            scope_info = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            scope = " ".join(str(p) for p in (scope_info.get("name"), scope_info.get("version")) if p)
            for span in scope_spans.get("spans") or []:
                if not isinstance(span, dict) or _json_id(span.get("traceId"), 16) != raw_trace_id:
                    continue
                span_id = _json_id(span.get("spanId"), 8)
                if span_id is None:
                    continue
                events = tuple(
                    (
                        int(event.get("timeUnixNano") or 0),
                        str(event.get("name", "")),
                        _json_pairs(event.get("attributes")),
                    )
                    for event in span.get("events") or []
                    if isinstance(event, dict)
                )
                status = span.get("status") or {}
                found[int.from_bytes(span_id, "big")] = SpanDetail(
                    _json_pairs(span.get("attributes")), events, str(status.get("message") or ""), resource, scope
                )
    return found


# -- searching raw inputs ------------------------------------------------------------------------


def _line_around(data: bytes | mmap.mmap, at: int) -> bytes:
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    return bytes(data[start : end if end >= 0 else len(data)])


def details_in_chunk(data: bytes | mmap.mmap, trace_hi: int, trace_lo: int) -> dict[int, SpanDetail] | None:
    """Look for the trace in one raw input: a protobuf message, a JSON message, or a file's bytes.

    JSON lines: each line holding the id is parsed; one JSON document: parsed whole (up to
    `MAX_DOCUMENT_BYTES`); protobuf: the message, or the length-prefixed frames holding the id.
    None when the trace id does not occur at all.
    """
    forms = trace_id_forms(trace_hi, trace_lo)
    raw = forms[-1]
    hits = [data.find(form) for form in forms]
    if all(hit < 0 for hit in hits):
        return None
    found: dict[int, SpanDetail] = {}
    if any(hit >= 0 for hit in hits[:3]):  # written as text: JSON lines or one JSON document
        found.update(_json_details(data, forms, raw))
    if hits[3] >= 0:  # the raw bytes: protobuf (a message, or length-prefixed frames)
        for start, end in _frames(data):
            if data.find(raw, start, end) >= 0:
                found.update(proto_span_details(data[start:end], raw))
        if not found:
            found.update(proto_span_details(data, raw))
    return found


def _json_details(data: bytes | mmap.mmap, forms: tuple[bytes, ...], raw: bytes) -> dict[int, SpanDetail]:
    """Each line holding the id parsed as JSON; the first line that is no JSON: the whole document instead."""
    found: dict[int, SpanDetail] = {}
    lines_seen: set[bytes] = set()
    for form in forms[:3]:
        at = data.find(form)
        while at >= 0:
            line = _line_around(data, at)
            if line not in lines_seen:
                lines_seen.add(line)
                try:
                    found.update(json_span_details(orjson.loads(line), raw))
                except orjson.JSONDecodeError:
                    return _details_of_document(data, raw)
            at = data.find(form, at + len(form))
    return found


def _details_of_document(data: bytes | mmap.mmap, raw: bytes) -> dict[int, SpanDetail]:
    if len(data) > MAX_DOCUMENT_BYTES:
        return {}
    try:
        return json_span_details(orjson.loads(bytes(data)), raw)
    except orjson.JSONDecodeError:
        return {}


def _frames(data: bytes | mmap.mmap) -> Iterable[tuple[int, int]]:
    """Length-prefixed frames (4-byte big-endian sizes, as the Collector's file exporter writes them)."""
    offset, size = 0, len(data)
    while offset + 4 <= size:
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length == 0 or offset + 4 + length > size:
            return
        yield offset + 4, offset + 4 + length
        offset += 4 + length


def details_in(chunks: Iterable[bytes | mmap.mmap], trace_hi: int, trace_lo: int) -> dict[int, SpanDetail]:
    """The trace's span details from raw inputs (newest last: a later span detail wins)."""
    found: dict[int, SpanDetail] = {}
    for chunk in chunks:
        part = details_in_chunk(chunk, trace_hi, trace_lo)
        if part:
            found.update(part)
    return found
