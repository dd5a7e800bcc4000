"""Where a span's work went on: spans of other traces that link to it (OTLP span links) and CONSUMER spans whose
parent it is — how an event's journey follows its consumers into their own traces. Bounded, newest kept."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from flowviz.model.ids import hex_ids_to_u64_pairs, u64_pair_to_hex
from flowviz.model.span_batch import SpanBatch, SpanKind

DEFAULT_CAPACITY = 200_000  # ~12 MB: the newest links and consumer spans
_ID_COLUMNS = ("from_hi", "from_lo", "from_span", "to_hi", "to_lo", "to_span")


@dataclass(frozen=True, slots=True)
class Continuation:
    """A span that carries on from another: in another trace by a span link (`link`), or as a CONSUMER child
    in the same trace (`child`, the producer's context propagated)."""

    trace_id: str  # hex
    span_id: str  # hex
    service: str
    start_ns: int
    relation: str  # "link" | "child"


class TraceContinuations:
    """A ring of (span it came from) → (span that carries on), fed span batches (numpy, no per-span loop)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._columns = {name: np.zeros(capacity, np.uint64) for name in _ID_COLUMNS}
        self._start_ns = np.zeros(capacity, np.int64)
        self._service = np.zeros(capacity, np.int32)
        self._linked = np.zeros(capacity, bool)
        self._strings: list[str] = [""]
        self._string_ids: dict[str, int] = {"": 0}
        self._next = 0  # rows written so far (the ring's write position is this modulo capacity)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return min(self._next, self.capacity)

    def add(self, batch: SpanBatch) -> None:
        """The batch's span links, and its CONSUMER spans that have a parent."""
        link_rows = batch.link_row.astype(np.int64)
        consumers = np.flatnonzero((batch.kind == SpanKind.CONSUMER) & (batch.parent_id != 0))
        if not link_rows.size and not consumers.size:
            return
        rows = np.concatenate([link_rows, consumers])
        from_ = (
            np.concatenate([batch.link_trace_hi, batch.trace_hi[consumers]]),
            np.concatenate([batch.link_trace_lo, batch.trace_lo[consumers]]),
            np.concatenate([batch.link_span_id, batch.parent_id[consumers]]),
        )
        linked = np.arange(rows.size) < link_rows.size
        used, local = np.unique(batch.service[rows], return_inverse=True)
        with self._lock:
            ids = np.asarray([self._intern(batch.strings[i]) for i in used.tolist()], np.int32)
            values = {
                "from_hi": from_[0], "from_lo": from_[1], "from_span": from_[2],
                "to_hi": batch.trace_hi[rows], "to_lo": batch.trace_lo[rows], "to_span": batch.span_id[rows],
            }  # fmt: skip
            self._write(values, batch.start_ns[rows], ids[local], linked)

    def _intern(self, text: str) -> int:
        found = self._string_ids.get(text)
        if found is None:
            found = self._string_ids[text] = len(self._strings)
            self._strings.append(text)
        return found

    def _write(self, values: dict[str, np.ndarray], start_ns: np.ndarray, service: np.ndarray, linked: np.ndarray):
        count = start_ns.size
        if count > self.capacity:  # more than fits: the newest
            values = {name: column[-self.capacity :] for name, column in values.items()}
            start_ns, service, linked = start_ns[-self.capacity :], service[-self.capacity :], linked[-self.capacity :]
            self._next += count - self.capacity
            count = self.capacity
        at = (self._next + np.arange(count)) % self.capacity
        for name, column in values.items():
            self._columns[name][at] = column
        self._start_ns[at], self._service[at], self._linked[at] = start_ns, service, linked
        self._next += count

    def after(self, trace_id: str, span_id: str) -> list[Continuation]:
        """The spans that carry on from span `span_id` of trace `trace_id` (hex), by start time."""
        high, low, ok = hex_ids_to_u64_pairs([trace_id])
        try:
            span = np.uint64(int(span_id, 16))
        except ValueError:
            return []
        if not ok[0]:
            return []
        with self._lock:
            size = len(self)
            columns = self._columns
            found = np.flatnonzero(
                (columns["from_span"][:size] == span)
                & (columns["from_lo"][:size] == low[0])
                & (columns["from_hi"][:size] == high[0])
            )
            found = found[np.argsort(self._start_ns[found], kind="stable")]
            return [
                Continuation(
                    trace_id=u64_pair_to_hex(int(columns["to_hi"][row]), int(columns["to_lo"][row]), digits=0),
                    span_id=f"{int(columns['to_span'][row]):016x}",
                    service=self._strings[int(self._service[row])],
                    start_ns=int(self._start_ns[row]),
                    relation="link" if self._linked[row] else "child",
                )
                for row in found.tolist()
            ]

    def memory_bytes(self) -> int:
        """The rows written (the ring's pages are touched only as it fills)."""
        return len(self) * (6 * 8 + 8 + 4 + 1)
