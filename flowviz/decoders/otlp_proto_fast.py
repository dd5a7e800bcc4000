"""The OTLP protobuf decoder: many ExportTraceServiceRequest / TracesData messages at once, straight to columns.

It reads the wire format itself with numpy (every message of a chunk in lock-step, level by level)
and hands the builder a `ColumnBlock`: ids from the bytes into uint64 columns, times from the
fixed64 fields, names interned per block, attribute values only for the keys a rule reads. It
judges malformed input as upb does (`ExportTraceServiceRequest.FromString`); the tests hold it to
the upb-walking reference in tests/decoders/otlp_proto_reference.py, column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from flowviz.decoders.attributes import ATTRIBUTE_CODES, NAMESPACE_KEYS
from flowviz.decoders.builder import ColumnBlock, SpanBatchBuilder
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanKind, StatusCode

RESOURCE_KEYS = frozenset(("db.name", "db.namespace", "db.system", "db.system.name", "peer.service"))
"""Resource attributes that also count as attributes of each of the resource's spans."""

# What the upb parser behind `ExportTraceServiceRequest.FromString` accepts (the tests check it): a
# known field with an unexpected wire type is an unknown field; unknown fields are skipped, groups
# included (matching end tag, counted in the depth limit); known string fields must be valid UTF-8;
# tags are varints of at most 5 bytes below 2**32 and field 0 is corrupt; lengths are varints of at
# most 5 bytes; other varints at most 10 bytes (excess bits of the 10th ignored); messages and groups
# nest at most 100 deep below the request.
_MAX_DEPTH = 100
_MAX_TAG_BYTES = 5
_MAX_LENGTH_BYTES = 5
_PAD_BYTES = 192  # zero bytes after the data: gathers of a few bytes past any position stay inside
_SLOW = 1 << 40  # "advance" of a field the table does not decode: decode it in full
_SCALAR_BELOW = 24  # a scan with fewer live cursors than this finishes in plain Python
_CHUNK_BYTES = 4 << 20  # messages are decoded together in chunks of about this size (cache sized)
_BATCH_RECORDS = 4096  # a level's recorded fields are sorted out in batches of at least this many
_PARSE_ERROR = "otlp-proto: message does not parse (DecodeError)"
_NO_SERVICE = "otlp-proto: resource without service.name"
_SERVICE_KEY = "service.name"

_HIGH_BITS = np.uint64(0x8080808080808080)
_LOW_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd multiplier for content hashes
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], np.uint64)

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


class _Malformed(Exception):
    """A message does not parse (raised and caught inside the plain-Python paths only)."""


# --- tables from the installed descriptors -----------------------------------------------------


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


# --- reading the buffer ----------------------------------------------------------------------


