"""Per-edge detail figures the rolling store does not keep: client- vs server-side latency, calls by status."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from flowviz.model.observations import EdgeObservations
from flowviz.store.latency_bins import BIN_COUNT, percentiles
from flowviz.store.operation_stats import OperationStats

DEFAULT_EDGE_DETAIL_BUDGET_BYTES = 32 << 20
OVERFLOW = 1  # what `OperationStats` counts (edge, code) pairs beyond its cap under
CLIENT_SIDE, SERVER_SIDE, PAYLOAD = 2, 3, 5  # codes of the sides table (PAYLOAD: message sizes, bytes x 1000)
NO_HTTP_FAILED, NO_HTTP_OK = 3, 4  # status codes for calls without an HTTP status (HTTP codes are >= 100)


@dataclass(frozen=True, slots=True)
class SideFigures:
    """One side of an edge's calls in a window: how many were measured there, percentiles in ms, histogram."""

    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    histogram: np.ndarray  # calls per latency bin (`latency_bins`)


@dataclass(frozen=True, slots=True)
class StatusFigures:
    """Calls of an edge with one status in a window, and how many of them failed."""

    label: str  # "HTTP 504", "failed, no HTTP status (timeout, connection)", "ok (no HTTP status)"
    code: int  # the HTTP status, or NO_HTTP_FAILED / NO_HTTP_OK
    calls: int
    failures: int


def status_label(code: int) -> str:
    if code == OVERFLOW:
        return "(other statuses)"
    if code == NO_HTTP_FAILED:
        return "failed, no HTTP status (timeout, connection)"
    if code == NO_HTTP_OK:
        return "ok (no HTTP status)"
    return f"HTTP {code}"


class EdgeDetails:
    """Calls per (edge, side or status, second, latency bin), from the deriver's observations, in bounded memory.

    The client side is the caller's span (what the caller waited), the server side the callee's
    (what it spent); the gap between them is network, queueing and retries. Each table is an
    `OperationStats` (1 s buckets merged into minutes and hours when over its budget); edges are
    keyed by their (source, target) names. Thread-safe: one writer, readers from other threads.
    """

    def __init__(self, *, memory_budget_bytes: int = DEFAULT_EDGE_DETAIL_BUDGET_BYTES) -> None:
        self._sides = OperationStats(memory_budget_bytes=memory_budget_bytes // 2)
        self._statuses = OperationStats(memory_budget_bytes=memory_budget_bytes // 2)
        self._edge_of: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def memory_bytes(self) -> int:
        with self._lock:
            return self._sides.memory_bytes() + self._statuses.memory_bytes() + 120 * len(self._edge_of)

    def add(self, observations: EdgeObservations) -> None:
        """Count a batch of calls (rows standing for several calls, from dependency lists, carry no sides)."""
        obs = observations
        rows = np.flatnonzero(obs.count == 1)
        if not rows.size:
            return
        with self._lock:
            edges = self._edges(obs, rows)
            time_ns, failed = obs.time_ns[rows], obs.failed[rows]
            for side, latency in (
                (CLIENT_SIDE, obs.client_latency_ns[rows]),
                (SERVER_SIDE, obs.server_latency_ns[rows]),
            ):
                known = latency >= 0
                side_codes = np.full(int(known.sum()), side)
                self._sides.add(time_ns[known], edges[known], side_codes, latency[known], failed[known])
            http = obs.http_status[rows].astype(np.int64)
            code = np.where(http >= 100, http, np.where(failed, NO_HTTP_FAILED, NO_HTTP_OK))
            self._statuses.add(time_ns, edges, code, np.maximum(obs.latency_ns[rows], 0), failed)

    def add_payloads(self, observations: EdgeObservations, value_bytes: np.ndarray | None) -> None:
        """Count the message sizes of a batch of calls (producer → topic: one row per message, aligned)."""
        if value_bytes is None or not len(observations):
            return
        known = np.flatnonzero((np.asarray(value_bytes) >= 0) & (observations.count == 1))
        if not known.size:
            return
        with self._lock:
            edges = self._edges(observations, known)
            # log-spaced latency bins read sizes too: a byte counts as a microsecond (1 B to ~1 GB, within 9 %)
            size_units = np.asarray(value_bytes, np.int64)[known] * 1000
            codes = np.full(known.size, PAYLOAD)
            self._sides.add(observations.time_ns[known], edges, codes, size_units, np.zeros(known.size, bool))

    def payload(self, source: str, target: str, start_ns: int, end_ns: int) -> SideFigures:
        """Message sizes on source → target in the window: `calls` messages, p50/p95/p99 in **bytes**."""
        with self._lock:
            edge = self._edge_of.get((source, target))
            codes, _, hist = self._sides.operations(edge, start_ns, end_ns) if edge is not None else ([], None, None)
        histogram = hist[codes.index(PAYLOAD)] if PAYLOAD in codes else np.zeros(BIN_COUNT, np.int64)
        p50, p95, p99 = (float(v) * 1000 for v in percentiles(histogram[None, :])[0])  # ms of "µs" -> bytes
        return SideFigures(int(histogram.sum()), p50, p95, p99, histogram)

    def sides(self, source: str, target: str, start_ns: int, end_ns: int) -> dict[str, SideFigures]:
        """{"client": ..., "server": ...} for calls on source → target starting in [start_ns, end_ns)."""
        with self._lock:
            edge = self._edge_of.get((source, target))
            codes, _, hist = self._sides.operations(edge, start_ns, end_ns) if edge is not None else ([], None, None)
        out = {}
        for name, code in (("client", CLIENT_SIDE), ("server", SERVER_SIDE)):
            histogram = hist[codes.index(code)] if code in codes else np.zeros(BIN_COUNT, np.int64)
            p50, p95, p99 = (float(v) for v in percentiles(histogram[None, :])[0])
            out[name] = SideFigures(int(histogram.sum()), p50, p95, p99, histogram)
        return out

    def statuses(self, source: str, target: str, start_ns: int, end_ns: int) -> list[StatusFigures]:
        """Calls on source → target by status in the window: failing statuses first, then by calls."""
        with self._lock:
            edge = self._edge_of.get((source, target))
            if edge is None:
                return []
            codes, failures, hist = self._statuses.operations(edge, start_ns, end_ns)
        calls = hist.sum(axis=1)
        rows = [
            StatusFigures(status_label(code), code, int(calls[i]), int(failures[i]))
            for i, code in enumerate(codes)
            if calls[i]
        ]
        return sorted(rows, key=lambda row: (-row.failures, -row.calls, row.code))

    def _edges(self, obs: EdgeObservations, rows: np.ndarray) -> np.ndarray:
        """Edge ids of the rows, interning new (source, target) name pairs (Python per distinct pair only)."""
        pairs = obs.source[rows].astype(np.int64) << 32 | obs.target[rows].astype(np.int64)
        distinct, inverse = np.unique(pairs, return_inverse=True)
        names = obs.names
        ids = np.empty(distinct.size, np.int64)
        for index, pair in enumerate(distinct.tolist()):
            key = (names[pair >> 32], names[pair & 0xFFFFFFFF])
            ids[index] = self._edge_of.setdefault(key, len(self._edge_of))
        return ids[inverse]
