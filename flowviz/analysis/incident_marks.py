"""Marks on the timeline where the failure ratio or latency jumped (a simple rule until anomaly detection)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.store.rolling_store import RollingStore

MIN_FAILURE_RATIO = 0.02  # below 2 % failures nothing is marked, whatever the jump
FAILURE_JUMP = 3.0  # a step is marked when its ratio is this many times the recent median
LATENCY_JUMP = 2.0  # ... or when the busiest nodes' p95 is this many times its median
LATENCY_WINDOWS = 48


@dataclass(frozen=True, slots=True)
class IncidentMark:
    """[start_ns, end_ns) where something jumped, and what."""

    start_ns: int
    end_ns: int
    reason: str


def _merge(marks: list[IncidentMark]) -> list[IncidentMark]:
    merged: list[IncidentMark] = []
    for mark in sorted(marks, key=lambda m: m.start_ns):
        last = merged[-1] if merged else None
        if last is not None and mark.start_ns <= last.end_ns and mark.reason == last.reason:
            merged[-1] = IncidentMark(last.start_ns, max(last.end_ns, mark.end_ns), last.reason)
        else:
            merged.append(mark)
    return merged


def failure_jumps(
    bucket_start_ns: np.ndarray, requests: np.ndarray, failures: np.ndarray, *, step_ns: int, context: int = 30
) -> list[IncidentMark]:
    """Steps whose failure ratio is ≥ `MIN_FAILURE_RATIO` and ≥ `FAILURE_JUMP` × the median of the
    `context` steps before them (steps without traffic ignored)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, failures / np.maximum(requests, 1), np.nan)
    marks = []
    for index in np.flatnonzero(np.nan_to_num(ratio) >= MIN_FAILURE_RATIO).tolist():
        before = ratio[max(0, index - context) : index]
        before = before[~np.isnan(before)]
        baseline = float(np.median(before)) if before.size >= 3 else 0.0
        if ratio[index] >= FAILURE_JUMP * max(baseline, MIN_FAILURE_RATIO / FAILURE_JUMP):
            start = int(bucket_start_ns[index])
            marks.append(IncidentMark(start, start + step_ns, "failure ratio jumped"))
    return _merge(marks)


def latency_jumps(
    store: RollingStore, start_ns: int, end_ns: int, *, windows: int = LATENCY_WINDOWS
) -> list[IncidentMark]:
    """Coarse windows where the request-weighted p95 of the busiest nodes jumped above its median."""
    if end_ns <= start_ns or windows < 4:
        return []
    edges = np.linspace(start_ns, end_ns, windows + 1).astype(np.int64)
    p95 = np.full(windows, np.nan)
    for k in range(windows):
        frame = store.query(int(edges[k]), int(edges[k + 1]))
        weights = frame.node_requests.astype(np.float64)
        valid = (weights > 0) & ~np.isnan(frame.node_p95_ms)
        if valid.any():
            p95[k] = float(np.average(frame.node_p95_ms[valid], weights=weights[valid]))
    if np.isnan(p95).all():
        return []
    median = float(np.nanmedian(p95))
    jumped = np.flatnonzero(np.nan_to_num(p95) >= LATENCY_JUMP * max(median, 1e-3))
    return _merge([IncidentMark(int(edges[k]), int(edges[k + 1]), "latency jumped") for k in jumped.tolist()])
