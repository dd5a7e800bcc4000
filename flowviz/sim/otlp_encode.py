"""Fast OTLP writers: constant span parts encoded once, many spans of one shape filled in at once with numpy."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping, Sequence

import numpy as np
import orjson

from flowviz.model.span_batch import SpanKind, StatusCode

AttributeValue = str | bool | int | float | bytes | Sequence["AttributeValue"] | Mapping[str, "AttributeValue"]

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int (negative int64s as their two's complement)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def length_delimited(field: int, payload: bytes) -> bytes:
    """One length-delimited field (string, bytes, embedded message)."""
    return tag(field, _LENGTH) + varint(len(payload)) + payload


def any_value(value: AttributeValue) -> bytes:
    """An AnyValue message body: str, bool, int, float, bytes, sequences (array) and mappings (kvlist)."""
    if isinstance(value, str):
        return length_delimited(1, value.encode())
    if isinstance(value, bool):
        return tag(2, _VARINT) + varint(int(value))
    if isinstance(value, int):
        return tag(3, _VARINT) + varint(value)
    if isinstance(value, float):
        return tag(4, _FIXED64) + struct.pack("<d", value)
    if isinstance(value, bytes | bytearray):
        return length_delimited(7, bytes(value))
    if isinstance(value, Mapping):
        return length_delimited(6, b"".join(length_delimited(1, key_value(k, v)) for k, v in value.items()))
    if isinstance(value, Sequence):
        return length_delimited(5, b"".join(length_delimited(1, any_value(v)) for v in value))
    raise TypeError(f"unsupported attribute value {value!r}")


def key_value(key: str, value: AttributeValue) -> bytes:
    """A KeyValue message body."""
    return length_delimited(1, key.encode()) + length_delimited(2, any_value(value))


def attribute_fields(field: int, attributes: Mapping[str, AttributeValue]) -> bytes:
    """Repeated KeyValue entries at `field` (9 in a Span, 1 in a Resource, 3 in a scope)."""
    return b"".join(length_delimited(field, key_value(k, v)) for k, v in attributes.items())


def resource_message(attributes: Mapping[str, AttributeValue]) -> bytes:
    """A Resource message body."""
    return attribute_fields(1, attributes)


def scope_message(name: str, version: str = "") -> bytes:
    """An InstrumentationScope message body."""
    return length_delimited(1, name.encode()) + (length_delimited(2, version.encode()) if version else b"")


def request_message(resources: Sequence[tuple[bytes, Sequence[tuple[bytes, bytes]]]]) -> bytes:
    """An ExportTraceServiceRequest (wire-identical to TracesData).

    `resources`: (Resource body, [(InstrumentationScope body, concatenated `spans` fields)]) per resource.
    """
    parts = []
    for resource, scopes in resources:
        body = [length_delimited(1, resource)]
        for scope, spans in scopes:
            body.append(length_delimited(2, length_delimited(1, scope) + spans))
        parts.append(length_delimited(1, b"".join(body)))
    return b"".join(parts)


# -- OTLP/JSON (hex ids, integer enums, 64-bit integers as strings) ----------------------------


def any_value_json(value: AttributeValue) -> dict:
    """An AnyValue in OTLP/JSON form."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes | bytearray):
        return {"bytesValue": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": attributes_json(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value_json(v) for v in value]}}
    raise TypeError(f"unsupported attribute value {value!r}")


def attributes_json(attributes: Mapping[str, AttributeValue]) -> list[dict]:
    return [{"key": k, "value": any_value_json(v)} for k, v in attributes.items()]


def request_json(resources: Sequence[tuple[bytes, Sequence[tuple[bytes, Sequence[bytes]]]]]) -> bytes:
    """One OTLP/JSON request document (no newline).

    `resources`: (resource JSON, [(scope JSON, [span JSON, ...])]) per resource, each part already
    serialized (`orjson.dumps` of the resource / scope objects, `SpanShape.encode_json` for spans).
    """
    out = [b'{"resourceSpans":[']
    for index, (resource, scopes) in enumerate(resources):
        out.append(b',{"resource":' if index else b'{"resource":')
        out.append(resource)
        out.append(b',"scopeSpans":[')
        for scope_index, (scope, spans) in enumerate(scopes):
            out.append(b',{"scope":' if scope_index else b'{"scope":')
            out.append(scope)
            out.append(b',"spans":[')
            out.append(b",".join(spans))
            out.append(b"]}")
        out.append(b"]}")
    out.append(b"]}")
    return b"".join(out)


class SpanShape:
    """Spans that differ only in ids, times and one optional link: encoded many at a time.

    Everything else (name, kind, attributes, status, flags) is encoded once. `encode` returns one row
    of bytes per span, each a complete `spans` field (tag 2) of a ScopeSpans message, ready to be
    concatenated; `encode_json` returns OTLP/JSON span objects.
    """

    __slots__ = (
        "_fields",
        "_json_format",
        "_template",
        "has_link",
        "has_parent",
        "row_bytes",
    )

    def __init__(
        self,
        *,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue],
        has_parent: bool,
        has_link: bool = False,
        status_code: StatusCode = StatusCode.UNSET,
        status_message: str = "",
        flags: int = 0,
        link_flags: int = 0,
    ) -> None:
        self.has_parent = has_parent
        self.has_link = has_link
        offsets: dict[str, int] = {}
        body = bytearray()

        def hole(label: str, prefix: bytes, size: int) -> None:
            body.extend(prefix)
            offsets[label] = len(body)
            body.extend(bytes(size))

        hole("trace", b"\x0a\x10", 16)
        hole("span", b"\x12\x08", 8)
        if has_parent:
            hole("parent", b"\x22\x08", 8)
        body += length_delimited(5, name.encode()) if name else b""
        body += tag(6, _VARINT) + varint(int(kind)) if kind else b""
        hole("start", tag(7, _FIXED64), 8)
        hole("end", tag(8, _FIXED64), 8)
        body += attribute_fields(9, attributes)
        if has_link:
            link_flag_bytes = tag(6, _FIXED32) + struct.pack("<I", link_flags) if link_flags else b""
            link_size = 18 + 10 + len(link_flag_bytes)
            body += tag(13, _LENGTH) + varint(link_size)
            hole("link_trace", b"\x0a\x10", 16)
            hole("link_span", b"\x12\x08", 8)
            body += link_flag_bytes
        status = (length_delimited(2, status_message.encode()) if status_message else b"") + (
            tag(3, _VARINT) + varint(int(status_code)) if status_code else b""
        )
        if status:
            body += length_delimited(15, status)
        if flags:
            body += tag(16, _FIXED32) + struct.pack("<I", flags)
        head = tag(2, _LENGTH) + varint(len(body))
        self._template = np.frombuffer(head + bytes(body), np.uint8)
        self.row_bytes = len(self._template)
        # a record type over the row: one field per hole, so that numpy converts and places each column at once
        self._fields = np.dtype(
            {
                "names": list(offsets),
                "formats": [_HOLE_FORMATS[label] for label in offsets],
                "offsets": [offset + len(head) for offset in offsets.values()],
                "itemsize": self.row_bytes,
            }
        )
        self._json_format = _json_format(
            name=name,
            kind=kind,
            attributes=attributes,
            has_parent=has_parent,
            has_link=has_link,
            status_code=status_code,
            status_message=status_message,
            flags=flags,
            link_flags=link_flags,
        )

    def encode(
        self,
        *,
        trace_ids: np.ndarray,
        span_ids: np.ndarray,
        parent_ids: np.ndarray | None = None,
        start_ns: np.ndarray,
        end_ns: np.ndarray,
        link_trace_ids: np.ndarray | None = None,
        link_span_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        """Rows of bytes (uint8, shape (spans, row_bytes)), one `spans` field each.

        Ids are raw big-endian bytes: trace ids uint8 (spans, 16), span ids uint64 (spans,) or uint8
        (spans, 8); `parent_ids` only when the shape has a parent, the link columns only with a link.
        """
        count = len(start_ns)
        rows = np.empty((count, self.row_bytes), np.uint8)
        rows[:] = self._template
        fields = rows.view(self._fields).reshape(count)
        fields["trace"] = _id_bytes(trace_ids, 16)
        fields["span"] = _id_words(span_ids)
        if self.has_parent:
            fields["parent"] = _id_words(parent_ids)
        fields["start"] = start_ns
        fields["end"] = end_ns
        if self.has_link:
            fields["link_trace"] = _id_bytes(link_trace_ids, 16)
            fields["link_span"] = _id_words(link_span_ids)
        return rows

    def encode_json(
        self,
        *,
        trace_ids: np.ndarray,
        span_ids: np.ndarray,
        parent_ids: np.ndarray | None = None,
        start_ns: np.ndarray,
        end_ns: np.ndarray,
        link_trace_ids: np.ndarray | None = None,
        link_span_ids: np.ndarray | None = None,
    ) -> list[bytes]:
        """The same spans as OTLP/JSON span objects (serialized, hex ids)."""
        columns = [_hex_column(trace_ids, 16), _hex_column(span_ids, 8)]
        if self.has_parent:
            columns.append(_hex_column(parent_ids, 8))
        columns += [np.asarray(start_ns).tolist(), np.asarray(end_ns).tolist()]
        if self.has_link:
            columns += [_hex_column(link_trace_ids, 16), _hex_column(link_span_ids, 8)]
        template = self._json_format
        return [(template % values).encode() for values in zip(*columns, strict=True)]


def _json_format(
    *,
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, AttributeValue],
    has_parent: bool,
    has_link: bool,
    status_code: StatusCode,
    status_message: str,
    flags: int,
    link_flags: int,
) -> str:
    """A %-format for one span object; the holes are ids (hex), start and end (ints), link ids."""

    def const(value: object) -> str:
        return orjson.dumps(value).decode().replace("%", "%%")

    parts = ['{"traceId":"%s","spanId":"%s"']
    if has_parent:
        parts.append(',"parentSpanId":"%s"')
    parts.append(f',"name":{const(name)},"kind":{int(kind)}')
    parts.append(',"startTimeUnixNano":"%d","endTimeUnixNano":"%d"')
    if attributes:
        parts.append(f',"attributes":{const(attributes_json(attributes))}')
    if has_link:
        link_tail = f',"flags":{link_flags}' if link_flags else ""
        parts.append(',"links":[{"traceId":"%s","spanId":"%s"' + link_tail + "}]")
    status: dict[str, object] = {}
    if status_message:
        status["message"] = status_message
    if status_code:
        status["code"] = int(status_code)
    if status:
        parts.append(f',"status":{const(status)}')
    if flags:
        parts.append(f',"flags":{flags}')
    parts.append("}")
    return "".join(parts)


