"""Collects spans as decoders read them (rows or column blocks) and emits `SpanBatch`es, shared ids separated."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from flowviz.decoders.attributes import NAMESPACE_KEYS, resolve_attributes
from flowviz.decoders.shared_spans import separate_shared_spans
from flowviz.model.ids import hex_ids_to_u64_pairs
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode

ROW_FIELDS = ("trace", "span", "parent", "service", "name", "kind", "status", "start_ns", "end_ns", "flags")
"""Field order of `SpanBatchBuilder.rows` tuples."""
SEAL_ROWS = 4096  # rows collected before they are turned into a column block (see `checkpoint`)


@dataclass(slots=True, eq=False)
class ColumnBlock:
    """Spans already in columns (a vectorised decoder's output, or sealed rows), not yet a batch.

    `service`/`name` index into `strings`; `ok` is False for rows whose ids or times did not
    decode (they are dropped and counted in `build()`, with `reasons` saying why). Attribute
    triples, links and marks use block-local row numbers.
    """

    trace_hi: np.ndarray
    trace_lo: np.ndarray
    span_id: np.ndarray
    parent_id: np.ndarray
    strings: Sequence[str]
    service: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    status: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    flags: np.ndarray
    id_ok: np.ndarray
    time_ok: np.ndarray
    attr_rows: np.ndarray
    attr_codes: np.ndarray
    attr_values: list | np.ndarray  # a list, or an object array (joined as arrays when every block has one)
    link_row: np.ndarray
    link_trace_hi: np.ndarray
    link_trace_lo: np.ndarray
    link_span_id: np.ndarray
    marks: list[tuple[int, str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.span_id.shape[0])

    def head(self, rows: int) -> ColumnBlock:
        """The block of its first `rows` spans (with their attributes, links and marks)."""
        attrs = self.attr_rows < rows
        links = self.link_row < rows
        values = self.attr_values
        kept_values = (
            values[attrs] if isinstance(values, np.ndarray) else [v for v, k in zip(values, attrs, strict=True) if k]
        )
        return ColumnBlock(
            **{name: getattr(self, name)[:rows] for name in _BLOCK_ROW_COLUMNS},
            strings=self.strings,
            attr_rows=self.attr_rows[attrs],
            attr_codes=self.attr_codes[attrs],
            attr_values=kept_values,
            link_row=self.link_row[links],
            link_trace_hi=self.link_trace_hi[links],
            link_trace_lo=self.link_trace_lo[links],
            link_span_id=self.link_span_id[links],
            marks=[mark for mark in self.marks if mark[0] < rows],
        )


_BLOCK_ROW_COLUMNS = (
    "trace_hi", "trace_lo", "span_id", "parent_id", "service", "name", "kind", "status", "start_ns", "end_ns",
    "flags", "id_ok", "time_ok",
)  # fmt: skip


class SpanBatchBuilder:
    """Accumulates spans (as decoders read them) and emits `SpanBatch`es.

    Two ways in: one tuple per span in `rows` (fields `ROW_FIELDS`: ids as hex strings of up to 32
    digits, ints or raw bytes; times as ints or decimal strings; names as strings) with attributes
    as (row, key code, value) triples — `rows`, the triples, `links` and `marks` use row numbers
    local to the rows collected since the last block; or whole `ColumnBlock`s from a vectorised
    decoder (`add_columns`). `build()` converts and concatenates everything at once; rows whose ids
    or times do not convert are dropped there and counted in `problems` with their location.
    """

    __slots__ = (
        "_blocks",
        "attr_codes",
        "attr_rows",
        "attr_values",
        "links",
        "marks",
        "namespaces",
        "problems",
        "rows",
    )

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._blocks: list[ColumnBlock] = []
        self.namespaces: dict[str, str] = {}  # service -> namespace, from resource attributes (`note_namespace`)
        self._reset_rows()

    def _reset_rows(self) -> None:
        self.rows: list[tuple] = []
        self.links: dict[str, list] = {"row": [], "trace": [], "span": []}
        # attributes as (row, key code, value) triples, resolved for the whole batch in build()
        self.attr_rows: list[int] = []
        self.attr_codes: list[int] = []
        self.attr_values: list[object] = []
        # (first row, text, first index): rows from `first row` on are at "text span (first index + k)";
        # a first index of -1 makes the text the exact location of that one row
        self.marks: list[tuple[int, str, int]] = []

    def __len__(self) -> int:
        return sum(len(block) for block in self._blocks) + len(self.rows)

    def checkpoint(self) -> tuple[int, int, int, int, int]:
        """A mark to `rollback()` to: what was added after it (a message that failed half-way) is dropped.

        Taken before each input, it is also where rows collected so far become a column block once there are
        `SEAL_ROWS` of them: short lists stay in the CPU's caches while they are turned into columns."""
        if len(self.rows) >= SEAL_ROWS:
            self._seal_rows()
        return len(self._blocks), len(self.rows), len(self.attr_rows), len(self.links["row"]), len(self.marks)

    def rollback(self, mark: tuple[int, int, int, int, int]) -> None:
        """Drop every span (and its attributes, links, marks) added since `checkpoint()` gave `mark`."""
        blocks, rows, attrs, links, marks = mark
        if len(self._blocks) > blocks:
            # the rows of before the mark were sealed into the first new block: keep its first `rows` rows
            kept = [self._blocks[blocks].head(rows)] if rows else []
            del self._blocks[blocks:]
            self._blocks += [block for block in kept if len(block)]
            self._reset_rows()
            return
        del self.rows[rows:], self.attr_rows[attrs:], self.attr_codes[attrs:], self.attr_values[attrs:]
        for column in self.links.values():
            del column[links:]
        del self.marks[marks:]

    def add(
        self,
        *,
        trace_id: str | int,
        span_id: str | int,
        parent_id: str | int | None,
        service: str,
        name: str = "",
        kind: int = SpanKind.UNSPECIFIED,
        status: int = StatusCode.UNSET,
        start_ns: int | str,
        end_ns: int | str,
        flags: int = 0,
        links: Iterable[tuple[str | int, str | int]] = (),
        attributes: Mapping[str, object] | None = None,
        remote_service: str = "",
        location: str = "",
    ) -> None:
        """Append one span. `parent_id` None/""/0 means root.

        `attributes` (any mapping; only keys in `ATTRIBUTE_CODES` are kept) and `remote_service`
        (Zipkin's remoteEndpoint.serviceName) name the peer, destination, HTTP status, error and
        kind tags by the rules of `flowviz.decoders.attributes`.
        """
        row = len(self.rows)
        self.rows.append((trace_id, span_id, parent_id or "", service, name, kind, status, start_ns, end_ns, flags))
        if attributes or remote_service:
            self.add_attributes(row, attributes or {}, remote_service=remote_service)
        if location:
            self.marks.append((row, location, -1))
        for link_trace, link_span in links:
            self.links["row"].append(row)
            self.links["trace"].append(link_trace)
            self.links["span"].append(link_span)

    def add_attributes(self, row: int, attributes: Mapping[str, object], *, remote_service: str = "") -> None:
        """Record the attributes of span `row` (local to `rows`) that any rule looks at."""
        from flowviz.decoders.attributes import ATTRIBUTE_CODES, ERROR_TAG_CODE, REMOTE_SERVICE_KEY

        for key, value in attributes.items():
            code = ATTRIBUTE_CODES.get(key)
            if code is not None and value is not None and (value != "" or code == ERROR_TAG_CODE):
                self.attr_rows.append(row)
                self.attr_codes.append(code)
                self.attr_values.append(value)
        if remote_service:
            self.attr_rows.append(row)
            self.attr_codes.append(ATTRIBUTE_CODES[REMOTE_SERVICE_KEY])
            self.attr_values.append(remote_service)

    def note_namespace(self, service: object, attributes: Mapping[str, object]) -> None:
        """Remember the namespace a resource's attributes (or a Jaeger process's tags) give its service: the first of
        `NAMESPACE_KEYS` present with a non-empty text; nothing when there is none."""
        for key in NAMESPACE_KEYS:
            value = attributes.get(key)
            if isinstance(value, str) and value and isinstance(service, str) and service:
                self.namespaces[service] = value
                return

    def add_columns(self, block: ColumnBlock) -> None:
        """Append spans that a vectorised decoder already has in columns (after the rows so far)."""
        self._seal_rows()
        if len(block):
            self._blocks.append(block)

    def _seal_rows(self) -> None:
        """Turn the tuple rows collected so far into a column block (ids, times decoded at once)."""
        if not self.rows:
            return
        count = len(self.rows)
        fields = dict(zip(ROW_FIELDS, zip(*self.rows, strict=True), strict=True))
        trace_hi, trace_lo, trace_ok = hex_ids_to_u64_pairs(fields["trace"])
        _, span_id, span_ok = hex_ids_to_u64_pairs(fields["span"])
        _, parent_id, parent_ok = hex_ids_to_u64_pairs(fields["parent"])
        start_ns, start_ok = _to_int64(fields["start_ns"])
        end_ns, end_ok = _to_int64(fields["end_ns"])
        strings = _StringTable()
        link_hi, link_lo, link_trace_ok = hex_ids_to_u64_pairs(self.links["trace"])
        _, link_span, link_span_ok = hex_ids_to_u64_pairs(self.links["span"])
        link_ok = link_trace_ok & link_span_ok & (link_span != 0) & ((link_hi | link_lo) != 0)
        self._blocks.append(
            ColumnBlock(
                trace_hi=trace_hi,
                trace_lo=trace_lo,
                span_id=span_id,
                parent_id=parent_id,
                service=strings.indices(fields["service"]),
                name=strings.indices(fields["name"]),
                strings=strings.as_tuple(),
                kind=_small_ints(fields["kind"], np.int8),
                status=_small_ints(fields["status"], np.int8),
                flags=_small_ints(fields["flags"], np.uint8),
                start_ns=start_ns,
                end_ns=end_ns,
                id_ok=trace_ok & span_ok & parent_ok,
                time_ok=start_ok & end_ok,
                attr_rows=np.array(self.attr_rows, np.int64),
                attr_codes=np.array(self.attr_codes, np.int64),
                attr_values=self.attr_values,
                link_row=np.array(self.links["row"], np.int64)[link_ok],
                link_trace_hi=link_hi[link_ok],
                link_trace_lo=link_lo[link_ok],
                link_span_id=link_span[link_ok],
                marks=self.marks,
            )
        )
        assert len(self._blocks[-1]) == count
        self._reset_rows()

    def location_of(self, row: int, marks: list[tuple[int, str, int]] | None = None) -> str:
        """Where span `row` came from, as precise as the decoder marked it (default: the rows' marks)."""
        marks = self.marks if marks is None else marks
        index = bisect.bisect_right(marks, (row, "\U0010ffff", 0)) - 1
        if index < 0:
            return ""
        first, text, first_index = marks[index]
        if first_index < 0:
            return text if first == row else ""
        return f"{text} span {first_index + row - first}"

    def build(self) -> SpanBatch:
        """Emit everything accumulated as one batch and start afresh."""
        self._seal_rows()
        blocks, self._blocks = self._blocks, []
        namespaces, self.namespaces = tuple(self.namespaces.items()), {}
        if not blocks:
            return SpanBatch.empty()
        offsets = np.cumsum([0] + [len(b) for b in blocks])
        strings = _StringTable()
        remaps = [strings.indices(list(b.strings)) for b in blocks]

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in blocks])

        columns = {
            "service": np.concatenate([remap[b.service] for remap, b in zip(remaps, blocks, strict=True)]),
            "name": np.concatenate([remap[b.name] for remap, b in zip(remaps, blocks, strict=True)]),
            "kind": joined("kind").astype(np.int8),
            "status": joined("status").astype(np.int8),
            "flags": joined("flags").astype(np.uint8),
            "start_ns": joined("start_ns").astype(np.int64),
            "end_ns": joined("end_ns").astype(np.int64),
        }
        count = int(offsets[-1])
        columns.update(
            peer=np.zeros(count, np.int32),
            peer_kind=np.zeros(count, np.int8),
            destination=np.zeros(count, np.int32),
            http_status=np.zeros(count, np.int16),
        )
        columns["kind"][(columns["kind"] < 0) | (columns["kind"] > SpanKind.CONSUMER)] = SpanKind.UNSPECIFIED
        columns["status"][(columns["status"] < 0) | (columns["status"] > StatusCode.ERROR)] = StatusCode.UNSET
        attr_rows = np.concatenate([b.attr_rows + off for b, off in zip(blocks, offsets, strict=False)])
        attr_values = _joined_values([b.attr_values for b in blocks])
        self._apply_attributes(columns, strings, attr_rows, joined("attr_codes"), attr_values, count)
        batch = SpanBatch(
            strings=strings.as_tuple(),
            trace_hi=joined("trace_hi").astype(np.uint64),
            trace_lo=joined("trace_lo").astype(np.uint64),
            span_id=joined("span_id").astype(np.uint64),
            parent_id=joined("parent_id").astype(np.uint64),
            **columns,
            link_row=np.concatenate([b.link_row + off for b, off in zip(blocks, offsets, strict=False)]).astype(
                np.int32
            ),
            link_trace_hi=joined("link_trace_hi").astype(np.uint64),
            link_trace_lo=joined("link_trace_lo").astype(np.uint64),
            link_span_id=joined("link_span_id").astype(np.uint64),
            service_namespaces=namespaces,
        )
        trace_set = (batch.trace_hi | batch.trace_lo) != 0
        id_ok = joined("id_ok") & (batch.span_id != 0) & trace_set
        time_ok = joined("time_ok") & (batch.start_ns >= 0) & (batch.end_ns >= batch.start_ns)
        marks = [
            (first + int(off), text, index)
            for b, off in zip(blocks, offsets, strict=False)
            for first, text, index in b.marks
        ]
        self._report(~id_ok, "span with an invalid trace or span id", marks)
        self._report(id_ok & ~time_ok, "span with an invalid start or end time", marks)
        ok = id_ok & time_ok
        own_parent = ok & (batch.parent_id == batch.span_id)
        if own_parent.any():  # a reference that leads nowhere: the span is kept as a root
            self._report(own_parent, "span whose parent id is its own id (read as a root)", marks)
            batch.parent_id[own_parent] = 0
        return separate_shared_spans(batch if ok.all() else batch.take(ok))

    def _apply_attributes(self, columns, strings, rows, codes, values, count) -> None:
        if rows.size == 0:
            return
        resolved = resolve_attributes(count, rows, codes, values)
        peer_rows = resolved.peer_rows
        columns["peer"][peer_rows] = strings.indices(resolved.peer_values)
        columns["peer_kind"][peer_rows] = resolved.peer_kind[peer_rows]
        columns["destination"][resolved.destination_rows] = strings.indices(resolved.destination_values)
        has_http = resolved.http_status != 0
        columns["http_status"][has_http] = resolved.http_status[has_http]
        columns["status"][resolved.tag_error] = StatusCode.ERROR
        tagged_kind = (resolved.tag_kind != 0) & (columns["kind"] == SpanKind.UNSPECIFIED)
        columns["kind"][tagged_kind] = resolved.tag_kind[tagged_kind]

    def _report(self, bad: np.ndarray, reason: str, marks: list[tuple[int, str, int]]) -> None:
        for row in np.flatnonzero(bad).tolist():
            self.problems.add(reason, self.location_of(row, marks))


