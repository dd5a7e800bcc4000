"""Exemplar traces per service and per edge (slowest, failing, most recent), with their spans, in bounded memory."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from flowviz.derive.critical_path import credit_peers, critical_path, exclusive_ns
from flowviz.derive.critical_path import parent_rows as trace_parent_rows
from flowviz.derive.span_table import ColumnTable, span_keys
from flowviz.derive.trace_calls import trace_calls
from flowviz.model.ids import hex_ids_to_u64_pairs, u64_pair_to_hex
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode
from flowviz.store.latency_bins import BIN_COUNT, bin_of, percentiles
from flowviz.store.operation_stats import DEFAULT_OPERATION_BUDGET_BYTES, OTHER, OperationFigures, OperationStats

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
BUCKET_WIDTHS_NS = (MINUTE_NS, 10 * MINUTE_NS, 60 * MINUTE_NS, 24 * 60 * MINUTE_NS)
"""Exemplar buckets: per minute while memory allows, then 10 min, 1 h and 1 day for the oldest data."""
DEFAULT_QUIET_NS = 30 * SECOND_NS
DEFAULT_TRACE_BUDGET_BYTES = 48 << 20
KINDS = ("slowest", "failing", "recent")
USER_NODE = "user"  # the virtual caller of root spans, as the deriver names it
UNKNOWN_PEER = "unknown"
LATE_SPANS = "exemplars: span arrived after its trace was closed (not kept)"
TOO_OLD = "exemplars: older than retained exemplars"

_SLOWEST, _FAILING, _RECENT, _BAND = 1, 2, 4, 8
_FLAG_NAMES = ((_SLOWEST, "slowest"), (_FAILING, "failing"), (_RECENT, "recent"), (_BAND, "latency band"))
_BAND_BINS = 8  # a latency band is 8 log bins (a factor of about 2)
_NEVER = -(1 << 62)
_KEY_SHIFT = 34  # group id = key << 34 | bucket start in seconds (< 2**34: until the year 2514)

_PENDING = {
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "span_id": np.uint64,
    "parent_id": np.uint64,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "name": np.int32,
    "peer": np.int32,
    "destination": np.int32,
    "kind": np.int8,
    "status": np.int8,
    "http_status": np.int16,
    "peer_kind": np.int8,
}
_BATCH_COLUMNS = (
    "trace_hi",
    "trace_lo",
    "span_id",
    "parent_id",
    "kind",
    "status",
    "start_ns",
    "end_ns",
    "service",
    "name",
    "peer",
    "peer_kind",
    "destination",
    "http_status",
)
_POOL = {
    "span_id": np.uint64,
    "parent_id": np.uint64,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "name": np.int32,
    "peer": np.int32,
    "destination": np.int32,
    "kind": np.int8,
    "status": np.int8,
    "http_status": np.int16,
    "peer_kind": np.int8,
}
_TRACES = {
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "pool_start": np.int64,
    "pool_len": np.int32,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "path_ns": np.int64,  # critical path length (skew-corrected trace duration)
    "alive": np.bool_,
    "truncated": np.bool_,
}
_ROWS = {  # one row per (kept trace, service or edge it passes through)
    "trace": np.int32,
    "key": np.int32,
    "level": np.int8,
    "bucket_s": np.int64,
    "time_ns": np.int64,
    "latency_ns": np.int64,
    "critical_ns": np.int64,
    "self_ns": np.int64,  # services: time of its spans not waiting on anything they called (peers: their calls)
    "busy_ns": np.int64,  # services: the time of its entry spans (self + waiting)
    "operation": np.int32,  # services: name of its longest entry span in the trace
    "error": np.bool_,
    "flags": np.uint8,
}
_DICT_ENTRY_BYTES = 120  # a trace id -> slot entry, or an interned string / key (besides the text)


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One kept trace as seen from a service (or edge): when it got there, how long it took there, whether it failed.

    `latency_ns` is the longest span by which the trace entered the service (its SERVER/CONSUMER
    span, or a span whose parent is in another service or missing); for an edge, the longest call
    on it. `reasons` says why the trace is kept for this service in its time bucket.
    """

    trace_hi: int
    trace_lo: int
    start_ns: int
    latency_ns: int
    error: bool
    trace_start_ns: int
    trace_end_ns: int
    reasons: tuple[str, ...]

    @property
    def trace_id(self) -> str:
        """Hex as in the capture: 16 digits for 64-bit trace ids, else 32."""
        return u64_pair_to_hex(self.trace_hi, self.trace_lo, digits=0)

    @property
    def duration_ms(self) -> float:
        return self.latency_ns / 1e6

    @property
    def trace_duration_ms(self) -> float:
        return (self.trace_end_ns - self.trace_start_ns) / 1e6


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """A node's (or one operation's) time in kept traces: its own work vs waiting on what it called."""

    name: str
    traces: int
    self_ns: int
    busy_ns: int

    @property
    def waiting_ns(self) -> int:
        return max(self.busy_ns - self.self_ns, 0)

    @property
    def self_share(self) -> float:
        return min(self.self_ns / self.busy_ns, 1.0) if self.busy_ns > 0 else 1.0


def _split(rows: ColumnTable, picked: np.ndarray, name: str) -> TimeSplit:
    return TimeSplit(
        name=name,
        traces=int(np.unique(rows["trace"][picked]).size),
        self_ns=int(rows["self_ns"][picked].sum()),
        busy_ns=int(rows["busy_ns"][picked].sum()),
    )


