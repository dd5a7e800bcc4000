"""What the exemplar store's queries answer: an `Exemplar`, a `TimeSplit`, a kept trace's `TraceSpans`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.derive.span_table import ColumnTable
from flowviz.model.ids import u64_pair_to_hex
from flowviz.model.span_batch import SpanBatch


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


def time_split_of(rows: ColumnTable, picked: np.ndarray, name: str) -> TimeSplit:
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
