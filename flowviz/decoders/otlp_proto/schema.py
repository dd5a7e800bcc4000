"""Tables from the installed OTLP trace descriptors: which (message type, tag) is recorded as which slot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_SLOW = 1 << 40  # "advance" of a field the table does not decode: decode it in full

_WIRE_TYPES = {
    FieldDescriptor.TYPE_DOUBLE: 1,
    FieldDescriptor.TYPE_FLOAT: 5,
    FieldDescriptor.TYPE_INT64: 0,
    FieldDescriptor.TYPE_UINT64: 0,
    FieldDescriptor.TYPE_INT32: 0,
    FieldDescriptor.TYPE_FIXED64: 1,
    FieldDescriptor.TYPE_FIXED32: 5,
    FieldDescriptor.TYPE_BOOL: 0,
    FieldDescriptor.TYPE_STRING: 2,
    FieldDescriptor.TYPE_GROUP: 3,
    FieldDescriptor.TYPE_MESSAGE: 2,
    FieldDescriptor.TYPE_BYTES: 2,
    FieldDescriptor.TYPE_UINT32: 0,
    FieldDescriptor.TYPE_ENUM: 0,
    FieldDescriptor.TYPE_SFIXED32: 5,
    FieldDescriptor.TYPE_SFIXED64: 1,
    FieldDescriptor.TYPE_SINT32: 0,
    FieldDescriptor.TYPE_SINT64: 0,
}
# fields whose last value in each message is read, in column order (every string field is UTF-8 checked)
_READ_FIELDS = (
    "Span.trace_id",
    "Span.span_id",
    "Span.parent_span_id",
    "Span.name",
    "Span.kind",
    "Span.start_time_unix_nano",
    "Span.end_time_unix_nano",
    "Status.code",
    "Link.trace_id",
    "Link.span_id",
)
_READ, _CHILD, _STRING = 1, 2, 4  # what a recorded field is for (bits)


@dataclass(frozen=True, slots=True)
class _Schema:
    """Which (message type, tag) is recorded as which slot, and the fast-path tables."""

    type_ids: dict[str, int]  # message name ("Span", "KeyValue", ...) -> type id
    slot_of_tag: np.ndarray  # [type * 128 + tag] -> slot, tags below 128 (fields 1..15)
    slot_of_tag16: np.ndarray  # [type * 65536 + the field's first two bytes] -> slot (one-byte tags)
    advance16: np.ndarray  # [first two bytes] -> field size in bytes, or _SLOW
    value_offset16: np.ndarray  # [first two bytes] -> where the value (payload) starts, for fast fields
    child_type: np.ndarray  # [slot] -> type of the sub-message, -1 when not a message field
    bits: np.ndarray  # [slot] -> _READ | _CHILD | _STRING
    read_column: np.ndarray  # [slot] -> index in _READ_FIELDS, -1 when not read


def _closure(root: Descriptor) -> list[Descriptor]:
    found: dict[str, Descriptor] = {}
    pending = [root]
    while pending:
        descriptor = pending.pop(0)
        if descriptor.full_name not in found:
            found[descriptor.full_name] = descriptor
            pending.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    return list(found.values())


def _build_schema() -> _Schema:
    descriptors = _closure(ExportTraceServiceRequest.DESCRIPTOR)
    type_ids = {d.name: i for i, d in enumerate(descriptors)}
    assert len(type_ids) == len(descriptors), "message names must be unique in the OTLP trace closure"
    slot_of_tag = np.zeros(len(descriptors) * 128, np.int16)
    child_type, bits, read_column = [-1], [0], [-1]
    for type_id, descriptor in enumerate(descriptors):
        for field in descriptor.fields:
            name = f"{descriptor.name}.{field.name}"
            message = field.message_type
            string = field.type == FieldDescriptor.TYPE_STRING
            if message is None and not string and name not in _READ_FIELDS:
                continue
            assert field.number < 16, f"{name}: recorded fields must have one-byte tags"
            slot = len(child_type)
            slot_of_tag[type_id * 128 + (field.number << 3 | _WIRE_TYPES[field.type])] = slot
            child_type.append(type_ids[message.name] if message is not None else -1)
            read = name in _READ_FIELDS
            bits.append(_READ * read | _CHILD * (message is not None) | _STRING * string)
            read_column.append(_READ_FIELDS.index(name) if read else -1)
    advance16, value_offset16 = _advance_tables(slot_of_tag)
    first = np.arange(65536) & 0xFF
    small = np.flatnonzero(first < 0x80)
    slot_of_tag16 = np.zeros(len(descriptors) * 65536, np.int16)
    for type_id in range(len(descriptors)):
        slot_of_tag16[type_id * 65536 + small] = slot_of_tag[type_id * 128 + first[small]]
    return _Schema(
        type_ids,
        slot_of_tag,
        slot_of_tag16,
        advance16,
        value_offset16,
        np.array(child_type, np.int64),
        np.array(bits, np.uint8),
        np.array(read_column, np.int64),
    )


def _advance_tables(slot_of_tag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Field sizes and value offsets of the common encodings, keyed by the field's first two bytes."""
    advance = np.full(65536, _SLOW, np.int64)
    offset = np.ones(65536, np.int64)
    for first in range(8, 0x80):  # one-byte tags of fields 1..15
        wire_type = first & 7
        seconds = np.arange(256)
        index = first | seconds << 8
        if wire_type == 0:
            advance[index[:0x80]] = 2
        elif wire_type == 1:
            advance[index] = 9
        elif wire_type == 5:
            advance[index] = 5
        elif wire_type == 2:
            advance[index[:0x80]] = 2 + seconds[:0x80]
            offset[index] = 2
    recorded = slot_of_tag.reshape(-1, 128).any(axis=0)
    for first in range(0x80, 0x100):  # two-byte tags of fixed-size fields that are never recorded
        for second in range(0x80):
            tag = (first & 0x7F) | second << 7
            if tag < 8 or (tag < 128 and recorded[tag]):
                continue
            if tag & 7 == 1:
                advance[first | second << 8] = 10
            elif tag & 7 == 5:
                advance[first | second << 8] = 6
    return advance, offset


_SCHEMA = _build_schema()
_SCALAR_SLOTS = _SCHEMA.slot_of_tag.tolist()
_T = _SCHEMA.type_ids
_REQUEST, _RESOURCE_SPANS, _RESOURCE = _T["ExportTraceServiceRequest"], _T["ResourceSpans"], _T["Resource"]
_SPAN, _KEY_VALUE, _STATUS, _LINK = _T["Span"], _T["KeyValue"], _T["Status"], _T["Link"]
