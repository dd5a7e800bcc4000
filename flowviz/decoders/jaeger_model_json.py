"""Jaeger `model.Span` in protobuf-JSON (the Collector's and Jaeger's Kafka `json` encoding) as the bare Jaeger trace
`flowviz.decoders.jaeger_json` reads."""

from __future__ import annotations

import base64
import binascii

from flowviz.model.time_spec import rfc3339_ns

_TAG_MEMBERS = ("vStr", "vBool", "vInt64", "vFloat64", "vBinary")


def jaeger_model_trace(document: object) -> dict | None:
    """A Jaeger `model.Span` in protobuf-JSON (base64 ids, RFC 3339 start, "1.5s" duration) as the bare
    Jaeger trace `flowviz.decoders.jaeger_json` reads; None when `document` is not such a span."""
    if not isinstance(document, dict) or "traceId" not in document or "spanId" not in document:
        return None
    if "operationName" not in document and "process" not in document:
        return None
    trace_id = _id_hex(document.get("traceId"))
    span = {
        "traceID": trace_id,
        "spanID": _id_hex(document.get("spanId")),
        "operationName": document.get("operationName", ""),
        "references": [
            {
                "refType": r.get("refType", "CHILD_OF"),
                "traceID": _id_hex(r.get("traceId")),
                "spanID": _id_hex(r.get("spanId")),
            }
            for r in document.get("references") or ()
            if isinstance(r, dict)
        ],
        "startTime": _rfc3339_micros(document.get("startTime")),
        "duration": _duration_micros(document.get("duration")),
        "tags": [_plain_tag(tag) for tag in document.get("tags") or () if isinstance(tag, dict)],
        "process": document.get("process") if isinstance(document.get("process"), dict) else {},
    }
    return {"traceID": trace_id, "spans": [span]}


def _id_hex(value: object) -> object:
    """base64 (protobuf-JSON bytes) -> hex; hex ids and anything malformed are left for the decoder to judge."""
    if not isinstance(value, str) or not value:
        return value
    if len(value) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in value):
        return value
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def _rfc3339_micros(value: object) -> object:
    """Jaeger's model JSON has RFC 3339 start times; the API shape wants microseconds (anything else: as is)."""
    if not isinstance(value, str):
        return value
    time_ns = rfc3339_ns(value)
    return value if time_ns is None else time_ns / 1000


def _duration_micros(value: object) -> object:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1]) * 1e6
        except ValueError:
            return value
    return 0 if value is None else value


def _plain_tag(tag: dict) -> dict:
    value: object = None
    for member in _TAG_MEMBERS:
        if member in tag:
            value = tag[member]
            break
    else:
        value = "" if tag.get("vType", "STRING") == "STRING" else None
    if tag.get("vType") == "INT64" and isinstance(value, str):
        value = int(value) if value.lstrip("-").isdigit() else value
    return {"key": tag.get("key"), "value": value}
