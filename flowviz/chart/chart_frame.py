"""What one chart frame shows: node and edge health, sizes and curves, from a store frame and layout positions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

import numpy as np

from flowviz.chart.geometry import edge_curves
from flowviz.chart.themes import HealthThresholds
from flowviz.derive.dead_letters import DeadLetterRules
from flowviz.model.graph_kinds import NodeKind
from flowviz.store.graph_frame import GraphFrame

CURVE_SAMPLES = 32  # enough for a long edge routed through several columns
GEOMETRY_RADIUS = 22.0  # edges leave and reach nodes at this radius (the smallest node's)


class HealthView(Protocol):
    """Health per node and edge of a store frame from elsewhere (the analysis): levels as `Health` values,
    the sentence that says why, and the root-cause candidates."""

    node_level: np.ndarray
    edge_level: np.ndarray
    node_reason: tuple[str, ...]
    edge_reason: tuple[str, ...]
    node_root_cause: np.ndarray


class HealthSource(Protocol):
    """Where a chart takes its health from instead of fixed thresholds alone."""

    use_thresholds: bool  # the fixed thresholds apply too (the worse of both)

    def key(self) -> object:
        """Changes whenever `levels` may answer differently."""

    def levels(self, frame: GraphFrame) -> HealthView | None: ...


class Health(IntEnum):
    """Health class of a node or edge in the window."""

    IDLE = 0
    HEALTHY = 1
    DEGRADED = 2
    FAILING = 3


def classify_health(
    requests: np.ndarray, errors: np.ndarray, p95_ms: np.ndarray, thresholds: HealthThresholds
) -> np.ndarray:
    """Health per row: failures first (ratio), then latency (p95); rows without requests are idle."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, errors / np.maximum(requests, 1), 0.0)
    p95 = np.nan_to_num(p95_ms, nan=0.0)
    health = np.full(requests.shape, Health.HEALTHY, np.int8)
    health[(ratio >= thresholds.degraded_failure_ratio) | (p95 >= thresholds.degraded_p95_ms)] = Health.DEGRADED
    health[(ratio >= thresholds.failing_failure_ratio) | (p95 >= thresholds.failing_p95_ms)] = Health.FAILING
    health[requests <= 0] = Health.IDLE
    return health


@dataclass(frozen=True, slots=True, eq=False)
class ChartFrame:
    """Arrays for drawing one frame, in layout coordinates; indices match the store's nodes and edges.

    Rates are per second over the window (a node's: what it served, or for a pure source what it
    sent). `edge_curve` holds each edge as `CURVE_SAMPLES` points
    spaced evenly along its length, so particles can move at a steady speed.
    """

    window_s: float
    node_names: tuple[str, ...]
    node_kind: np.ndarray
    node_xy: np.ndarray  # N×2
    node_radius: np.ndarray
    node_rate_per_s: np.ndarray
    node_error_ratio: np.ndarray
    node_p50_ms: np.ndarray
    node_p95_ms: np.ndarray
    node_p99_ms: np.ndarray
    node_health: np.ndarray
    node_visible: np.ndarray  # bool: has traffic in the window, or is an endpoint of an edge that has
    edge_source: np.ndarray
    edge_target: np.ndarray
    edge_connection_type: np.ndarray
    edge_via: tuple[str, ...]
    edge_rate_per_s: np.ndarray
    edge_error_ratio: np.ndarray
    edge_p50_ms: np.ndarray
    edge_p95_ms: np.ndarray
    edge_p99_ms: np.ndarray
    edge_health: np.ndarray
    edge_width: np.ndarray
    edge_visible: np.ndarray
    edge_curve: np.ndarray  # E×CURVE_SAMPLES×2
    geometry_version: tuple = ()  # changes exactly when node positions (hence edge curves) change
    node_note: tuple[str, ...] = ()  # per node, a short note from the live source (a consumer group's lag) or ""
    # per node, True where analysis names it a root cause: its label is placed first (empty: none)
    node_root_cause: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # per node, the names of the nodes a group node stands for (empty tuple: an ordinary node)
    node_members: tuple[tuple[str, ...], ...] = ()
    node_dead_letter: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # dead-letter/retry topics
    # why a node or edge has its health colour (from the analysis; "" where nothing to say, empty: none)
    node_reason: tuple[str, ...] = ()
    edge_reason: tuple[str, ...] = ()

    @property
    def node_count(self) -> int:
        return len(self.node_names)

    @property
    def edge_count(self) -> int:
        return int(self.edge_source.shape[0])