def _id_bytes(ids: np.ndarray | None, size: int) -> np.ndarray:
    """Ids as (spans, size) uint8 rows: from raw bytes rows or from uint64 (8-byte ids, big-endian)."""
    if ids is None:
        raise ValueError("this span shape needs these ids")
    ids = np.asarray(ids)
    if ids.dtype == np.uint8:
        return ids.reshape(-1, size)
    if size != 8:
        raise ValueError("trace ids must be uint8 rows of 16 bytes")
    return np.ascontiguousarray(ids.astype(">u8", copy=False)).view(np.uint8).reshape(-1, 8)


def _id_words(ids: np.ndarray | None) -> np.ndarray:
    """8-byte ids as uint64 values (from uint64 values or from (spans, 8) raw big-endian bytes)."""
    if ids is None:
        raise ValueError("this span shape needs these ids")
    ids = np.asarray(ids)
    if ids.dtype == np.uint8:
        return np.ascontiguousarray(ids.reshape(-1, 8)).view(">u8").reshape(-1)
    return ids


_HOLE_FORMATS = {  # ids big-endian (as their bytes read), times little-endian (fixed64)
    "trace": ("u1", (16,)),
    "span": ">u8",
    "parent": ">u8",
    "start": "<u8",
    "end": "<u8",
    "link_trace": ("u1", (16,)),
    "link_span": ">u8",
}


