"""A node's or an edge's figures step by step over a range (rate, failures, percentiles), from store queries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
HISTORY_STEPS = 90  # window queries per history


@dataclass(frozen=True, slots=True)
class History:
    """Figures per step [start_ns[k], start_ns[k] + step_ns) over a range, of node `node` or edge `edge`."""

    node: int | None
    edge: int | None
    step_ns: int
    start_ns: np.ndarray  # int64
    rate_per_s: np.ndarray
    failure_pct: np.ndarray  # NaN where there were no requests
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray

    @property
    def centers_s(self) -> np.ndarray:
        return (self.start_ns + self.step_ns / 2) / 1e9


def history_step_ns(span_ns: int, steps: int = HISTORY_STEPS) -> int:
    """Whole seconds per step giving at most about `steps` steps over `span_ns`."""
    return max(math.ceil(span_ns / steps / SECOND_NS), 1) * SECOND_NS


def history(
    store: RollingStore,
    start_ns: int,
    end_ns: int,
    *,
    node: int | None = None,
    edge: int | None = None,
    steps: int = HISTORY_STEPS,
) -> History:
    """Query the store once per step (run it off the UI thread) for one node or one edge (store ids).

    A node's rate is what it served, or for a pure source what it sent, as the chart counts it.
    """
    if (node is None) == (edge is None):
        raise ValueError("give a node or an edge")
    step_ns = history_step_ns(end_ns - start_ns, steps)
    starts = np.arange(start_ns, end_ns, step_ns, dtype=np.int64)
    ends = np.minimum(starts + step_ns, end_ns)  # the last step may be partial
    served, sent, errors = np.zeros(len(starts)), np.zeros(len(starts)), np.zeros(len(starts))
    p50, p95, p99 = (np.full(len(starts), np.nan) for _ in range(3))
    for k, (step_start, step_end) in enumerate(zip(starts, ends, strict=True)):
        frame = store.query(int(step_start), int(step_end))
        if node is not None and node < frame.node_count:
            served[k], sent[k] = frame.node_requests[node], frame.node_out_requests[node]
            errors[k] = frame.node_errors[node]
            p50[k], p95[k], p99[k] = frame.node_p50_ms[node], frame.node_p95_ms[node], frame.node_p99_ms[node]
        elif edge is not None and edge < frame.edge_count:
            served[k] = sent[k] = frame.edge_requests[edge]
            errors[k] = frame.edge_errors[edge]
            p50[k], p95[k], p99[k] = frame.edge_p50_ms[edge], frame.edge_p95_ms[edge], frame.edge_p99_ms[edge]
    step_s = np.maximum(ends - starts, 1) / SECOND_NS
    with np.errstate(invalid="ignore", divide="ignore"):
        failure_pct = np.where(served > 0, 100.0 * errors / served, np.nan)
    rate = np.where(served > 0, served, sent) / step_s
    return History(node, edge, step_ns, starts, rate, failure_pct, p50, p95, p99)