def node_radius_for(rate_per_s: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Node radius in layout units: throughput on a log scale, from 22 (idle) to 60."""
    return (22.0 + 10.0 * np.log10(1.0 + np.maximum(rate_per_s, 0.0))).clip(22.0, 60.0) * scale


def edge_width_for(rate_per_s: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Edge width in layout units: rate on a log scale, from 1 to 9."""
    return (1.0 + 2.0 * np.log10(1.0 + np.maximum(rate_per_s, 0.0))).clip(1.0, 9.0) * scale


def build_chart_frame(
    frame: GraphFrame,
    positions: np.ndarray,
    *,
    thresholds: HealthThresholds,
    node_scale: float = 1.0,
    edge_scale: float = 1.0,
    show_idle: bool = True,
    geometry_version: tuple = (),
    cached_curves: np.ndarray | None = None,
    node_notes: Mapping[str, str] | None = None,
    node_root_cause: np.ndarray | None = None,
    node_members: tuple[tuple[str, ...], ...] = (),
    dead_letters: DeadLetterRules | None = None,
    edge_routes: dict[int, np.ndarray] | None = None,
    node_health: np.ndarray | None = None,
    edge_health: np.ndarray | None = None,
    node_reason: tuple[str, ...] = (),
    edge_reason: tuple[str, ...] = (),
) -> ChartFrame:
    """Combine a store frame with layout positions (aligned with `frame.node_names`); `node_notes` adds a
    note to the nodes it names (see `ChartFrame.node_note`). `node_health`/`edge_health` (with their reasons)
    replace the classification by `thresholds` where the health comes from the analysis."""
    window_s = max((frame.end_ns - frame.start_ns) / 1e9, 1e-9)
    # what a node served; a pure source (user, a cron job) by what it sent
    node_rate = np.where(frame.node_requests > 0, frame.node_requests, frame.node_out_requests) / window_s
    edge_rate = frame.edge_requests / window_s
    with np.errstate(invalid="ignore", divide="ignore"):
        node_error_ratio = np.where(
            frame.node_requests > 0, frame.node_errors / np.maximum(frame.node_requests, 1), 0.0
        )
        edge_error_ratio = np.where(
            frame.edge_requests > 0, frame.edge_errors / np.maximum(frame.edge_requests, 1), 0.0
        )
    node_radius = node_radius_for(node_rate, scale=node_scale)
    edge_visible = (frame.edge_requests > 0) | show_idle
    node_visible = np.zeros(len(frame.node_names), bool) | show_idle
    node_visible[frame.edge_source[edge_visible]] = True
    node_visible[frame.edge_target[edge_visible]] = True
    xy = np.asarray(positions, np.float64).reshape(-1, 2)
    # geometry from positions alone (not from rate-dependent radii), so it stays the same while the
    # user scrubs through time and the painter can keep it cached; nodes are drawn over the ends
    if cached_curves is not None and cached_curves.shape[0] == len(frame.edge_source):
        curves = cached_curves  # same geometry version: the caller kept them
    else:
        geometry_radius = np.full(len(frame.edge_source), GEOMETRY_RADIUS * node_scale)
        curves = edge_curves(
            xy[frame.edge_source],
            xy[frame.edge_target],
            geometry_radius,
            geometry_radius,
            samples=CURVE_SAMPLES,
            routes=edge_routes,  # long edges through the columns they pass (edge index -> way points)
        )
    return ChartFrame(
        window_s=window_s,
        node_names=frame.node_names,
        node_kind=frame.node_kind,
        node_xy=xy,
        node_radius=node_radius,
        node_rate_per_s=node_rate,
        node_error_ratio=node_error_ratio,
        node_p50_ms=frame.node_p50_ms,
        node_p95_ms=frame.node_p95_ms,
        node_p99_ms=frame.node_p99_ms,
        node_health=classify_health(frame.node_requests, frame.node_errors, frame.node_p95_ms, thresholds)
        if node_health is None
        else np.asarray(node_health, np.int8),
        node_visible=node_visible,
        edge_source=frame.edge_source,
        edge_target=frame.edge_target,
        edge_connection_type=frame.edge_connection_type,
        edge_via=frame.edge_via,
        edge_rate_per_s=edge_rate,
        edge_error_ratio=edge_error_ratio,
        edge_p50_ms=frame.edge_p50_ms,
        edge_p95_ms=frame.edge_p95_ms,
        edge_p99_ms=frame.edge_p99_ms,
        edge_health=classify_health(frame.edge_requests, frame.edge_errors, frame.edge_p95_ms, thresholds)
        if edge_health is None
        else np.asarray(edge_health, np.int8),
        edge_width=edge_width_for(edge_rate, scale=edge_scale),
        edge_visible=edge_visible,
        edge_curve=curves,
        geometry_version=geometry_version,
        node_note=tuple(node_notes.get(name, "") for name in frame.node_names) if node_notes else (),
        node_root_cause=np.zeros(len(frame.node_names), bool)
        if node_root_cause is None
        else np.asarray(node_root_cause, bool),
        node_members=node_members,
        node_dead_letter=_dead_letter_topics(frame, dead_letters or DeadLetterRules()),
        node_reason=node_reason,
        edge_reason=edge_reason,
    )


def _dead_letter_topics(frame: GraphFrame, rules: DeadLetterRules) -> np.ndarray:
    """True for topic nodes named like dead-letter or retry topics (drawn as such)."""
    mask = np.zeros(len(frame.node_names), bool)
    topics = np.flatnonzero(np.asarray(frame.node_kind) == NodeKind.TOPIC)
    if topics.size:
        mask[topics] = rules.mask(frame.node_names[i] for i in topics.tolist())
    return mask
