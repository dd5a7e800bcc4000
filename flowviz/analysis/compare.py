"""Compare a window with a baseline window: per edge and node, what appeared, vanished or changed, and a score
that ranks what an engineer should look at first (Qt-free).

The score is built from the count statistics of `analysis.significance`, so evidence grows with
traffic: a rise in the failure ratio or in the share of slow calls (at or above the baseline's p95)
on a busy edge outranks the same shift on a quiet one, and a handful of calls never looks like a
jump. Rises in failures and latency count fully, changes of rate half (more or less traffic is
often the consequence, not the cause), improvements a quarter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from flowviz.analysis.significance import error_ratio_z, latency_change_z, rate_change_z
from flowviz.model.time_spec import format_time_ns
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.latency_bins import BIN_COUNT, bin_of
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
CHANGED_SCORE = 4.0  # a score at or above this is a change (z-scores: ~1 in 30 000 by chance)
RATE_WEIGHT = 0.5
IMPROVEMENT_WEIGHT = 0.25


class Change(IntEnum):
    """How an edge or node differs from the baseline."""

    SAME = 0
    CHANGED = 1
    NEW = 2
    GONE = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True, eq=False)
class Side:
    """Per-entity figures of one window: rate (per s), failure ratio (NaN without calls), p95 (NaN without
    latency), and the counts the statistics need."""

    requests: np.ndarray
    errors: np.ndarray
    rate_per_s: np.ndarray
    error_ratio: np.ndarray
    p95_ms: np.ndarray
    slow: np.ndarray  # calls at or above the baseline's p95
    timed: np.ndarray  # calls with a latency


@dataclass(frozen=True, slots=True, eq=False)
class Changes:
    """Baseline vs window for one kind of entity (edges or nodes), index-aligned with the store's tables."""

    before: Side
    after: Side
    rate_z: np.ndarray
    error_z: np.ndarray
    latency_z: np.ndarray
    score: np.ndarray
    change: np.ndarray  # int8 Change
    active: np.ndarray  # bool: calls in either window

    def ranked(self) -> np.ndarray:
        """Indices of the active entities, highest score first (ties: busier first)."""
        rows = np.flatnonzero(self.active)
        busy = np.maximum(self.before.requests, self.after.requests)[rows]
        return rows[np.lexsort((-busy, -self.score[rows]))]


@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """A window compared with its baseline: `edges` and `nodes` changes over one snapshot's tables."""

    baseline: tuple[int, int]
    window: tuple[int, int]
    node_names: tuple[str, ...]
    edge_source: np.ndarray
    edge_target: np.ndarray
    edges: Changes
    nodes: Changes


def _thresholds(p95_ms: np.ndarray) -> np.ndarray:
    """The latency bin of each baseline p95 (BIN_COUNT, i.e. nothing counts, where there is none)."""
    out = np.full(p95_ms.shape, BIN_COUNT, np.int64)
    known = ~np.isnan(p95_ms)
    out[known] = bin_of(np.round(p95_ms[known] * 1e6).astype(np.int64)).astype(np.int64)
    return out


def _side(requests, errors, p95_ms, seconds: float, slow, timed) -> Side:
    requests = requests.astype(np.float64)
    errors = errors.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, errors / requests, np.nan)
    return Side(requests, errors, requests / seconds, ratio, p95_ms, slow, timed)


def _changes(before: Side, after: Side, before_s: float, after_s: float) -> Changes:
    rate_z = rate_change_z(before.requests, before_s, after.requests, after_s)
    error_z = error_ratio_z(before.errors, before.requests, after.errors, after.requests)
    new = (before.requests == 0) & (after.requests > 0)
    gone = (before.requests > 0) & (after.requests == 0)
    if new.any():  # no baseline of its own: a new entity's failures against everything's baseline ratio
        total = before.requests.sum()
        fallback = error_ratio_z(before.errors.sum(), total, after.errors[new], after.requests[new])
        error_z = error_z.copy()
        error_z[new] = fallback if total > 0 else 0.0
    latency_z = latency_change_z(before.slow, before.timed, after.slow, after.timed)
    rises = np.maximum(np.maximum(error_z, latency_z), 0.0)
    falls = np.maximum(np.maximum(-error_z, -latency_z), 0.0) * IMPROVEMENT_WEIGHT
    score = np.maximum(np.maximum(rises, falls), RATE_WEIGHT * np.abs(rate_z))
    change = np.where(score >= CHANGED_SCORE, Change.CHANGED, Change.SAME).astype(np.int8)
    change[new] = Change.NEW
    change[gone] = Change.GONE
    active = (before.requests > 0) | (after.requests > 0)
    return Changes(before, after, rate_z, error_z, latency_z, np.where(active, score, 0.0), change, active)