@dataclass(frozen=True, slots=True, eq=False)
class TraceSpans:
    """All kept spans of one trace in start order, for a waterfall; string columns index into `strings`."""

    trace_hi: int
    trace_lo: int
    strings: tuple[str, ...]
    span_id: np.ndarray
    parent_id: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    service: np.ndarray
    name: np.ndarray
    peer: np.ndarray
    kind: np.ndarray
    status: np.ndarray
    http_status: np.ndarray  # 0 where none
    truncated: bool  # more spans than `max_spans_per_trace`: the earliest starting ones are kept
    destination: np.ndarray  # the topic or queue a message span names (0: none)
    peer_kind: np.ndarray  # `PeerKind` of the peer a client span names

    def __len__(self) -> int:
        return int(self.span_id.shape[0])

    @property
    def trace_id(self) -> str:
        return u64_pair_to_hex(self.trace_hi, self.trace_lo, digits=0)

    def string_column(self, column: str) -> list[str]:
        return [self.strings[i] for i in getattr(self, column).tolist()]

    def span_batch(self) -> SpanBatch:
        """The trace's spans as a `SpanBatch` (for the deriver's rules)."""
        size = len(self)
        return SpanBatch(
            strings=self.strings,
            trace_hi=np.full(size, self.trace_hi, np.uint64),
            trace_lo=np.full(size, self.trace_lo, np.uint64),
            span_id=self.span_id,
            parent_id=self.parent_id,
            kind=self.kind,
            status=self.status,
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            service=self.service,
            name=self.name,
            peer=self.peer,
            peer_kind=self.peer_kind,
            destination=self.destination,
            http_status=self.http_status,
            flags=np.zeros(size, np.uint8),
        )


