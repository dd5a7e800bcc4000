"""From the message tree to span columns: resources, spans, ids, times, names, attributes, links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowviz.decoders.builder import ColumnBlock
from flowviz.decoders.otlp_proto.attribute_keys import (
    _KEY_ATTRIBUTE_CODE,
    _KEY_RESOURCE_CODE,
    _KEYS,
    _NAMESPACE_INDICES,
    _SERVICE_INDEX,
    _read_key_values,
)
from flowviz.decoders.otlp_proto.buffer import _Wire
from flowviz.decoders.otlp_proto.schema import _KEY_VALUE, _LINK, _RESOURCE, _RESOURCE_SPANS, _SPAN, _STATUS
from flowviz.decoders.otlp_proto.tree import _Tree
from flowviz.model.span_batch import SpanKind, StatusCode


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