class _Wire:
    """The concatenated messages (zero padded): bytes, the 16 bits at each position, unaligned 64-bit view."""

    def __init__(self, messages: Sequence[bytes | memoryview]) -> None:
        self.data = b"".join([*messages, bytes(_PAD_BYTES)])
        size = len(self.data)
        self.u8 = np.frombuffer(self.data, np.uint8)
        self.pairs = self.u8[1:].astype(np.uint16)  # faster to gather than an unaligned view
        self.pairs <<= 8
        self.pairs |= self.u8[:-1]
        self.u64 = np.ndarray((size - 7,), "<u8", self.data, 0, (1,))

    def varints(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (uint64) and sizes in bytes (0: longer than 10 bytes) of the varints at `positions`."""
        word = self.u64[positions]
        stops = ~word & _HIGH_BITS
        lowest = stops & (~stops + np.uint64(1))
        size = np.frexp(lowest.astype(np.float64))[1].astype(np.int64) >> 3
        value = word & ((lowest << np.uint64(1)) - np.uint64(1)) & _LOW_BITS
        value = (value & np.uint64(0x007F007F007F007F)) | ((value & np.uint64(0x7F007F007F007F00)) >> np.uint64(1))
        value = (value & np.uint64(0x00003FFF00003FFF)) | ((value & np.uint64(0x3FFF00003FFF0000)) >> np.uint64(2))
        value = (value & np.uint64(0x000000000FFFFFFF)) | ((value & np.uint64(0x0FFFFFFF00000000)) >> np.uint64(4))
        long = np.flatnonzero(size == 0)
        if long.size:
            ninth = self.u8[positions[long] + 8].astype(np.uint64)
            tenth = self.u8[positions[long] + 9].astype(np.uint64)
            nine, ten = ninth < 0x80, (ninth >= 0x80) & (tenth < 0x80)
            high = ((ninth & np.uint64(0x7F)) << np.uint64(56)) | ((tenth & np.uint64(1)) << np.uint64(63))
            value[long] |= np.where(nine, ninth << np.uint64(56), np.where(ten, high, np.uint64(0)))
            size[long] = np.where(nine, 9, np.where(ten, 10, 0))
        return value, size

    def bytes_objects(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """An object array of `bytes`, one per [start, end)."""
        out = np.empty(starts.size, object)
        if not starts.size:
            return out
        lengths = ends - starts
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest == longest:
            groups = [np.arange(starts.size)]
        elif longest < 256 and np.count_nonzero(np.bincount(lengths)) <= 8:
            groups = [np.flatnonzero(lengths == n) for n in np.flatnonzero(np.bincount(lengths)).tolist()]
        else:
            order = np.argsort(lengths, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1)
        for group in groups:
            length = int(lengths[group[0]])
            if length == 0:
                out[group] = b""
            elif group.size < 16 or length > 256:
                data = self.data
                out[group] = [data[s : s + length] for s in starts[group].tolist()]
            else:
                words = self.u64[starts[group, None] + np.arange(0, length, 8)]
                raw = np.ascontiguousarray(words.view(np.uint8)[:, :length])
                out[group] = raw.view(f"V{length}").ravel()
        return out

    def unique_ranges(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Equal byte strings among the ranges [start, end): `(first, inverse)`, `first` one range of each
        distinct string, `inverse` the index in `first` of each range's string.

        Grouped by a hash of the content, then each range compared with its group's `first`: exact.
        """
        count = starts.size
        if count == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lengths = ends - starts
        hashes = lengths.astype(np.uint64) * _MIX
        steps = []  # (rows, offset, mask, masked word) of each 8-byte step, to verify with
        rows, offset = np.flatnonzero(lengths > 0), 0
        while rows.size:
            left = lengths[rows] - offset
            mask = _BYTE_MASKS[np.minimum(left, 8)]
            word = self.u64[starts[rows] + offset] & mask
            hashed = hashes[rows]
            hashes[rows] = ((hashed ^ word) * _MIX) ^ (hashed >> np.uint64(29))
            steps.append((rows, offset, mask, word))
            rows, offset = rows[left > 8], offset + 8
        first, inverse = _group_hashes(hashes)
        representative = first[inverse]
        same = lengths[representative] == lengths
        last = self.u64.size - 1  # a shorter representative is not the same anyway: keep its reads inside
        for rows, offset, mask, word in steps:
            at = np.minimum(starts[representative[rows]] + offset, last)
            same[rows] &= (self.u64[at] & mask) == word
        if same.all():
            return first, inverse
        ids: dict[bytes, int] = {}  # a hash collision: group by the bytes themselves
        raw = self.bytes_objects(starts, ends).tolist()
        inverse = np.fromiter((ids.setdefault(b, len(ids)) for b in raw), np.int64, count)
        first = np.empty(len(ids), np.int64)
        first[inverse[::-1]] = np.arange(count)[::-1]
        return first, inverse

    def strings(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """An object array of `str` (UTF-8 already checked), equal byte strings decoded once."""
        first, inverse = self.unique_ranges(starts, ends)
        data = self.data
        texts = np.empty(first.size, object)
        texts[:] = [data[s:e].decode() for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
        return texts[inverse]

    def bad_utf8(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Indices of the byte ranges that are not valid UTF-8 (those with a byte from 0x80 checked in Python)."""
        data, bad = self.data, []
        for index in self._not_ascii(starts, ends).tolist():
            piece = data[int(starts[index]) : int(ends[index])]
            if not piece.isascii():
                try:
                    piece.decode()
                except UnicodeDecodeError:
                    bad.append(index)
        return np.array(bad, np.int64)

    def _not_ascii(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Indices of the ranges that may hold a byte from 0x80: all that do, and all longer than 72 bytes.

        Whole 8-byte words: the first and the last word of a range (which cover up to 16 bytes; only a
        range shorter than 8 bytes needs a mask), then the words in between, 8 bytes at a time.
        """
        lengths = ends - starts
        check = np.flatnonzero(lengths > 0)
        length = lengths[check]
        first = self.u64[starts[check]] & _BYTE_MASKS[np.minimum(length, 8)]
        last = self.u64[np.maximum(ends[check] - 8, 0)] & np.where(length > 8, _BYTE_MASKS[8], np.uint64(0))
        high = ((first | last) & _HIGH_BITS) != 0
        suspects = [check[high]]
        check = check[~high & (length > 16)]
        offset = 8
        while check.size and offset < 64:
            high = (self.u64[starts[check] + offset] & _HIGH_BITS) != 0
            suspects.append(check[high])
            check = check[~high & (lengths[check] > offset + 16)]  # another word before the last one
            offset += 8
        suspects.append(check)
        return np.concatenate(suspects)


def _group_hashes(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of equal uint64 `hashes` as a sort would find them, without sorting them all: `(first, inverse)`,
    `first` one member of each group in ascending order of hash, `inverse` the group of each hash."""
    count = hashes.size
    members = _hash_representatives(hashes)
    first = np.flatnonzero(members == np.arange(count))
    first = first[np.argsort(hashes[first])]  # only the distinct values are sorted
    group = np.empty(count, np.int64)
    group[first] = np.arange(first.size)
    return first, group[members]


def _hash_representatives(hashes: np.ndarray) -> np.ndarray:
    """For each hash, the index of one equal hash, the same for all equal ones (a hash table on some of its
    bits; hashes that lose their slot to a different value try other bits, the last few are sorted)."""
    out = np.empty(hashes.size, np.int64)
    pending = np.arange(hashes.size)
    for round_ in range(3):
        if not pending.size:
            return out
        bits = max(int(pending.size).bit_length() + 1, 8)
        shift = np.uint64((64 - bits, 0, 24)[round_])
        slot = ((hashes[pending] >> shift) & np.uint64((1 << bits) - 1)).astype(np.intp)
        table = np.empty(1 << bits, np.int64)
        table[slot] = pending  # one winner per slot; every hash reads its slot's winner back
        winner = table[slot]
        same = hashes[winner] == hashes[pending]
        out[pending[same]] = winner[same]
        pending = pending[~same]
    if pending.size:
        first, inverse = np.unique(hashes[pending], return_index=True, return_inverse=True)[1:]
        out[pending] = pending[first][inverse]
    return out


# --- one nesting level: the fields of many messages, all cursors in lock-step ------------------


@dataclass(slots=True)
class _Level:
    """What a scan of one nesting level found: read fields, sub-messages, strings, messages that do not parse."""

    read: dict[int, tuple[np.ndarray, np.ndarray]]  # column -> value [start, end) of the last occurrence (-1: none)
    child_item: np.ndarray  # sub-messages in document order
    child_slot: np.ndarray
    child_start: np.ndarray
    child_end: np.ndarray
    string_item: np.ndarray
    string_start: np.ndarray
    string_end: np.ndarray
    bad_items: np.ndarray


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(10):
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, i + 1
    return 0, 0


def _read_field(data: bytes, pos: int, end: int, *, in_group: bool = False) -> tuple[int, int, int]:
    """(tag, value start, value end) of the field at `pos`; raises _Malformed (field 0 only passes in groups)."""
    tag, size = _read_varint(data, pos)
    if not 0 < size <= _MAX_TAG_BYTES or tag >> 32 or (tag < 8 and not in_group):
        raise _Malformed
    wire_type = tag & 7
    start = pos + size
    if wire_type == 0:
        size = _read_varint(data, start)[1]
        if size == 0:
            raise _Malformed
        after = start + size
    elif wire_type == 1:
        after = start + 8
    elif wire_type == 5:
        after = start + 4
    elif wire_type == 2:
        length, size = _read_varint(data, start)
        if not 0 < size <= _MAX_LENGTH_BYTES:
            raise _Malformed
        start += size
        after = start + length
    elif wire_type in (3, 4):
        after = start
    else:
        raise _Malformed
    if after > end:
        raise _Malformed
    return tag, start, after


def _skip_group(data: bytes, pos: int, end: int, field: int, depth: int) -> int:
    if depth > _MAX_DEPTH:
        raise _Malformed
    while pos < end:
        tag, start, after = _read_field(data, pos, end, in_group=True)
        if tag & 7 == 4:
            if tag >> 3 != field:
                raise _Malformed
            return start
        pos = _skip_group(data, start, end, tag >> 3, depth + 1) if tag & 7 == 3 else after
    raise _Malformed


def _scan_one(data: bytes, pos: int, end: int, type_id: int, depth: int) -> list[tuple[int, int, int]]:
    """Recorded (slot, start, end) of one message from `pos` on, in plain Python; raises _Malformed."""
    found = []
    slots, base = _SCALAR_SLOTS, type_id * 128
    while pos < end:
        tag, size, high = data[pos], data[pos + 1], data[pos + 2]
        if 8 <= tag < 0x80 and tag & 7 == 2 and (size < 0x80 or high < 0x80):  # the usual case, inline
            start, after = (pos + 2, pos + 2 + size) if size < 0x80 else (pos + 3, pos + 3 + (size & 0x7F | high << 7))
            if after > end:
                raise _Malformed
        else:
            tag, start, after = _read_field(data, pos, end)
            wire_type = tag & 7
            if wire_type == 4:
                raise _Malformed
            if wire_type == 3:
                pos = _skip_group(data, start, end, tag >> 3, depth + 1)
                continue
        if tag < 128 and (slot := slots[base + tag]):
            found.append((slot, start, after))
        pos = after
    return found


def _decode_fields(wire: _Wire, cur: np.ndarray, end: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, ...]:
    """Full decoding of one field per cursor: (value end, slot, value start, state 0 ok / 1 bad / 2 group)."""
    tag, tag_size = wire.varints(cur)
    wire_type = (tag & np.uint64(7)).astype(np.int64)
    start = cur + tag_size
    value, value_size = wire.varints(start)
    is_length = wire_type == 2
    length = np.where(is_length & (value_size <= _MAX_LENGTH_BYTES), value, np.uint64(0)).astype(np.int64)
    size = np.select(
        [wire_type == 0, wire_type == 1, wire_type == 5, is_length], [value_size, 8, 4, value_size + length]
    )
    after = start + size
    bad = (tag_size == 0) | (tag_size > _MAX_TAG_BYTES) | (tag >= np.uint64(1 << 32)) | (tag < np.uint64(8))
    bad |= (wire_type == 4) | (wire_type > 5) | (after > end)
    bad |= ((wire_type == 0) | is_length) & (value_size == 0)
    bad |= is_length & (value_size > _MAX_LENGTH_BYTES)
    small = np.minimum(tag, np.uint64(127)).astype(np.int64)
    slot = np.where(tag < np.uint64(128), _SCHEMA.slot_of_tag[types * 128 + small], 0)
    state = np.where(bad, 1, np.where(wire_type == 3, 2, 0))
    return after, slot, np.where(is_length, start + value_size, start), state


def _two_byte_length_tables() -> tuple[np.ndarray, np.ndarray]:
    """[first two bytes] -> whether a field starting so has a one-byte tag, wire type 2 and a length of two
    bytes or more; and the low 7 bits of that length."""
    first = np.arange(65536)
    tag, low = first & 0xFF, first >> 8
    return (tag >= 8) & (tag < 0x80) & ((tag & 7) == 2) & (low >= 0x80), (low & 0x7F).astype(np.int64)


_TWO_BYTE_LENGTH16, _LENGTH_LOW16 = _two_byte_length_tables()


def _two_byte_lengths(wire: _Wire, cur: np.ndarray, end: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, ...]:
    """Length-delimited fields with a one-byte tag and a two-byte length: (which, value start, value end)."""
    high = wire.u8[cur + 2]
    start = cur + 3
    after = start + (_LENGTH_LOW16[first] | high.astype(np.int64) << 7)
    return _TWO_BYTE_LENGTH16[first] & (high < 0x80) & (after <= end), start, after


def _scan(wire: _Wire, start: np.ndarray, end: np.ndarray, types: np.ndarray, depth: int) -> _Level:
    """Every recorded field of the messages [start, end) of one nesting level."""
    records = _Records(start.size)
    bad: list[int] = []
    live = np.flatnonzero(start < end)
    cur, lim, type_base = start[live], end[live], types[live] * 65536
    while live.size:
        if live.size < _SCALAR_BELOW:
            _scan_rest(wire, live, cur, lim, type_base >> 16, depth, bad, records)
            break
        first = wire.pairs[cur]
        after = cur + _SCHEMA.advance16[first]
        slot = _SCHEMA.slot_of_tag16[type_base + first]
        value_start = cur + _SCHEMA.value_offset16[first]
        odd = np.flatnonzero(after > lim)
        if odd.size == live.size:  # e.g. every cursor at a span of a scope's list: no need to select
            which, two_start, two_after = _two_byte_lengths(wire, cur, lim, first)
            after, value_start = np.where(which, two_after, after), np.where(which, two_start, value_start)
            odd = np.flatnonzero(~which)
        elif odd.size:
            which, two_start, two_after = _two_byte_lengths(wire, cur[odd], lim[odd], first[odd])
            after[odd[which]], value_start[odd[which]] = two_after[which], two_start[which]
            odd = odd[~which]
        if odd.size:
            odd_after, slot[odd], value_start[odd], state = _decode_fields(
                wire, cur[odd], lim[odd], type_base[odd] >> 16
            )
            after[odd] = odd_after
            group = odd[state == 2]
            if group.size:
                _scan_rest(wire, live[group], cur[group], lim[group], type_base[group] >> 16, depth, bad, records)
            bad.extend(live[odd[state == 1]].tolist())
            stop = odd[state != 0]
            after[stop] = lim[stop]
            slot[stop] = 0
        records.add(live, slot, value_start, after)
        going = np.flatnonzero(after < lim)
        if going.size == live.size:
            cur = after
        else:
            live, cur, lim, type_base = live[going], after[going], lim[going], type_base[going]
    return records.level(np.array(bad, np.int64))


def _scan_rest(
    wire: _Wire,
    items: np.ndarray,
    cur: np.ndarray,
    end: np.ndarray,
    types: np.ndarray,
    depth: int,
    bad: list[int],
    records: _Records,
) -> None:
    """Finish a few messages in plain Python (long tails, groups)."""
    for item, pos, stop, type_id in zip(items.tolist(), cur.tolist(), end.tolist(), types.tolist(), strict=True):
        try:
            found = _scan_one(wire.data, pos, stop, type_id, depth)
        except _Malformed:
            bad.append(item)
            continue
        if found:
            slots, starts, ends = (np.array(column, np.int64) for column in zip(*found, strict=True))
            records.add(np.full(len(found), item), slots, starts, ends)


_DISCARD_ROW = len(_READ_FIELDS)
_READ_ROW = np.where(_SCHEMA.read_column >= 0, _SCHEMA.read_column, _DISCARD_ROW)  # [slot] -> row of _Records.starts


class _Records:
    """The recorded fields of one level's messages, sorted out in batches as the scan finds them (in scan order:
    each message's fields in order): read fields into their columns, sub-messages and strings kept."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.starts = np.full((_DISCARD_ROW + 1, count), -1)  # [read column, message]; the last row discards
        self.ends = np.full((_DISCARD_ROW + 1, count), -1)
        self.children: list[tuple[np.ndarray, ...]] = []
        self.strings: list[tuple[np.ndarray, ...]] = []
        self.pending: list[tuple[np.ndarray, ...]] = []  # small batches wait to be sorted out together
        self.pending_size = 0

    def add(self, item: np.ndarray, slot: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Fields (item, slot, value start, value end) found after those added before (slot 0: not recorded)."""
        self.pending.append((item, slot, start, end))
        self.pending_size += item.size
        if self.pending_size >= _BATCH_RECORDS:
            self._sort_out()

    def _sort_out(self) -> None:
        if len(self.pending) == 1:
            item, slot, start, end = self.pending[0]
        else:
            item, slot, start, end = (np.concatenate(column) for column in zip(*self.pending, strict=True))
        self.pending, self.pending_size = [], 0
        flat = _READ_ROW[slot] * self.count + item
        self.starts.reshape(-1)[flat] = start  # in scan order: a later value replaces an earlier one
        self.ends.reshape(-1)[flat] = end
        bits = _SCHEMA.bits[slot]
        child = np.flatnonzero(bits & _CHILD)
        if child.size:
            self.children.append((item[child], slot[child], start[child], end[child]))
        text = np.flatnonzero(bits & _STRING)
        if text.size:
            self.strings.append((item[text], start[text], end[text]))

    def level(self, bad: np.ndarray) -> _Level:
        """What the scan found: read columns of the fields present, sub-messages in document order, strings."""
        if self.pending:
            self._sort_out()
        present = np.flatnonzero((self.starts[:_DISCARD_ROW] >= 0).any(axis=1)).tolist()
        columns = {index: (self.starts[index], self.ends[index]) for index in present}
        empty = np.zeros(0, np.int64)
        item, slot, start, end = (np.concatenate(c) for c in zip(*self.children, (empty,) * 4, strict=True))
        # document order: by message, each message's fields in scan order (a radix sort when 16 bits hold the messages)
        order = np.argsort(item.astype(np.uint16) if self.count <= 0xFFFF else item, kind="stable")
        text_item, text_start, text_end = (np.concatenate(c) for c in zip(*self.strings, (empty,) * 3, strict=True))
        return _Level(columns, item[order], slot[order], start[order], end[order], text_item, text_start, text_end, bad)


# --- KeyValue messages in their usual encoding, without descending into them ------------------


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


# --- all levels: the message tree ------------------------------------------------------------


@dataclass(slots=True)
class _Tree:
    """Every message (item) of a chunk, numbered in document order level by level, and the fields read."""

    item_type: np.ndarray
    item_parent: np.ndarray
    item_message: np.ndarray
    item_start: np.ndarray
    item_end: np.ndarray
    key_values: _KeyValues
    bad_message: np.ndarray
    reads: dict[int, list[tuple[int, np.ndarray, np.ndarray]]]  # column -> [(first item of level, starts, ends)]
    key_value_row: np.ndarray  # [item] -> row in key_values, -1 when not a plain KeyValue

    def read(self, name: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of the last value of field `name` in each of `items`, -1 when absent."""
        levels = self.reads.get(_READ_FIELDS.index(name), [])
        if len(levels) == 1 and items.size:
            first, level_starts, level_ends = levels[0]
            if items.min() >= first and items.max() < first + level_starts.size:
                return level_starts[items - first], level_ends[items - first]
        starts, ends = np.full(items.size, -1), np.full(items.size, -1)
        for first, level_starts, level_ends in levels:
            inside = np.flatnonzero((items >= first) & (items < first + level_starts.size))
            starts[inside] = level_starts[items[inside] - first]
            ends[inside] = level_ends[items[inside] - first]
        return starts, ends

    def children(self, parent_type: int, child_type: int, keep: np.ndarray) -> np.ndarray:
        """Items of `child_type` whose parent is of `parent_type` and has `keep[parent]`."""
        items = np.flatnonzero(self.item_type == child_type)
        parents = self.item_parent[items]
        ok = parents >= 0
        ok[ok] = (self.item_type[parents[ok]] == parent_type) & keep[parents[ok]]
        return items[ok]


def _walk(wire: _Wire, starts: np.ndarray, ends: np.ndarray) -> _Tree:
    """Descend level by level into every known sub-message, checking the wire format as upb does."""
    bad_message = np.zeros(starts.size, bool)
    start, end, parent, message = starts, ends, np.full(starts.size, -1), np.arange(starts.size)
    types = np.full(starts.size, _REQUEST)
    items: list[tuple[np.ndarray, ...]] = []
    key_values: list[tuple[np.ndarray, ...]] = []
    reads: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    base = depth = 0
    while start.size:
        if depth > _MAX_DEPTH:
            bad_message[message] = True
            break
        keep = np.flatnonzero(~bad_message[message])
        if keep.size < start.size:
            start, end, types, parent, message = start[keep], end[keep], types[keep], parent[keep], message[keep]
        scanned = np.arange(start.size)
        strings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        kv = np.flatnonzero(types == _KEY_VALUE)
        if kv.size and depth < _MAX_DEPTH:
            ok, key_start, key_end, member, value_start = _plain_key_values(wire, start[kv], end[kv])
            plain = kv[ok]
            key_values.append((plain + base, key_start[ok], key_end[ok], member[ok], value_start[ok], end[plain]))
            text = member[ok] == _AS_STRING
            strings.append((message[plain], key_start[ok], np.where(text, end[plain], key_end[ok])))
            unread = np.ones(start.size, bool)
            unread[plain] = False
            scanned = np.flatnonzero(unread)
        level = _scan(wire, start[scanned], end[scanned], types[scanned], depth)
        bad_message[message[scanned[level.bad_items]]] = True
        strings.append((message[scanned[level.string_item]], level.string_start, level.string_end))
        _check_strings(wire, strings, bad_message)
        items.append((types, parent, message, start, end))
        for column, (column_starts, column_ends) in level.read.items():
            if scanned.size < start.size:
                full_starts, full_ends = np.full(start.size, -1), np.full(start.size, -1)
                full_starts[scanned], full_ends[scanned] = column_starts, column_ends
                column_starts, column_ends = full_starts, full_ends
            reads.setdefault(column, []).append((base, column_starts, column_ends))
        local = scanned[level.child_item]
        start, end = level.child_start, level.child_end
        types = _SCHEMA.child_type[level.child_slot]
        parent, message = local + base, message[local]
        base += keep.size
        depth += 1
    item_columns = [np.concatenate(c) for c in zip(*items, strict=True)]
    empty = np.zeros(0, np.int64)
    kv_columns = [np.concatenate(c) for c in zip(*key_values, strict=True)] if key_values else [empty] * 6
    key_value_row = np.full(item_columns[0].size, -1)
    key_value_row[kv_columns[0]] = np.arange(kv_columns[0].size)
    return _Tree(*item_columns, _KeyValues(*kv_columns), bad_message, reads, key_value_row)


def _check_strings(wire: _Wire, strings: list[tuple[np.ndarray, ...]], bad_message: np.ndarray) -> None:
    messages, starts, ends = (np.concatenate(c) for c in zip(*strings, strict=True))
    bad_message[messages[wire.bad_utf8(starts, ends)]] = True


# --- attribute keys --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeyTable:
    """Attribute keys worth reading, found by a hash of length and first 8 bytes, then compared exactly."""

    keys: tuple[str, ...]
    index: dict[str, int]
    words: np.ndarray  # [word, key]: the key's bytes as little-endian 8-byte words, zero padded
    last_words: np.ndarray  # [key]: the key's last 8 bytes as a little-endian word (keys longer than 8 bytes)
    lengths: np.ndarray
    length_ok: np.ndarray  # [length] -> some key has this length (last entry: longer than all)
    multiplier: int
    slots: np.ndarray  # [hash] -> key index or -1


def _build_key_table() -> _KeyTable:
    keys = tuple(dict.fromkeys([*ATTRIBUTE_CODES, _SERVICE_KEY, *NAMESPACE_KEYS]))
    encoded = [k.encode() for k in keys]
    count = max(len(k) for k in encoded) // 8 + 1
    padded = [k.ljust(8 * count, b"\0") for k in encoded]
    words = np.array(
        [[int.from_bytes(p[8 * i : 8 * i + 8], "little") for i in range(count)] for p in padded], np.uint64
    )
    last_words = np.array([int.from_bytes(k[-8:].rjust(8, b"\0"), "little") for k in encoded], np.uint64)
    lengths = np.array([len(k) for k in encoded], np.int64)
    length_ok = np.zeros(int(lengths.max()) + 2, bool)
    length_ok[lengths] = True
    for multiplier in range(0x9E3779B97F4A7C15, 0x9E3779B97F4A7C15 + 4000, 2):
        hashes = _key_hash(words[:, 0], lengths, multiplier)
        if np.unique(hashes).size == len(keys):
            slots = np.full(4096, -1, np.int64)
            slots[hashes] = np.arange(len(keys))
            index = {k: i for i, k in enumerate(keys)}
            return _KeyTable(keys, index, words.T.copy(), last_words, lengths, length_ok, multiplier, slots)
    raise AssertionError("no collision-free hash for the attribute keys")


def _key_hash(first_word: np.ndarray, lengths: np.ndarray, multiplier: int) -> np.ndarray:
    mixed = (first_word ^ lengths.astype(np.uint64)) * np.uint64(multiplier)
    return (mixed >> np.uint64(52)).astype(np.int64)


_KEYS = _build_key_table()
_KEY_ATTRIBUTE_CODE = np.array([ATTRIBUTE_CODES.get(k, -1) for k in _KEYS.keys], np.int64)
_KEY_RESOURCE_CODE = np.array(
    [ATTRIBUTE_CODES[k] if k in RESOURCE_KEYS and k != _SERVICE_KEY else -1 for k in _KEYS.keys], np.int64
)
_SERVICE_INDEX = _KEYS.index[_SERVICE_KEY]
_NAMESPACE_INDICES = [_KEYS.index[k] for k in NAMESPACE_KEYS]


def _match_keys(wire: _Wire, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Index into `_KEYS.keys` of each key, -1 for keys no rule reads."""
    lengths = ends - starts
    out = np.full(starts.size, -1, np.int64)
    candidates = np.flatnonzero(_KEYS.length_ok[np.minimum(lengths, _KEYS.length_ok.size - 1)])
    start, length = starts[candidates], lengths[candidates]
    first = wire.u64[start] & _BYTE_MASKS[np.minimum(length, 8)]
    index = _KEYS.slots[_key_hash(first, length, _KEYS.multiplier)]
    hit = np.flatnonzero(index >= 0)
    candidates, start, length, index = candidates[hit], start[hit], length[hit], index[hit]
    same = (first[hit] == _KEYS.words[0, index]) & (length == _KEYS.lengths[index])
    long = np.flatnonzero(same & (length > 8))
    same[long] = _same_after_first_word(wire, start[long], length[long], index[long])
    out[candidates[same]] = index[same]
    return out


def _same_after_first_word(wire: _Wire, start: np.ndarray, length: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Whether keys of more than 8 bytes, of the length of key `index` and with its first 8 bytes, are that key:
    their last 8 bytes (whole words, no masks), then for longer keys the words in between."""
    same = wire.u64[start + length - 8] == _KEYS.last_words[index]
    for word in range(1, _KEYS.words.shape[0]):
        rows = np.flatnonzero(length > 8 * word + 8)  # word `word` lies wholly before the last 8 bytes
        if not rows.size:
            break
        same[rows] &= wire.u64[start[rows] + 8 * word] == _KEYS.words[word, index[rows]]
    return same


def _read_key_values(wire: _Wire, tree: _Tree, items: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, ...]:
    """(key index, value) of KeyValue `items`; values only where `codes[key index] >= 0` (else None)."""
    table = tree.key_values
    where = tree.key_value_row[items]
    plain = where >= 0
    key = np.full(items.size, -1, np.int64)
    values = np.empty(items.size, object)
    rows = np.flatnonzero(plain)
    at = where[rows]
    key[rows] = _match_keys(wire, table.key_start[at], table.key_end[at])
    wanted = rows[(key[rows] >= 0) & (codes[np.maximum(key[rows], 0)] >= 0)]
    at = where[wanted]
    values[wanted] = _scalars(wire, table.member[at], table.value_start[at], table.value_end[at])
    for row in np.flatnonzero(~plain).tolist():  # unusual encodings: let upb read the (valid) message
        item = int(items[row])
        pair = KeyValue.FromString(wire.data[int(tree.item_start[item]) : int(tree.item_end[item])])
        key[row] = _KEYS.index.get(pair.key, -1)
        if key[row] >= 0 and codes[key[row]] >= 0:
            values[row] = _scalar(pair.value)
    return key, values


# --- from the tree to span columns -----------------------------------------------------------


@dataclass(slots=True)
class _Resources:
    """The resource spans of good messages: index within the request, service, resource triples."""

    items: np.ndarray
    message: np.ndarray
    index: np.ndarray
    service: np.ndarray  # object array of str ("" = none)
    triple_owner: np.ndarray  # resource of each resource triple, grouped by resource in order
    triple_code: np.ndarray
    triple_value: np.ndarray
    namespaces: list[dict[str, object]]  # per resource: its namespace attributes (NAMESPACE_KEYS) found


def _resources(wire: _Wire, tree: _Tree) -> _Resources:
    items = np.flatnonzero(tree.item_type == _RESOURCE_SPANS)
    message = tree.item_message[items]
    index = np.arange(items.size) - np.searchsorted(message, message)
    good = ~tree.bad_message[message]
    items, message, index = items[good], message[good], index[good]
    rank = np.full(tree.item_type.size, -1)
    rank[items] = np.arange(items.size)
    is_resource = np.zeros(tree.item_type.size, bool)
    is_resource[tree.children(_RESOURCE_SPANS, _RESOURCE, rank >= 0)] = True
    pairs = tree.children(_RESOURCE, _KEY_VALUE, is_resource)
    owner = rank[tree.item_parent[tree.item_parent[pairs]]]
    codes = _KEY_RESOURCE_CODE.copy()
    codes[[_SERVICE_INDEX, *_NAMESPACE_INDICES]] = 0
    key, values = _read_key_values(wire, tree, pairs, codes)
    service = np.empty(items.size, object)
    service[:] = ""
    named = np.flatnonzero(key == _SERVICE_INDEX)
    last = named[np.append(owner[named][1:] != owner[named][:-1], True)] if named.size else named
    service[owner[last]] = [v if isinstance(v, str) else "" for v in values[last].tolist()]
    kept = np.flatnonzero((key >= 0) & (_KEY_RESOURCE_CODE[np.maximum(key, 0)] >= 0))
    namespaces: list[dict[str, object]] = [{} for _ in range(items.size)]
    for pair in np.flatnonzero(np.isin(key, _NAMESPACE_INDICES)).tolist():
        namespaces[owner[pair]][_KEYS.keys[key[pair]]] = values[pair]
    return _Resources(
        items, message, index, service, owner[kept], _KEY_RESOURCE_CODE[key[kept]], values[kept], namespaces
    )


@dataclass(slots=True)
class _Spans:
    """The spans that become rows, in row order, and the resource of each."""

    items: np.ndarray
    resource: np.ndarray
    row_of_item: np.ndarray  # [item] -> row, -1 for other items


def _spans(tree: _Tree, resources: _Resources) -> tuple[_Spans, np.ndarray]:
    """Spans of resources with a service; also the span count of every resource."""
    rank = np.full(tree.item_type.size, -1)
    rank[resources.items] = np.arange(resources.items.size)
    items = np.flatnonzero(tree.item_type == _SPAN)
    owner = rank[tree.item_parent[tree.item_parent[items]]]
    items, owner = items[owner >= 0], owner[owner >= 0]
    counts = np.bincount(owner, minlength=resources.items.size)
    named = resources.service[owner] != ""
    items, owner = items[named], owner[named]
    row_of_item = np.full(tree.item_type.size, -1)
    row_of_item[items] = np.arange(items.size)
    return _Spans(items, owner, row_of_item), counts


def _ids(wire: _Wire, tree: _Tree, items: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last value of an id (bytes) field of each item as big-endian (high64, low64, ok).

    As the builder decodes raw ids: absent or empty is 0, up to 16 bytes are right-aligned (a span
    id of more than 8 bytes keeps its low 8 in `low64`), longer ones are not ok (and read as 0).
    """
    starts, ends = tree.read(name, items)
    length = ends - starts  # 0 when absent (both -1)
    size = int(length.max()) if length.size else 0
    if size in (8, 16) and length.min() == size:  # the usual case: all ids of the standard size
        high = wire.u64[starts].byteswap() if size == 16 else np.zeros(items.size, np.uint64)
        return high, wire.u64[ends - 8].byteswap(), np.ones(items.size, bool)
    ok = length <= 16
    length[~ok] = 0
    at = np.maximum(starts, 0)
    low_length = np.minimum(length, 8)
    low = wire.u64[at + (length - low_length)].byteswap()
    low >>= (8 * (8 - low_length)).astype(np.uint64) & np.uint64(63)
    low[low_length == 0] = 0
    high = np.zeros(items.size, np.uint64)
    long = np.flatnonzero(length > 8)
    if long.size:
        high[long] = wire.u64[at[long]].byteswap() >> (8 * (16 - length[long])).astype(np.uint64)
    return high, low, ok


def _times(wire: _Wire, tree: _Tree, items: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A fixed64 time of each item as int64 (0 when absent), and whether it fits (values from 2**63 do not)."""
    starts = tree.read(name, items)[0]
    values = wire.u64[np.maximum(starts, 0)].view(np.int64)
    values[starts < 0] = 0
    ok = values >= 0
    values[~ok] = 0
    return values, ok


def _enums(values: np.ndarray, highest: int) -> np.ndarray:
    """Enum values as int8, those outside 0..highest as 0 (what the builder makes of them)."""
    return np.where((values >= 0) & (values <= highest), values, 0).astype(np.int8)


class _Strings:
    """The string table of one block: services and names interned from their unique values."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}

    def of_strings(self, values: np.ndarray) -> np.ndarray:
        """Indices of an object array of `str`."""
        index = self.index
        for value in dict.fromkeys(values.tolist()):
            index.setdefault(value, len(index))
        return np.fromiter(map(index.__getitem__, values.tolist()), np.int32, values.size)

    def of_ranges(self, wire: _Wire, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Indices of the (UTF-8 checked) strings at [start, end); absent (-1) is ""."""
        out = np.zeros(starts.size, np.int32)
        present = np.flatnonzero(ends > starts)
        starts, ends = starts[present], ends[present]
        first, inverse = wire.unique_ranges(starts, ends)
        index, data = self.index, wire.data
        codes = [
            index.setdefault(data[s:e].decode(), len(index))
            for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)
        ]
        out[present] = np.array(codes, np.int32)[inverse]
        return out


def _column_block(wire: _Wire, tree: _Tree, spans: _Spans, resources: _Resources, wheres: Sequence[str]) -> ColumnBlock:
    """The spans of a chunk as a builder block (rows block-local, in document order)."""
    items = spans.items
    trace_hi, trace_lo, trace_ok = _ids(wire, tree, items, "Span.trace_id")
    span_id, span_ok = _ids(wire, tree, items, "Span.span_id")[1:]
    parent_id, parent_ok = _ids(wire, tree, items, "Span.parent_span_id")[1:]
    start_ns, start_ok = _times(wire, tree, items, "Span.start_time_unix_nano")
    end_ns, end_ok = _times(wire, tree, items, "Span.end_time_unix_nano")
    strings = _Strings()
    service = strings.of_strings(resources.service)[spans.resource]
    name = strings.of_ranges(wire, *tree.read("Span.name", items))
    kind_at = tree.read("Span.kind", items)[0]
    kind = np.where(kind_at >= 0, wire.varints(kind_at)[0].astype(np.uint32).view(np.int32), 0)
    attr_rows, attr_codes, attr_values = _span_triples(wire, tree, spans, resources)
    link_row, link_hi, link_lo, link_span = _links(wire, tree, spans)
    return ColumnBlock(
        trace_hi=trace_hi,
        trace_lo=trace_lo,
        span_id=span_id,
        parent_id=parent_id,
        strings=tuple(strings.index),
        service=service,
        name=name,
        kind=_enums(kind, SpanKind.CONSUMER),
        status=_enums(_status_codes(wire, tree, spans), StatusCode.ERROR),
        start_ns=start_ns,
        end_ns=end_ns,
        flags=np.zeros(items.size, np.uint8),
        id_ok=trace_ok & span_ok & parent_ok,
        time_ok=start_ok & end_ok,
        attr_rows=attr_rows,
        attr_codes=attr_codes,
        attr_values=attr_values,
        link_row=link_row,
        link_trace_hi=link_hi,
        link_trace_lo=link_lo,
        link_span_id=link_span,
        marks=_marks(wheres, resources, spans),
    )


def _status_codes(wire: _Wire, tree: _Tree, spans: _Spans) -> np.ndarray:
    """Status.code of each span: the last one over all its (merged) status fields."""
    codes = np.zeros(spans.items.size, np.int32)
    statuses = tree.children(_SPAN, _STATUS, spans.row_of_item >= 0)
    starts = tree.read("Status.code", statuses)[0]
    present = np.flatnonzero(starts >= 0)
    rows = spans.row_of_item[tree.item_parent[statuses[present]]]
    last = np.append(rows[1:] != rows[:-1], True) if rows.size else np.zeros(0, bool)
    codes[rows[last]] = wire.varints(starts[present[last]])[0].astype(np.uint32).view(np.int32)
    return codes


def _span_triples(wire: _Wire, tree: _Tree, spans: _Spans, resources: _Resources) -> tuple[np.ndarray, ...]:
    """(row, code, value) of every span attribute read, then the resource triples of its span, in builder order."""
    pairs = tree.children(_SPAN, _KEY_VALUE, spans.row_of_item >= 0)
    key, values = _read_key_values(wire, tree, pairs, _KEY_ATTRIBUTE_CODE)
    picked = np.flatnonzero((key >= 0) & (_KEY_ATTRIBUTE_CODE[np.maximum(key, 0)] >= 0))
    rows = spans.row_of_item[tree.item_parent[pairs[picked]]]
    codes, values = _KEY_ATTRIBUTE_CODE[key[picked]], values[picked]
    if not resources.triple_owner.size:
        return rows, codes, values
    per_resource = np.bincount(resources.triple_owner, minlength=resources.items.size)
    first = np.cumsum(per_resource) - per_resource
    repeats = per_resource[spans.resource]
    span_rows = np.repeat(np.arange(spans.items.size), repeats)
    offsets = np.arange(span_rows.size) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    triples = first[spans.resource[span_rows]] + offsets
    all_rows = np.concatenate([rows, span_rows])
    order = np.argsort(all_rows, kind="stable")
    all_codes = np.concatenate([codes, resources.triple_code[triples]])
    all_values = np.concatenate([values, resources.triple_value[triples]])
    return all_rows[order], all_codes[order], all_values[order]


def _links(wire: _Wire, tree: _Tree, spans: _Spans) -> tuple[np.ndarray, ...]:
    """(row, trace high, trace low, span id) of the links the builder keeps: valid, non-zero ids."""
    links = tree.children(_SPAN, _LINK, spans.row_of_item >= 0)
    trace_hi, trace_lo, trace_ok = _ids(wire, tree, links, "Link.trace_id")
    span_id, span_ok = _ids(wire, tree, links, "Link.span_id")[1:]
    keep = np.flatnonzero(trace_ok & span_ok & (span_id != 0) & ((trace_hi | trace_lo) != 0))
    rows = spans.row_of_item[tree.item_parent[links[keep]]]
    return rows.astype(np.int64), trace_hi[keep], trace_lo[keep], span_id[keep]


def _marks(wheres: Sequence[str], resources: _Resources, spans: _Spans) -> list[tuple[int, str, int]]:
    """(first row, "where resourceSpans[i]", 0) of every resource with a service, as the builder locates rows."""
    named = np.flatnonzero(resources.service != "")
    rows = np.searchsorted(spans.resource, named).tolist()
    messages, indices = resources.message[named].tolist(), resources.index[named].tolist()
    return [(row, f"{wheres[m]} resourceSpans[{i}]", 0) for row, m, i in zip(rows, messages, indices, strict=True)]


# --- entry point -----------------------------------------------------------------------------


def decode_otlp_proto(
    messages: Sequence[bytes | memoryview], builder: SpanBatchBuilder, problems: Problems, wheres: Sequence[str]
) -> int:
    """Append every span of many serialized requests to `builder` (as column blocks); returns the span count.

    `TracesData` (what the Collector's Kafka exporter writes) is wire-identical to
    `ExportTraceServiceRequest`, so both are read. A message that does not parse is counted in
    `problems` at its `where` and skipped; the others are still decoded. A resource without
    service.name is counted and its spans skipped. Spans whose ids or times are invalid are counted
    (and dropped) by `builder.build()`, located as "where resourceSpans[i] span k".
    """
    added = 0
    for first, stop in _chunks(messages):
        added += _decode_chunk(messages[first:stop], builder, problems, wheres[first:stop])
    return added


def _chunks(messages: Sequence[bytes | memoryview]) -> list[tuple[int, int]]:
    bounds, first, size = [], 0, 0
    for index, message in enumerate(messages):
        size += len(message)
        if size >= _CHUNK_BYTES:
            bounds.append((first, index + 1))
            first, size = index + 1, 0
    if first < len(messages):
        bounds.append((first, len(messages)))
    return bounds


def _decode_chunk(
    messages: Sequence[bytes | memoryview], builder: SpanBatchBuilder, problems: Problems, wheres: Sequence[str]
) -> int:
    wire = _Wire(messages)
    sizes = np.fromiter((memoryview(m).nbytes for m in messages), np.int64, len(messages))
    ends = np.cumsum(sizes)
    tree = _walk(wire, ends - sizes, ends)
    resources = _resources(wire, tree)
    for service, namespaces in zip(resources.service.tolist(), resources.namespaces, strict=True):
        if namespaces:
            builder.note_namespace(service, namespaces)
    spans, span_counts = _spans(tree, resources)
    _report(problems, wheres, tree, resources, span_counts)
    if spans.items.size:
        builder.add_columns(_column_block(wire, tree, spans, resources, wheres))
    return int(spans.items.size)


def _report(
    problems: Problems, wheres: Sequence[str], tree: _Tree, resources: _Resources, span_counts: np.ndarray
) -> None:
    """Problems in the order the reference finds them: message by message."""
    events = [(m, -1, 0) for m in np.flatnonzero(tree.bad_message).tolist()]
    unnamed = np.flatnonzero(resources.service == "")
    columns = (resources.message[unnamed], resources.index[unnamed], span_counts[unnamed])
    events += zip(*(c.tolist() for c in columns), strict=True)
    for message, index, count in sorted(events):
        if index < 0:
            problems.add(_PARSE_ERROR, wheres[message])
        else:
            problems.add(_NO_SERVICE, f"{wheres[message]} resourceSpans[{index}]", count=count)