class ExemplarStore:
    """Kept traces per service and per edge, with their spans; and per-operation figures (`operations`).

    **What is kept.** Spans are grouped by trace; a trace is *closed* once no span of it has
    ended for `quiet_ns` of event time (the latest span end seen; `flush()` closes all). For every
    service and edge a closed trace passes through, and its time bucket (1 min; coarser further
    back, see below), the store keeps the `slowest` N traces (by the service's latency in the
    trace), the N most recent `failing` ones, the N most `recent` ones, and for services also the
    most recent trace of every latency band (8 log bins, about ×2), so that any latency range of
    the histogram has examples. A trace kept for any of these keeps all its spans (compact numpy
    columns, at most `max_spans_per_trace`). Spans of a kept trace arriving after it closed are
    added to it; spans of a trace closed and not kept are dropped (counted in `dropped`). The
    selection does not depend on how the input is split into batches.

    **Memory bound.** Per (service or edge, bucket) at most 3·N traces plus one per occupied
    latency band are selected, at most `max_traces` in all. Kept spans (48 bytes each), index rows
    (one per service and edge a kept trace passes through, 63 bytes) and the trace table take at
    most `trace_budget_bytes` (default 48 MiB) after every ingest. When over it, the finest level
    holding more buckets than make one of the next (10 one-minute, 6 ten-minute, 24 one-hour
    buckets) has its oldest merged into their coarser bucket (N of each kind kept per merged
    bucket); when no level does, the oldest bucket is dropped, so a small budget keeps the newest
    minutes. `OperationStats` has its own budget (default 16 MiB). Traces not yet closed wait in a
    pending table of at most `max_pending_spans` spans (69 bytes each; when full, the traces quiet
    the longest close early). Strings are capped at `max_strings`, keys at `max_keys`. So
    `memory_bytes()`, which counts all of it, stays below the two budgets + 100 bytes ×
    `max_pending_spans` (spare capacity included) + the string, key and closed-id tables: about
    64 + 29 + a few MiB by default. Ten minutes of the simulator at 2 000 spans/s take ~24 MiB.

    **Queries** see every kept trace (not every trace): `exemplars`, `traces_in_latency_range`,
    `trace`, `critical_path_share`; `operations` and `latency_histogram` count *every* entry span
    of the service. One writer calls `ingest`; queries may come from other threads (a lock
    serialises them with ingests).
    """

    def __init__(
        self,
        *,
        per_kind: int = 5,
        quiet_ns: int = DEFAULT_QUIET_NS,
        trace_budget_bytes: int = DEFAULT_TRACE_BUDGET_BYTES,
        operation_budget_bytes: int = DEFAULT_OPERATION_BUDGET_BYTES,
        max_traces: int = 200_000,
        max_spans_per_trace: int = 10_000,
        max_pending_spans: int = 300_000,
        max_strings: int = 200_000,
        max_keys: int = 100_000,
        bucket_widths_ns: Sequence[int] = BUCKET_WIDTHS_NS,
        problems: Problems | None = None,
    ) -> None:
        widths = tuple(int(w) for w in bucket_widths_ns)
        if not widths or widths[0] % SECOND_NS or any(b % a for a, b in pairwise(widths)):
            raise ValueError("bucket widths must be whole seconds, each a multiple of the one before")
        self.bucket_widths_ns = widths
        self.per_kind = int(per_kind)
        self.quiet_ns = int(quiet_ns)
        self.trace_budget_bytes = int(trace_budget_bytes)
        self.max_traces = int(max_traces)
        self.max_spans_per_trace = int(max_spans_per_trace)
        self.max_pending_spans = int(max_pending_spans)
        self.max_strings = int(max_strings)
        self.max_keys = int(max_keys)
        self.problems = problems
        self.dropped: dict[str, int] = {}
        self.operations_table = OperationStats(memory_budget_bytes=operation_budget_bytes)
        self._lock = threading.RLock()
        self._strings: list[str] = ["", OTHER, USER_NODE, UNKNOWN_PEER]
        self._string_of = {s: i for i, s in enumerate(self._strings)}
        self._string_bytes = 0
        self._keys: list[tuple[int, int]] = []  # (service, -1) or (source, target) string ids
        self._key_of: dict[tuple[int, int], int] = {}
        self._key_is_service = np.zeros(0, bool)
        self._pending = ColumnTable(_PENDING)
        self._pool = ColumnTable(_POOL)
        self._pool_dead = 0
        self._traces = ColumnTable(_TRACES)
        self._slot_of: dict[tuple[int, int], int] = {}
        self._rows = ColumnTable(_ROWS)
        self._closed = (np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64))  # recently closed
        self._watermark_ns = _NEVER
        self._next_close_ns = _NEVER
        self._coarse_before_ns = [_NEVER] * (len(self.bucket_widths_ns) - 1)
        self._floor_ns = _NEVER

    # -- the writer ---------------------------------------------------------------------------

    def ingest(self, batch: SpanBatch) -> None:
        """Take a batch of spans (any order, traces split across batches); close the traces gone quiet."""
        if not len(batch):
            return
        with self._lock:
            remap = self._intern(batch.strings)
            service, name = remap[batch.service], remap[batch.name]
            entry = np.flatnonzero((batch.kind == SpanKind.SERVER) | (batch.kind == SpanKind.CONSUMER))
            self.operations_table.add(
                batch.start_ns[entry],
                service[entry],
                name[entry],
                batch.duration_ns[entry],
                batch.status[entry] == StatusCode.ERROR,
            )
            self._pending.append(
                trace_hi=batch.trace_hi,
                trace_lo=batch.trace_lo,
                span_id=batch.span_id,
                parent_id=batch.parent_id,
                start_ns=batch.start_ns,
                end_ns=batch.end_ns,
                service=service,
                name=name,
                peer=remap[batch.peer],
                destination=remap[batch.destination],
                kind=batch.kind,
                status=batch.status,
                http_status=batch.http_status,
                peer_kind=batch.peer_kind,
            )
            self._watermark_ns = max(self._watermark_ns, int(batch.end_ns.max()))
            if self._watermark_ns >= self._next_close_ns or len(self._pending) > self.max_pending_spans:
                self._close(self._watermark_ns - self.quiet_ns)
                self._next_close_ns = self._watermark_ns + self.quiet_ns // 8

    def flush(self) -> None:
        """End of input: close every trace still open."""
        with self._lock:
            self._close(None)

    # -- readers ------------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """Bytes held: numpy columns (with spare capacity), operation cells, tables of strings, keys and ids."""
        with self._lock:
            return (
                self._trace_bytes()
                + self._pending.nbytes
                + self.operations_table.memory_bytes()
                + self._string_bytes
                + _DICT_ENTRY_BYTES * (len(self._strings) + len(self._keys))
                + sum(a.nbytes for a in self._closed)
            )

    @property
    def kept_traces(self) -> int:
        return len(self._slot_of)

    @property
    def pending_spans(self) -> int:
        return len(self._pending)

    def services(self) -> list[str]:
        """Names of the services seen in closed traces."""
        with self._lock:
            return sorted(self._strings[a] for a, b in self._keys if b < 0)

    def exemplars(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, *, kind: str = "slowest", limit: int = 10
    ) -> list[Exemplar]:
        """Kept traces through `service` (a name, or an edge as (source, target)) that reached it in [start_ns, end_ns).

        `kind`: "slowest" (by latency at the service, longest first), "failing" (an error status
        in the service's spans, most recent first) or "recent" (most recent first). For windows of
        whole buckets the first N (`per_kind`) of each kind are exactly those of all closed traces.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            if kind == "failing":
                rows = rows[self._rows["error"][rows]]
            score = self._rows["latency_ns"] if kind == "slowest" else self._rows["time_ns"]
            rows = rows[np.argsort(-score[rows], kind="stable")][: max(int(limit), 0)]
            return self._exemplar_list(rows)

    def traces_in_latency_range(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, low_ms: float, high_ms: float
    ) -> list[Exemplar]:
        """The *kept exemplar traces* (not all traces) through `service` in [start_ns, end_ns) whose latency at the
        service is in [low_ms, high_ms), fastest first.

        Kept traces cover every latency band of each minute (and the slowest, failing and latest),
        so a range of the histogram always lists examples if it has calls, but not all of its calls.
        """
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            latency = self._rows["latency_ns"][rows]
            rows = rows[(latency >= low_ms * 1e6) & (latency < high_ms * 1e6)]
            rows = rows[np.argsort(self._rows["latency_ns"][rows], kind="stable")]
            return self._exemplar_list(rows)

    def traces_in_latency_bins(
        self, service: str | tuple[str, str], start_ns: int, end_ns: int, first_bin: int, last_bin: int
    ) -> list[Exemplar]:
        """Like `traces_in_latency_range` for the histogram bins first_bin..last_bin (`latency_bins`), exactly as
        `latency_histogram` bins the calls."""
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            bins = bin_of(self._rows["latency_ns"][rows])
            rows = rows[(bins >= first_bin) & (bins <= last_bin)]
            rows = rows[np.argsort(self._rows["latency_ns"][rows], kind="stable")]
            return self._exemplar_list(rows)

    def trace(self, trace_id: str | tuple[int, int]) -> TraceSpans | None:
        """All spans of a kept trace (hex id as in the capture, or (high, low) 64-bit halves); None if not kept."""
        if isinstance(trace_id, str):
            high, low, ok = hex_ids_to_u64_pairs([trace_id])
            if not ok[0]:
                return None
            trace_id = (int(high[0]), int(low[0]))
        with self._lock:
            slot = self._slot_of.get((int(trace_id[0]), int(trace_id[1])))
            if slot is None:
                return None
            first = int(self._traces["pool_start"][slot])
            rows = slice(first, first + int(self._traces["pool_len"][slot]))
            columns = {name: self._pool[name][rows].copy() for name in _POOL}
            order = np.argsort(columns["start_ns"], kind="stable")
            columns = {name: column[order] for name, column in columns.items()}
            used, local = np.unique(
                np.concatenate([columns["service"], columns["name"], columns["peer"], columns["destination"], [0, 3]]),
                return_inverse=True,
            )
            size = len(order)
            for index, name in enumerate(("service", "name", "peer", "destination")):
                columns[name] = local[index * size : (index + 1) * size].astype(np.int32)
            return TraceSpans(
                trace_hi=trace_id[0],
                trace_lo=trace_id[1],
                strings=tuple(self._strings[i] for i in used.tolist()),
                truncated=bool(self._traces["truncated"][slot]),
                **columns,
            )

    def critical_path_share(self, service: str, start_ns: int, end_ns: int) -> float | None:
        """The service's share of critical-path time over the kept traces that reached it in the window (None: none)."""
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            if not rows.size:
                return None
            total = int(self._traces["path_ns"][self._rows["trace"][rows]].sum())
            return float(self._rows["critical_ns"][rows].sum() / total) if total > 0 else 0.0

    def time_split(self, service: str, start_ns: int, end_ns: int) -> TimeSplit | None:
        """Over the kept traces that reached the node in the window: its own time vs time waiting on what it
        called (None: no kept trace). Time spent waiting on uninstrumented peers is the peers' own time."""
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            if not rows.size:
                return None
            return _split(self._rows, rows, service)

    def operation_time_splits(self, service: str, start_ns: int, end_ns: int) -> list[TimeSplit]:
        """`time_split` per main operation of the node in its kept traces, busiest first."""
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            if not rows.size:
                return []
            operations = self._rows["operation"][rows]
            out = [
                _split(self._rows, rows[operations == op], self._strings[op]) for op in np.unique(operations).tolist()
            ]
        return sorted(out, key=lambda split: (-split.busy_ns, split.name))

    def operations(self, service: str, start_ns: int, end_ns: int) -> list[OperationFigures]:
        """Per operation (span name) of the service's entry spans starting in the window: calls, failures, p50/95/99.

        Entry spans are SERVER and CONSUMER spans (counted as they arrive) and, once their trace is
        closed, spans of no kind or INTERNAL whose parent is in another service or missing (Jaeger
        captures carry no kinds). Most calls first.
        """
        with self._lock:
            sid = self._string_of.get(service)
            if sid is None:
                return []
            names, errors, hist = self.operations_table.operations(sid, start_ns, end_ns)
            calls = hist.sum(axis=1)
            pct = percentiles(hist) if len(names) else np.zeros((0, 3))
            figures = [
                OperationFigures(self._strings[n], int(calls[i]), int(errors[i]), *map(float, pct[i]))
                for i, n in enumerate(names)
                if calls[i]
            ]
        return sorted(figures, key=lambda f: (-f.requests, f.name))

    def latency_histogram(self, service: str, start_ns: int, end_ns: int) -> np.ndarray:
        """Calls of the service's entry spans per latency bin (`latency_bins`, BIN_COUNT long) in the window."""
        with self._lock:
            sid = self._string_of.get(service)
            if sid is None:
                return np.zeros(BIN_COUNT, np.int64)
            return self.operations_table.operations(sid, start_ns, end_ns)[2].sum(axis=0)

    # -- interning ----------------------------------------------------------------------------

    def _intern(self, strings: Sequence[str]) -> np.ndarray:
        out = np.empty(len(strings), np.int32)
        table, index = self._strings, self._string_of
        for position, text in enumerate(strings):
            sid = index.get(text)
            if sid is None:
                if len(table) >= self.max_strings:
                    sid = 1
                else:
                    sid = index[text] = len(table)
                    table.append(text)
                    self._string_bytes += len(text)
            out[position] = sid
        return out

    def _intern_keys(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Key ids of (service, -1) or (source, target) string-id pairs; beyond `max_keys`, one overflow key."""
        pair = first.astype(np.int64) << 32 | (second.astype(np.int64) & 0xFFFFFFFF)
        unique, inverse = np.unique(pair, return_inverse=True)
        ids = np.empty(unique.shape[0], np.int32)
        for position, value in enumerate(unique.tolist()):
            key = (value >> 32, -1 if value & 0xFFFFFFFF == 0xFFFFFFFF else value & 0xFFFFFFFF)
            kid = self._key_of.get(key)
            if kid is None:
                if len(self._keys) >= self.max_keys:
                    key = (1, -1 if key[1] < 0 else 1)
                    kid = self._key_of.get(key)
                if kid is None:
                    kid = self._key_of[key] = len(self._keys)
                    self._keys.append(key)
            ids[position] = kid
        if len(self._keys) > self._key_is_service.size:
            self._key_is_service = np.array([second < 0 for _, second in self._keys], bool)
        return ids[inverse]

    def _key_id(self, service: str | tuple[str, str]) -> int | None:
        if isinstance(service, str):
            sid = self._string_of.get(service)
            return None if sid is None else self._key_of.get((sid, -1))
        source, target = (self._string_of.get(s) for s in service)
        return None if source is None or target is None else self._key_of.get((source, target))

    # -- closing traces -----------------------------------------------------------------------

    def _close(self, before_ns: int | None) -> None:
        """Close the pending traces whose last span ended before `before_ns` (all for None), keep the exemplars."""
        pending = self._pending
        if not len(pending):
            return
        order = np.lexsort((pending["start_ns"], pending["trace_lo"], pending["trace_hi"]))
        hi, lo = pending["trace_hi"][order], pending["trace_lo"][order]
        first = np.flatnonzero(np.concatenate(([True], (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1]))))
        last_end = np.maximum.reduceat(pending["end_ns"][order], first)
        sizes = np.diff(np.append(first, len(order)))
        closing = np.ones(first.size, bool) if before_ns is None else last_end < before_ns
        over = int(sizes[~closing].sum()) - self.max_pending_spans * 3 // 4
        if over > 0:  # too many spans waiting: the traces quiet the longest close early
            waiting = np.flatnonzero(~closing)
            waiting = waiting[np.argsort(last_end[waiting], kind="stable")]
            closing[waiting[: int(np.searchsorted(np.cumsum(sizes[waiting]), over)) + 1]] = True
        if not closing.any():
            return
        rows = order[np.repeat(closing, sizes)]
        columns = {name: pending[name][rows] for name in _PENDING}
        leave = np.ones(len(pending), bool)
        leave[rows] = False
        pending.keep(leave)
        self._take_closed(columns)
        self._enforce_budget()

    def _take_closed(self, spans: dict[str, np.ndarray]) -> None:
        """Closed traces (rows grouped by trace, start order within): add late pieces, select, keep exemplars."""
        spans = _without_repeats(spans)
        hi, lo = spans["trace_hi"], spans["trace_lo"]
        first = np.flatnonzero(np.concatenate(([True], (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1]))))
        trace_hi, trace_lo = hi[first], lo[first]
        late = self._late(trace_hi, trace_lo)
        self._remember_closed(trace_hi, trace_lo)
        if late.any():
            spans, first = self._take_late(spans, first, late)
            if not first.size:
                return
        trace_of = np.repeat(np.arange(first.size), np.diff(np.append(first, len(spans["span_id"]))))
        parent = _parent_rows(spans)
        self._count_kindless_entries(spans, parent)
        self._count_peer_calls(spans, parent)
        rows = self._candidate_rows(spans, parent, trace_of)
        self._select(spans, first, trace_of, rows)

    def _late(self, trace_hi: np.ndarray, trace_lo: np.ndarray) -> np.ndarray:
        """Which closing traces were closed before (kept ones take the new spans; others drop them)."""
        closed_hi, closed_lo, _ = self._closed
        if not closed_hi.size:
            return np.zeros(trace_hi.size, bool)
        keys = span_keys(closed_hi, closed_lo, np.zeros(closed_hi.size, np.uint64))
        order = np.argsort(keys)
        wanted = span_keys(trace_hi, trace_lo, np.zeros(trace_hi.size, np.uint64))
        position = order[np.minimum(np.searchsorted(keys[order], wanted), keys.size - 1)]
        return (closed_hi[position] == trace_hi) & (closed_lo[position] == trace_lo)

    def _remember_closed(self, trace_hi: np.ndarray, trace_lo: np.ndarray) -> None:
        """Keep closed trace ids for 4 quiet periods (late spans of them are recognised)."""
        closed_hi, closed_lo, closed_at = self._closed
        alive = closed_at >= self._watermark_ns - 4 * self.quiet_ns
        stamp = np.full(trace_hi.size, self._watermark_ns, np.int64)
        self._closed = (
            np.concatenate([closed_hi[alive], trace_hi]),
            np.concatenate([closed_lo[alive], trace_lo]),
            np.concatenate([closed_at[alive], stamp]),
        )
        limit = self.max_pending_spans
        if self._closed[0].size > limit:
            self._closed = tuple(a[-limit:] for a in self._closed)

    def _take_late(self, spans: dict[str, np.ndarray], first: np.ndarray, late: np.ndarray):
        """Add late spans to their kept trace (Python per such trace), drop those of traces not kept."""
        sizes = np.diff(np.append(first, len(spans["span_id"])))
        dropped = 0
        for index in np.flatnonzero(late).tolist():
            key = (int(spans["trace_hi"][first[index]]), int(spans["trace_lo"][first[index]]))
            part = slice(int(first[index]), int(first[index] + sizes[index]))
            slot = self._slot_of.get(key)
            if slot is None:
                dropped += int(sizes[index])
            else:
                self._extend_trace(slot, {name: spans[name][part] for name in _POOL})
        self._count(LATE_SPANS, dropped)
        keep = np.repeat(~late, sizes)
        spans = {name: column[keep] for name, column in spans.items()}
        sizes = sizes[~late]
        return spans, np.cumsum(sizes) - sizes

    def _extend_trace(self, slot: int, extra: dict[str, np.ndarray]) -> None:
        traces = self._traces
        start, size = int(traces["pool_start"][slot]), int(traces["pool_len"][slot])
        room = max(self.max_spans_per_trace - size, 0)
        if room < len(extra["span_id"]):
            traces["truncated"][slot] = True
        old = {name: self._pool[name][start : start + size] for name in _POOL}
        self._pool.append(**{name: np.concatenate([old[name], extra[name][:room]]) for name in _POOL})
        self._pool_dead += size
        traces["pool_start"][slot] = len(self._pool) - size - min(room, len(extra["span_id"]))
        traces["pool_len"][slot] = size + min(room, len(extra["span_id"]))

    def _count_kindless_entries(self, spans: dict[str, np.ndarray], parent: np.ndarray) -> None:
        """Operations counted on close: spans of no kind or INTERNAL that enter their service."""
        kind = spans["kind"]
        top = (parent < 0) | (spans["service"][np.maximum(parent, 0)] != spans["service"])
        rows = np.flatnonzero(top & ((kind == SpanKind.UNSPECIFIED) | (kind == SpanKind.INTERNAL)))
        if rows.size:
            self.operations_table.add(
                spans["start_ns"][rows],
                spans["service"][rows],
                spans["name"][rows],
                spans["end_ns"][rows] - spans["start_ns"][rows],
                spans["status"][rows] == StatusCode.ERROR,
            )

    def _count_peer_calls(self, spans: dict[str, np.ndarray], parent: np.ndarray) -> None:
        """Operations of uninstrumented peers, counted on close: the client spans calling them, by span name."""
        credited = credit_peers(parent, spans["service"], spans["kind"], spans["peer"], unknown=3)
        rows = np.flatnonzero(credited != spans["service"])
        if rows.size:
            self.operations_table.add(
                spans["start_ns"][rows],
                credited[rows],
                spans["name"][rows],
                spans["end_ns"][rows] - spans["start_ns"][rows],
                spans["status"][rows] == StatusCode.ERROR,
            )

    def _candidate_rows(self, spans: dict[str, np.ndarray], parent: np.ndarray, trace_of: np.ndarray) -> dict:
        """One row per (closed trace, service) and per (closed trace, edge): time, latency, error."""
        service, kind, status = spans["service"], spans["kind"], spans["status"]
        start, duration = spans["start_ns"], spans["end_ns"] - spans["start_ns"]
        failed = status == StatusCode.ERROR
        has_parent = parent >= 0
        up = np.maximum(parent, 0)
        top = ~has_parent | (service[up] != service)
        # services: entered by their top spans (SERVER span, or parent elsewhere / missing)
        parts = [_per_trace_key(trace_of, service, -np.ones_like(service), top, start, duration, failed)]
        # edges: the calls the deriver derives from these traces (the one rule: derive/trace_calls.py)
        parts.append(self._call_rows(spans, trace_of))
        # uninstrumented peers (databases, caches, third-party APIs) as services of their own: the client side
        credited = credit_peers(parent, service, kind, spans["peer"], unknown=3)  # 3: "unknown"
        peer_rows = np.flatnonzero(credited != service)
        parts.append(
            _per_trace_key(
                trace_of[peer_rows],
                credited[peer_rows],
                -np.ones(peer_rows.size, service.dtype),
                None,
                start[peer_rows],
                duration[peer_rows],
                failed[peer_rows],
            )
        )
        rows = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        rows["key"] = self._intern_keys(rows.pop("first"), rows.pop("second"))
        return rows

    def _call_rows(self, spans: dict[str, np.ndarray], trace_of: np.ndarray) -> dict[str, np.ndarray]:
        """One row per (closed trace, call the deriver derives from it): call start, latency, failure."""
        size = len(spans["span_id"])
        batch = SpanBatch(
            strings=tuple(self._strings),
            flags=np.zeros(size, np.uint8),
            **{name: spans[name] for name in _BATCH_COLUMNS},
        )
        calls = trace_calls(batch)
        first = np.flatnonzero(np.concatenate(([True], trace_of[1:] != trace_of[:-1])))
        keys = span_keys(spans["trace_hi"][first], spans["trace_lo"][first], np.zeros(first.size, np.uint64))
        order = np.argsort(keys)
        wanted = span_keys(calls.trace_hi, calls.trace_lo, np.zeros(len(calls), np.uint64))
        trace = order[np.minimum(np.searchsorted(keys[order], wanted), max(keys.size - 1, 0))]
        remap = self._intern(calls.names)
        return _per_trace_key(
            trace,
            remap[calls.source],
            remap[calls.target],
            None,
            calls.time_ns,
            np.maximum(calls.latency_ns, 0),
            calls.failed,
        )

    # -- selection ----------------------------------------------------------------------------

    def _level_bucket(self, time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket level and bucket start (s) of each time under the current coarsening boundaries."""
        level = np.zeros(time_ns.shape[0], np.int8)
        for boundary in self._coarse_before_ns:
            level += time_ns < boundary
        width_s = np.array(self.bucket_widths_ns, np.int64)[level] // SECOND_NS
        return level, time_ns // SECOND_NS // width_s * width_s

    def _select(self, spans: dict[str, np.ndarray], first: np.ndarray, trace_of: np.ndarray, new: dict) -> None:
        """Rank the closed traces' rows with the kept rows of the same (key, bucket); keep the winners' spans."""
        keep = new["time_ns"] >= self._floor_ns
        if not keep.all():
            self._count(TOO_OLD, int(np.unique(new["trace"][~keep]).size))
            new = {name: column[keep] for name, column in new.items()}
        level, bucket_s = self._level_bucket(new["time_ns"])
        group = new["key"].astype(np.int64) << _KEY_SHIFT | bucket_s
        kept_rows = self._rows
        old_group = kept_rows["key"].astype(np.int64) << _KEY_SHIFT | kept_rows["bucket_s"]
        old = np.flatnonzero(np.isin(old_group, group))
        trace_count = first.size
        # candidates: kept rows (trace ids from the trace table) then new rows (trace index -1 - i)
        tie_hi = np.concatenate(
            [self._traces["trace_hi"][kept_rows["trace"][old]], spans["trace_hi"][first][new["trace"]]]
        )
        tie_lo = np.concatenate(
            [self._traces["trace_lo"][kept_rows["trace"][old]], spans["trace_lo"][first][new["trace"]]]
        )
        flags = _rank(
            np.concatenate([old_group[old], group]),
            np.concatenate([kept_rows["latency_ns"][old], new["latency_ns"]]),
            np.concatenate([kept_rows["time_ns"][old], new["time_ns"]]),
            np.concatenate([kept_rows["error"][old], new["error"]]),
            self._key_is_service[np.concatenate([kept_rows["key"][old], new["key"]])],
            tie_hi,
            tie_lo,
            self.per_kind,
        )
        kept_rows["flags"][old] = flags[: old.size]
        new_flags = flags[old.size :]
        winners = np.zeros(trace_count, bool)
        winners[new["trace"][new_flags != 0]] = True
        self._release_losers(np.unique(kept_rows["trace"][old]))
        if winners.any():
            self._keep_traces(spans, first, trace_of, winners, new, new_flags, level, bucket_s)

    def _release_losers(self, slots: np.ndarray) -> None:
        """Free the traces among `slots` that no row keeps any more."""
        if not slots.size:
            return
        rows = self._rows
        held = np.zeros(len(self._traces), bool)
        held[rows["trace"][rows["flags"] != 0]] = True
        losers = slots[~held[slots]]
        if not losers.size:
            return
        traces = self._traces
        traces["alive"][losers] = False
        self._pool_dead += int(traces["pool_len"][losers].sum())
        for hi, lo in zip(traces["trace_hi"][losers].tolist(), traces["trace_lo"][losers].tolist(), strict=True):
            del self._slot_of[(hi, lo)]
        rows.keep(~np.isin(rows["trace"], losers))

    def _keep_traces(self, spans, first, trace_of, winners, new, new_flags, level, bucket_s) -> None:
        """Copy the spans of the winning closed traces into the pool, add their rows and critical-path times."""
        size = len(spans["span_id"])
        rank_in_trace = np.arange(size) - first[trace_of]
        take = winners[trace_of] & (rank_in_trace < self.max_spans_per_trace)
        sizes = np.bincount(trace_of[take], minlength=first.size)
        won = np.flatnonzero(winners)
        slot_of_trace = np.full(first.size, -1, np.int64)
        slot_of_trace[won] = len(self._traces) + np.arange(won.size)
        pool_start = len(self._pool) + np.cumsum(sizes) - sizes
        self._pool.append(**{name: spans[name][take] for name in _POOL})
        ends = np.maximum.reduceat(spans["end_ns"], first)
        starts = np.minimum.reduceat(spans["start_ns"], first)
        path = np.zeros(won.size, np.int64)
        times: dict[tuple[int, int], tuple[int, int, int, int]] = {}  # (trace, service) -> critical, self, busy, op
        for position, trace in enumerate(won.tolist()):
            part = slice(int(pool_start[trace]), int(pool_start[trace] + sizes[trace]))
            columns = {name: self._pool[name][part] for name in _POOL}
            path[position] = _trace_times(columns, trace, times)
        hi, lo = spans["trace_hi"][first[won]], spans["trace_lo"][first[won]]
        self._traces.append(
            trace_hi=hi,
            trace_lo=lo,
            pool_start=pool_start[won],
            pool_len=sizes[won],
            start_ns=starts[won],
            end_ns=ends[won],
            path_ns=path,
            alive=np.ones(won.size, bool),
            truncated=sizes[won] < np.diff(np.append(first, size))[won],
        )
        for index, key in enumerate(zip(hi.tolist(), lo.tolist(), strict=True)):
            self._slot_of[key] = int(slot_of_trace[won[index]])
        rows = np.flatnonzero(winners[new["trace"]])
        key_service = [self._keys[k][0] if self._keys[k][1] < 0 else -1 for k in new["key"][rows].tolist()]
        figures = np.array(
            [times.get((t, s), (0, 0, 0, 0)) for t, s in zip(new["trace"][rows].tolist(), key_service, strict=True)],
            np.int64,
        ).reshape(-1, 4)
        self._rows.append(
            trace=slot_of_trace[new["trace"][rows]],
            key=new["key"][rows],
            level=level[rows],
            bucket_s=bucket_s[rows],
            time_ns=new["time_ns"][rows],
            latency_ns=new["latency_ns"][rows],
            critical_ns=figures[:, 0],
            self_ns=figures[:, 1],
            busy_ns=figures[:, 2],
            operation=figures[:, 3].astype(np.int32),
            error=new["error"][rows],
            flags=new_flags[rows],
        )

    # -- memory -------------------------------------------------------------------------------

    def _trace_bytes(self) -> int:
        return self._pool.nbytes + self._traces.nbytes + self._rows.nbytes + _DICT_ENTRY_BYTES * len(self._slot_of)

    def _live_trace_bytes(self) -> int:
        live_spans = len(self._pool) - self._pool_dead
        per_span = sum(np.dtype(t).itemsize for t in _POOL.values())
        per_row = sum(np.dtype(t).itemsize for t in _ROWS.values())
        per_trace = sum(np.dtype(t).itemsize for t in _TRACES.values()) + _DICT_ENTRY_BYTES
        return live_spans * per_span + len(self._rows) * per_row + len(self._slot_of) * per_trace

    def _enforce_budget(self) -> None:
        """Coarsen (at last drop) the oldest buckets until the kept traces fit 7/8 of the budget; compact."""
        target = self.trace_budget_bytes * 7 // 8
        if self._live_trace_bytes() > self.trace_budget_bytes or len(self._slot_of) > self.max_traces:
            while len(self._rows) and (
                self._live_trace_bytes() > target or len(self._slot_of) > self.max_traces * 7 // 8
            ):
                self._coarsen_oldest()
        if self._pool_dead > len(self._pool) // 2 or self._trace_bytes() > self.trace_budget_bytes:
            self._compact()

    def _coarsen_oldest(self) -> None:
        """Merge the oldest buckets of the finest level holding more than one coarser bucket's worth (10 minutes,
        6 ten-minutes, 24 hours) into their coarser bucket (up to the newest minute); if no level does, drop the
        oldest bucket. So a budget too small for long history keeps the newest minutes rather than coarse old ones.
        """
        rows = self._rows
        time, levels, buckets = rows["time_ns"], rows["level"], rows["bucket_s"]
        widths = self.bucket_widths_ns
        newest = int(time.max()) // widths[0] * widths[0]  # the newest finest bucket stays
        for level in range(len(widths) - 1):
            starts = np.unique(buckets[levels == level])
            width = widths[level + 1]
            boundary = min((int(starts[0]) * SECOND_NS // width + 1) * width, newest) if starts.size else 0
            if starts.size > width // widths[level] and boundary > int(starts[0]) * SECOND_NS:
                break
        else:  # drop the oldest bucket (of the coarsest level present)
            oldest = int(np.argmin(buckets))
            level = int(levels[oldest])
            end_ns = int(buckets[oldest]) * SECOND_NS + widths[level]
            self._floor_ns = min(end_ns, self._coarse_before_ns[level - 1]) if level else end_ns
            gone = time < self._floor_ns
            rows["flags"][gone] = 0
            self._release_losers(np.unique(rows["trace"][gone]))
            rows.keep(rows["time_ns"] >= self._floor_ns)
            return
        for finer in range(level + 1):
            self._coarse_before_ns[finer] = max(self._coarse_before_ns[finer], boundary)
        moved = np.flatnonzero((rows["time_ns"] < boundary) & (rows["level"] <= level))
        new_level, new_bucket = self._level_bucket(rows["time_ns"][moved])
        rows["level"][moved] = new_level
        rows["bucket_s"][moved] = new_bucket
        group = rows["key"].astype(np.int64) << _KEY_SHIFT | rows["bucket_s"]
        affected = np.flatnonzero(np.isin(group, group[moved]))
        slots = rows["trace"][affected]
        rows["flags"][affected] = _rank(
            group[affected],
            rows["latency_ns"][affected],
            rows["time_ns"][affected],
            rows["error"][affected],
            self._key_is_service[rows["key"][affected]],
            self._traces["trace_hi"][slots],
            self._traces["trace_lo"][slots],
            self.per_kind,
        )
        self._release_losers(np.unique(slots))

    def _compact(self) -> None:
        """Drop freed spans and traces from the columns (slots are renumbered)."""
        traces = self._traces
        alive = traces["alive"].copy()
        new_slot = np.cumsum(alive) - 1
        starts, sizes = traces["pool_start"][alive], traces["pool_len"][alive].astype(np.int64)
        offsets = np.cumsum(sizes) - sizes
        self._pool.keep(np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum())))
        self._pool_dead = 0
        traces.keep(alive)
        traces["pool_start"][:] = offsets
        self._rows["trace"][:] = new_slot[self._rows["trace"]]
        self._rows.keep(np.ones(len(self._rows), bool))
        self._slot_of = dict(
            zip(
                zip(traces["trace_hi"].tolist(), traces["trace_lo"].tolist(), strict=True),
                range(len(traces)),
                strict=True,
            )
        )

    # -- query helpers ------------------------------------------------------------------------

    def _rows_of(self, service: str | tuple[str, str], start_ns: int, end_ns: int) -> np.ndarray:
        key = self._key_id(service)
        if key is None:
            return np.zeros(0, np.int64)
        rows = self._rows
        time = rows["time_ns"]
        return np.flatnonzero((rows["key"] == key) & (time >= start_ns) & (time < end_ns))

    def _exemplar_list(self, rows: np.ndarray) -> list[Exemplar]:
        columns = self._rows
        slots = columns["trace"][rows]
        traces = self._traces
        return [
            Exemplar(
                trace_hi=hi,
                trace_lo=lo,
                start_ns=time,
                latency_ns=latency,
                error=error,
                trace_start_ns=start,
                trace_end_ns=end,
                reasons=tuple(name for bit, name in _FLAG_NAMES if flags & bit),
            )
            for hi, lo, time, latency, error, start, end, flags in zip(
                traces["trace_hi"][slots].tolist(),
                traces["trace_lo"][slots].tolist(),
                columns["time_ns"][rows].tolist(),
                columns["latency_ns"][rows].tolist(),
                columns["error"][rows].tolist(),
                traces["start_ns"][slots].tolist(),
                traces["end_ns"][slots].tolist(),
                columns["flags"][rows].tolist(),
                strict=True,
            )
        ]

    def _count(self, reason: str, count: int) -> None:
        if count > 0:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
            if self.problems is not None:
                self.problems.add(reason, count=count)


def _trace_times(
    columns: dict[str, np.ndarray], trace: int, out: dict[tuple[int, int], tuple[int, int, int, int]]
) -> int:
    """Per node of one kept trace: critical-path ns, own (self) ns, busy ns (its entry spans) and its main operation
    — time waiting on an uninstrumented peer credited to the peer. Returns the critical path's length."""
    parents = trace_parent_rows(columns["span_id"], columns["parent_id"])
    service, kind = columns["service"], columns["kind"]
    credited = credit_peers(parents, service, kind, columns["peer"], unknown=3)
    result = critical_path(
        columns["span_id"], columns["parent_id"], columns["start_ns"], columns["end_ns"], credited, kind
    )
    own = exclusive_ns(np.where(parents >= 0, parents, -1), columns["start_ns"], columns["end_ns"])
    own[parents == -2] = 0  # a repeated span id counts once
    duration = columns["end_ns"] - columns["start_ns"]
    entry = (parents < 0) | (service[np.maximum(parents, 0)] != service)
    entry &= parents != -2
    entry |= credited != service  # a peer's calls are its entries
    nodes, inverse = np.unique(credited, return_inverse=True)
    self_ns = np.bincount(inverse, weights=own, minlength=nodes.size)
    busy_ns = np.bincount(inverse, weights=np.where(entry, duration, 0), minlength=nodes.size)
    longest = np.lexsort((-np.where(entry, duration, -1), inverse))  # per node, its longest entry span first
    first_of = np.flatnonzero(np.concatenate(([True], inverse[longest][1:] != inverse[longest][:-1])))
    operation = columns["name"][longest[first_of]]
    for index, node in enumerate(nodes.tolist()):
        out[(trace, node)] = (
            int(result.service_ns.get(node, 0)),
            int(self_ns[index]),
            int(busy_ns[index]),
            int(operation[index]),
        )
    return result.duration_ns


def _without_repeats(spans: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop repeated spans (same trace, span id and service: at-least-once delivery), keeping trace/start order."""
    order = np.lexsort((spans["service"], spans["span_id"], spans["trace_lo"], spans["trace_hi"]))
    columns = [spans[name][order] for name in ("trace_hi", "trace_lo", "span_id", "service")]
    repeat = np.zeros(order.size, bool)
    if order.size > 1:
        repeat[order[1:]] = np.logical_and.reduce([c[1:] == c[:-1] for c in columns])
    if not repeat.any():
        return spans
    return {name: column[~repeat] for name, column in spans.items()}


def _parent_rows(spans: dict[str, np.ndarray]) -> np.ndarray:
    """Row of each span's parent among the closed spans (same trace), -1 where none."""
    hi, lo = spans["trace_hi"], spans["trace_lo"]
    keys = span_keys(hi, lo, spans["span_id"])
    order = np.argsort(keys, kind="stable")
    wanted = span_keys(hi, lo, spans["parent_id"])
    position = order[np.minimum(np.searchsorted(keys[order], wanted), max(keys.size - 1, 0))]
    found = (
        (spans["span_id"][position] == spans["parent_id"])
        & (hi[position] == hi)
        & (lo[position] == lo)
        & (spans["parent_id"] != 0)
        & (position != np.arange(keys.size))
    )
    return np.where(found, position, -1)


def _per_trace_key(trace_of, first, second, top, start, duration, failed) -> dict[str, np.ndarray]:
    """Aggregate span rows per (trace, first, second): earliest top start, longest top duration, any failure.

    `top` marks the rows that count for time and latency (all when None); groups without one use all rows.
    """
    if top is None:
        top = np.ones(len(trace_of), bool)
    order = np.lexsort((second, first, trace_of))
    t, a, b = trace_of[order], first[order], second[order]
    edge = np.concatenate(([True], (t[1:] != t[:-1]) | (a[1:] != a[:-1]) | (b[1:] != b[:-1]))) if t.size else []
    starts = np.flatnonzero(edge)
    if not starts.size:
        empty = np.zeros(0, np.int64)
        return {
            "trace": empty,
            "first": empty,
            "second": empty,
            "time_ns": empty,
            "latency_ns": empty,
            "error": np.zeros(0, bool),
        }
    is_top = top[order]
    big = np.iinfo(np.int64).max
    time = np.minimum.reduceat(np.where(is_top, start[order], big), starts)
    time = np.where(time == big, np.minimum.reduceat(start[order], starts), time)
    latency = np.maximum.reduceat(np.where(is_top, duration[order], -1), starts)
    latency = np.where(latency < 0, np.maximum.reduceat(duration[order], starts), latency)
    return {
        "trace": t[starts],
        "first": a[starts],
        "second": b[starts],
        "time_ns": time,
        "latency_ns": latency,
        "error": np.logical_or.reduceat(failed[order], starts),
    }


def _rank(group, latency, time, error, is_service, tie_hi, tie_lo, per_kind: int) -> np.ndarray:
    """Flags of the candidate rows each (key, bucket) group keeps: N slowest, N latest failing, N latest, band heads."""
    flags = np.zeros(group.shape[0], np.uint8)
    if not group.size:
        return flags

    def mark(mask: np.ndarray, score: np.ndarray, groups: np.ndarray, keep: int, bit: int) -> None:
        rows = np.flatnonzero(mask)
        order = rows[np.lexsort((tie_lo[rows], tie_hi[rows], -score[rows], groups[rows]))]
        sorted_groups = groups[order]
        start = np.concatenate(([True], sorted_groups[1:] != sorted_groups[:-1]))
        index = np.arange(order.size)
        rank = index - np.maximum.accumulate(np.where(start, index, 0))
        flags[order[rank < keep]] |= bit

    everything = np.ones(group.shape[0], bool)
    mark(everything, latency, group, per_kind, _SLOWEST)
    mark(error.astype(bool), time, group, per_kind, _FAILING)
    mark(everything, time, group, per_kind, _RECENT)
    band = bin_of(latency).astype(np.int64) // _BAND_BINS
    mark(is_service.astype(bool), time, group * 64 + band, 1, _BAND)
    return flags