class _StringTable:
    """Interning of many strings at once: unique values first (C speed), then one lookup each."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {"": 0}

    def indices(self, values: Sequence[object]) -> np.ndarray:
        index = self._index
        try:
            for value in dict.fromkeys(values):
                if value not in index:
                    index[value] = len(index)
        except TypeError:  # an unhashable value from a malformed document
            return self._normalise(values)
        if None in index or any(type(k) is not str for k in index):
            return self._normalise(values)
        return np.fromiter(map(index.__getitem__, values), np.int32, len(values))

    def _normalise(self, values: Sequence[object]) -> np.ndarray:
        """Slow path: None -> "", non-strings -> str(); rebuilds the table with strings only."""
        old = self._index
        self._index = {}
        for key in old:
            if isinstance(key, str):
                self._index.setdefault(key, len(self._index))
        text = ["" if v is None else v if isinstance(v, str) else str(v) for v in values]
        return self.indices(text)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self._index)


def _joined_values(parts: list[list | np.ndarray]) -> list | np.ndarray:
    """The attribute values of many blocks in order: one object array when all are arrays, else one list."""
    if all(isinstance(part, np.ndarray) for part in parts):
        return np.concatenate(parts) if parts else np.empty(0, object)
    return list(chain.from_iterable(parts))


def _small_ints(values: Sequence[object], dtype: type) -> np.ndarray:
    try:
        return np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        return np.array([v if type(v) is int and 0 <= v < 128 else 0 for v in values], dtype=dtype)


def _to_int64(values: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Ints or decimal strings to int64, with a mask of the values that converted (bools do not)."""
    try:
        converted = np.array(values, dtype=np.int64)
        if converted.ndim == 1 and bool not in set(map(type, values)):
            return converted, np.ones(len(values), bool)
    except (ValueError, TypeError, OverflowError):
        pass
    out = np.zeros(len(values), np.int64)
    ok = np.ones(len(values), bool)
    for i, value in enumerate(values):
        try:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise TypeError(value)
            out[i] = int(value)
        except (ValueError, TypeError, OverflowError):
            ok[i] = False
    return out, ok
