"""KeyValue messages in their usual encoding (a key and one scalar value), read without descending into them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from flowviz.decoders.otlp_proto.buffer import _Wire
from flowviz.decoders.otlp_proto.schema import _WIRE_TYPES


@dataclass(slots=True)
class _KeyValues:
    """KeyValue messages that hold a key and at most one scalar value, nothing else (the usual encoding)."""

    item: np.ndarray
    key_start: np.ndarray
    key_end: np.ndarray
    member: np.ndarray  # reader of the AnyValue member (_AS_STRING, _AS_BOOL, ...), 0 when the value is empty
    value_start: np.ndarray
    value_end: np.ndarray


_AS_STRING, _AS_BYTES, _AS_BOOL, _AS_INT64, _AS_INT32, _AS_DOUBLE = (
    1,
    2,
    3,
    4,
    5,
    6,
)  # how a plain AnyValue member is read
_MEMBER_READERS = {
    FieldDescriptor.TYPE_STRING: _AS_STRING,
    FieldDescriptor.TYPE_BYTES: _AS_BYTES,
    FieldDescriptor.TYPE_BOOL: _AS_BOOL,
    FieldDescriptor.TYPE_INT64: _AS_INT64,
    FieldDescriptor.TYPE_INT32: _AS_INT32,
    FieldDescriptor.TYPE_DOUBLE: _AS_DOUBLE,
}


def _member_table() -> np.ndarray:
    """[one-byte tag] -> reader of the scalar AnyValue member with that tag in the installed schema, 0 for none."""
    fields = {f.name: (f.number, f.type, f.message_type) for f in KeyValue.DESCRIPTOR.fields}
    assert fields["key"][:2] == (1, FieldDescriptor.TYPE_STRING), "KeyValue.key must be field 1"
    assert fields["value"][:2] == (2, FieldDescriptor.TYPE_MESSAGE), "KeyValue.value must be field 2"
    table = np.zeros(256, np.int64)
    for field in fields["value"][2].oneofs_by_name["value"].fields:
        if field.type in _MEMBER_READERS and field.number < 16:
            table[field.number << 3 | _WIRE_TYPES[field.type]] = _MEMBER_READERS[field.type]
    return table


_MEMBERS = _member_table()


def _plain_key_values(wire: _Wire, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """(ok, key start, key end, member reader, value start) of KeyValues that are key + one scalar value."""
    head = wire.pairs[start]
    key_end = start + 2 + (head >> 8)
    ok = ((head & 0xFF) == 0x0A) & (head < 0x8000) & (key_end + 2 <= end)
    value_head = wire.pairs[np.minimum(key_end, end)]
    value_at = key_end + 2
    value_size = end - value_at
    ok &= ((value_head & 0xFF) == 0x12) & (value_head >> 8 == value_size) & (value_size < 0x80)
    inner = wire.pairs[np.minimum(value_at, end)]
    member, second = _MEMBERS[inner & 0xFF], (inner >> 8).astype(np.int64)
    member = np.where(value_size > 0, member, 0)
    length_ok = ((member == _AS_STRING) | (member == _AS_BYTES)) & (second < 0x80) & (value_size == 2 + second)
    fixed_ok = (member == _AS_DOUBLE) & (value_size == 9)
    varint = np.flatnonzero(ok & (member >= _AS_BOOL) & (member <= _AS_INT32))
    varint_ok = np.zeros(start.size, bool)
    if varint.size:
        size = wire.varints(value_at[varint] + 1)[1]
        varint_ok[varint] = (size > 0) & (size == value_size[varint] - 1)
    ok &= (value_size == 0) | length_ok | fixed_ok | varint_ok
    return ok, start + 2, key_end, member, value_at + 1 + length_ok


def _scalar(any_value: object) -> object:
    """The value of an AnyValue's set member, None when none is set (as the rules expect it)."""
    which = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(any_value, which) if which else None


def _scalars(wire: _Wire, member: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """`_scalar` of plain AnyValues, from their member reader and value range, as an object array (None: empty)."""
    out = np.empty(member.size, object)
    for reader in np.flatnonzero(np.bincount(member, minlength=1)).tolist():
        rows = np.flatnonzero(member == reader)
        at = start[rows]
        if reader == _AS_STRING:
            out[rows] = wire.strings(at, end[rows])
        elif reader == _AS_BYTES:
            out[rows] = wire.bytes_objects(at, end[rows])
        elif reader == _AS_DOUBLE:
            out[rows] = wire.u64[at].view(np.float64).tolist()
        elif reader != 0:
            value = wire.varints(at)[0]
            if reader == _AS_BOOL:
                out[rows] = (value != 0).tolist()
            else:
                out[rows] = (
                    value.view(np.int64) if reader == _AS_INT64 else value.astype(np.uint32).view(np.int32)
                ).tolist()
    return out