def _hex_column(ids: np.ndarray | None, size: int) -> list[str]:
    """Ids as lowercase hex strings (one conversion for the whole column, then slicing)."""
    raw = _id_bytes(ids, size)
    text = raw.tobytes().hex()
    width = 2 * size
    return [text[i : i + width] for i in range(0, len(text), width)]


def encode_span(
    *,
    trace_id: bytes,
    span_id: bytes,
    parent_id: bytes = b"",
    name: str,
    kind: SpanKind,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, AttributeValue] | None = None,
    link: tuple[bytes, bytes] | None = None,
    status_code: StatusCode = StatusCode.UNSET,
    status_message: str = "",
    flags: int = 0,
    link_flags: int = 0,
) -> bytes:
    """One span as a `spans` field (convenience for tests and small jobs; use SpanShape for bulk)."""
    shape = SpanShape(
        name=name,
        kind=kind,
        attributes=attributes or {},
        has_parent=bool(parent_id),
        has_link=link is not None,
        status_code=status_code,
        status_message=status_message,
        flags=flags,
        link_flags=link_flags,
    )

    def column(value: bytes) -> np.ndarray:
        return np.frombuffer(value, np.uint8).reshape(1, -1)

    rows = shape.encode(
        trace_ids=column(trace_id),
        span_ids=column(span_id),
        parent_ids=column(parent_id) if parent_id else None,
        start_ns=np.array([start_ns], np.int64),
        end_ns=np.array([end_ns], np.int64),
        link_trace_ids=column(link[0]) if link else None,
        link_span_ids=column(link[1]) if link else None,
    )
    return rows.tobytes()
