"""The level scanner: the recorded fields of many messages of one nesting level, all cursors in lock-step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.decoders.otlp_proto.buffer import _Wire
from flowviz.decoders.otlp_proto.schema import _CHILD, _READ_FIELDS, _SCALAR_SLOTS, _SCHEMA, _STRING

# What the upb parser behind `ExportTraceServiceRequest.FromString` accepts (the tests check it): a
# known field with an unexpected wire type is an unknown field; unknown fields are skipped, groups
# included (matching end tag, counted in the depth limit); known string fields must be valid UTF-8;
# tags are varints of at most 5 bytes below 2**32 and field 0 is corrupt; lengths are varints of at
# most 5 bytes; other varints at most 10 bytes (excess bits of the 10th ignored); messages and groups
# nest at most 100 deep below the request.
_MAX_DEPTH = 100
_MAX_TAG_BYTES = 5
_MAX_LENGTH_BYTES = 5
_SCALAR_BELOW = 24  # a scan with fewer live cursors than this finishes in plain Python
_BATCH_RECORDS = 4096  # a level's recorded fields are sorted out in batches of at least this many


class _Malformed(Exception):
    """A message does not parse (raised and caught inside the plain-Python paths only)."""


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
