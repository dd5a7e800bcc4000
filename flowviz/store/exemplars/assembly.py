"""Trace assembly for the exemplar store: pending spans grouped by trace, closed when quiet, late spans joined, and
the candidate rows (per trace and service or edge) each closed trace offers the selection."""

from __future__ import annotations

import numpy as np

from flowviz.derive.critical_path import credit_peers
from flowviz.derive.span_table import span_keys
from flowviz.derive.trace_calls import trace_calls
from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode
from flowviz.store.exemplars.columns import BATCH_COLUMNS, LATE_SPANS, PENDING_COLUMNS, POOL_COLUMNS
from flowviz.store.exemplars.memory import MemoryPool


class TraceAssembly(MemoryPool):
    """The writer: takes span batches, closes the traces gone quiet, offers them to the selection, keeps the budget."""

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
        columns = {name: pending[name][rows] for name in PENDING_COLUMNS}
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
                self._extend_trace(slot, {name: spans[name][part] for name in POOL_COLUMNS})
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
        old = {name: self._pool[name][start : start + size] for name in POOL_COLUMNS}
        self._pool.append(**{name: np.concatenate([old[name], extra[name][:room]]) for name in POOL_COLUMNS})
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
            **{name: spans[name] for name in BATCH_COLUMNS},
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