def _node_served(frame: GraphFrame) -> np.ndarray:
    """What a node served, or for a pure source (user, a cron job) what it sent — as the chart sizes it."""
    return np.where(frame.node_requests > 0, frame.node_requests, frame.node_out_requests)


def compare_windows(store: RollingStore, baseline: tuple[int, int], window: tuple[int, int]) -> Comparison:
    """Compare [window) with [baseline) over one snapshot of the store (indices match its tables)."""
    snapshot = store.snapshot()
    before, after = snapshot.query(*baseline), snapshot.query(*window)
    before_s = (baseline[1] - baseline[0]) / SECOND_NS
    after_s = (window[1] - window[0]) / SECOND_NS
    edge_threshold = _thresholds(before.edge_p95_ms)
    node_threshold = _thresholds(before.node_p95_ms)
    slow_before = snapshot.slow_calls(*baseline, edge_threshold, node_threshold)
    slow_after = snapshot.slow_calls(*window, edge_threshold, node_threshold)
    edges = _changes(
        _side(before.edge_requests, before.edge_errors, before.edge_p95_ms, before_s, *_edge_slow(slow_before)),
        _side(after.edge_requests, after.edge_errors, after.edge_p95_ms, after_s, *_edge_slow(slow_after)),
        before_s,
        after_s,
    )
    nodes = _changes(
        _side(_node_served(before), before.node_errors, before.node_p95_ms, before_s, *_node_slow(slow_before)),
        _side(_node_served(after), after.node_errors, after.node_p95_ms, after_s, *_node_slow(slow_after)),
        before_s,
        after_s,
    )
    return Comparison(baseline, window, after.node_names, after.edge_source, after.edge_target, edges, nodes)


def _edge_slow(slow) -> tuple[np.ndarray, np.ndarray]:
    return slow.edge_slow, slow.edge_timed


def _node_slow(slow) -> tuple[np.ndarray, np.ndarray]:
    return slow.node_slow, slow.node_timed


def _pair(before: float, after: float, digits: int) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), digits) for v in (before, after)]


def _row(changes: Changes, index: int) -> dict[str, object]:
    before, after = changes.before, changes.after
    return {
        "change": Change(int(changes.change[index])).label,
        "requests_per_s": _pair(before.rate_per_s[index], after.rate_per_s[index], 4),
        "error_ratio": _pair(before.error_ratio[index], after.error_ratio[index], 5),
        "p95_ms": _pair(before.p95_ms[index], after.p95_ms[index], 3),
        "score": round(float(changes.score[index]), 2),
    }


def change_rows(comparison: Comparison) -> list[dict[str, object]]:
    """`changes` of `report --json`: every edge with calls in either window, highest score first."""
    names = comparison.node_names
    return [
        {
            "source": names[int(comparison.edge_source[e])],
            "target": names[int(comparison.edge_target[e])],
            **_row(comparison.edges, int(e)),
        }
        for e in comparison.edges.ranked()
    ]


def node_change_rows(comparison: Comparison) -> list[dict[str, object]]:
    """`node_changes` of `report --json`: every node with traffic in either window, highest score first."""
    return [
        {"name": comparison.node_names[int(n)], **_row(comparison.nodes, int(n))} for n in comparison.nodes.ranked()
    ]


def add_comparison(report: dict, store: RollingStore, baseline, window) -> Comparison:
    """Add `baseline`, `changes` and `node_changes` to a report of `window` (both `ReportWindow`s)."""
    comparison = compare_windows(store, (baseline.start_ns, baseline.end_ns), (window.start_ns, window.end_ns))
    report["baseline"] = {
        "start": format_time_ns(baseline.start_ns),
        "end": format_time_ns(baseline.end_ns),
        "seconds": (baseline.end_ns - baseline.start_ns) / SECOND_NS,
    }
    report["changes"] = change_rows(comparison)
    report["node_changes"] = node_change_rows(comparison)
    return comparison


def format_changes(report: dict, *, limit: int = 20) -> str:
    """The biggest changes as a readable table (for the text report)."""
    rows = [r for r in report["changes"] if r["change"] != "same"][:limit]
    base = report["baseline"]
    lines = [f"Changes against {base['start']} .. {base['end']} ({base['seconds']:g} s), biggest first"]
    if not rows:
        return "\n".join([*lines, "  nothing changed significantly"])

    def pair(values: list, unit: str, scale: float = 1.0) -> str:
        return " -> ".join("-" if v is None else f"{v * scale:.3g}{unit}" for v in values)

    for row in rows:
        lines.append(
            f"  {row['score']:7.1f}  {row['change']:<7}  {row['source']} -> {row['target']}:  "
            f"rate {pair(row['requests_per_s'], '/s')}, failed {pair(row['error_ratio'], ' %', 100)}, "
            f"p95 {pair(row['p95_ms'], ' ms')}"
        )
    return "\n".join(lines)
