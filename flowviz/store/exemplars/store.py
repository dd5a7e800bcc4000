"""The exemplar store: its contract and its queries over the kept traces (and the per-operation figures)."""

from __future__ import annotations

import numpy as np

from flowviz.model.ids import hex_ids_to_u64_pairs
from flowviz.store.exemplars.answers import Exemplar, TimeSplit, TraceSpans, time_split_of
from flowviz.store.exemplars.assembly import TraceAssembly
from flowviz.store.exemplars.columns import FLAG_NAMES, KINDS, POOL_COLUMNS
from flowviz.store.latency_bins import BIN_COUNT, bin_of, percentiles
from flowviz.store.operation_stats import OperationFigures


class ExemplarStore(TraceAssembly):
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
            columns = {name: self._pool[name][rows].copy() for name in POOL_COLUMNS}
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
            return time_split_of(self._rows, rows, service)

    def operation_time_splits(self, service: str, start_ns: int, end_ns: int) -> list[TimeSplit]:
        """`time_split` per main operation of the node in its kept traces, busiest first."""
        with self._lock:
            rows = self._rows_of(service, start_ns, end_ns)
            if not rows.size:
                return []
            operations = self._rows["operation"][rows]
            out = [
                time_split_of(self._rows, rows[operations == op], self._strings[op])
                for op in np.unique(operations).tolist()
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
                reasons=tuple(name for bit, name in FLAG_NAMES if flags & bit),
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
