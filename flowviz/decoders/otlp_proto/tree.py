"""The message tree: every message of a chunk, level by level, checked as upb does, with the fields read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.decoders.otlp_proto.buffer import _Wire
from flowviz.decoders.otlp_proto.key_values import _AS_STRING, _KeyValues, _plain_key_values
from flowviz.decoders.otlp_proto.scanner import _MAX_DEPTH, _scan
from flowviz.decoders.otlp_proto.schema import _KEY_VALUE, _READ_FIELDS, _REQUEST, _SCHEMA


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
