"""The flow chart's model: store window -> layout -> chart frame -> particles, rebuilt only on change (Qt-free)."""

from __future__ import annotations

import numpy as np

from flowviz.chart.chart_frame import ChartFrame, build_chart_frame
from flowviz.chart.particles import DEFAULT_BUDGET, ParticleSystem
from flowviz.chart.themes import DARK, HealthThresholds, Theme
from flowviz.derive.observations import ConnectionType
from flowviz.layout import FlowLayout
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


class FlowChartModel:
    """What the flow chart shows, for one store.

    `refresh()` queries the window ending at the cursor (by default: following the newest data,
    leaving out the bucket still being filled when `live`), re-runs the layout only when the
    topology changed, and rebuilds the chart frame only when data, window or cursor changed.
    """

    def __init__(
        self,
        store: RollingStore,
        *,
        window_s: float = 60.0,
        live: bool = True,
        theme: Theme = DARK,
        thresholds: HealthThresholds | None = None,
        particle_budget: int = DEFAULT_BUDGET,
    ) -> None:
        self.store = store
        self.window_s = window_s
        self.live = live
        self.theme = theme
        self.thresholds = thresholds or HealthThresholds()
        self.layout = FlowLayout()
        self.particles = ParticleSystem(budget=particle_budget)
        self.frame: GraphFrame | None = None
        self.chart: ChartFrame | None = None
        self.chart_version = 0
        self.layout_version = -1
        self._seen: tuple | None = None
        self.cursor_ns: int | None = None  # None: follow the newest data
        self.aspect = 16 / 9  # of the screen the chart is fitted to
        # layered layouts are wide: spread rows vertically towards the screen's aspect, once (so that
        # later nodes never make the others move)
        self.y_stretch: float | None = None
        self.settle_s = 15.0  # live: relayout on topology changes while the data is younger than this
        self._settled_topology = -1

    # -- time --------------------------------------------------------------------------------

    def window_end_ns(self) -> int | None:
        """The end of the window shown: the cursor, or the newest complete second of data."""
        if self.cursor_ns is not None:
            return self.cursor_ns
        retained = self.store.time_range_ns()
        if retained is None:
            return None
        end = retained[1]
        if self.live and end - retained[0] > SECOND_NS:
            end -= SECOND_NS  # the newest bucket is still filling
        return end

    def whole_range_window(self) -> None:
        """Aggregate everything retained (a capture opened without time travel)."""
        retained = self.store.time_range_ns()
        if retained is not None:
            self.window_s = max((retained[1] - retained[0]) / SECOND_NS, 1.0)
            self.cursor_ns = retained[1]

    # -- refresh -----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Rebuild what changed; True when the chart frame is new."""
        end_ns = self.window_end_ns()
        if end_ns is None:
            return False
        state = (
            self.store.data_version,
            self.store.topology_version,
            end_ns,
            self.window_s,
            self.theme.name,
            self.thresholds,
            self.layout.result.version if self.layout.result else None,
        )
        if state == self._seen:
            return False
        start_ns = end_ns - int(self.window_s * SECOND_NS)
        frame = self.store.query(start_ns, end_ns)
        # when breaking cycles, reverse asynchronous (messaging) edges before synchronous calls:
        # a reply over a topic is feedback, the call is the flow
        weight = np.where(frame.edge_connection_type == ConnectionType.MESSAGING_SYSTEM, 1.0, 10.0)
        result = self.layout.update(frame.node_names, frame.edge_source, frame.edge_target, edge_weight=weight)
        if self._settling(frame) and frame.topology_version != self._settled_topology:
            result = self.layout.relayout()  # the graph is still taking shape: place everything afresh
            self._settled_topology = frame.topology_version
            self.y_stretch = None
        self.layout_version = result.version
        self.frame = frame
        if self.y_stretch is None and len(frame.node_names) > 1:
            self.y_stretch = _stretch_for(result.positions, self.aspect)
        self.chart = build_chart_frame(
            frame,
            result.positions * np.array([1.0, self.y_stretch or 1.0]),
            thresholds=self.thresholds,
            node_scale=self.theme.node_scale,
            edge_scale=self.theme.edge_scale,
        )
        self.particles.update(self.chart)
        self.chart_version += 1
        self._seen = (*state[:-1], self.layout.result.version)
        return True

    def _settling(self, frame: GraphFrame) -> bool:
        retained = self.store.time_range_ns()
        return self.live and retained is not None and retained[1] - retained[0] < self.settle_s * SECOND_NS

    def relayout(self) -> None:
        """Place every node afresh (pins kept): after a capture finished loading, or when the user asks."""
        self.layout.relayout()
        self.y_stretch = None
        self._seen = None
        self.refresh()

    def step(self, dt_s: float) -> None:
        self.particles.step(dt_s)

    # -- questions the view asks ------------------------------------------------------------------

    def neighbours(self, node: int) -> frozenset[int]:
        chart = self.chart
        if chart is None:
            return frozenset()
        visible = chart.edge_visible
        out = chart.edge_target[(chart.edge_source == node) & visible]
        into = chart.edge_source[(chart.edge_target == node) & visible]
        return frozenset(int(i) for i in np.concatenate([out, into]))

    def find(self, text: str) -> list[int]:
        """Visible nodes whose name contains `text` (case-insensitive), exact matches first."""
        chart = self.chart
        if chart is None or not text:
            return []
        needle = text.lower()
        hits = [i for i, name in enumerate(chart.node_names) if needle in name.lower() and chart.node_visible[i]]
        return sorted(hits, key=lambda i: (chart.node_names[i].lower() != needle, len(chart.node_names[i])))

    def node_at(self, x: float, y: float, *, slop: float = 4.0) -> int | None:
        """The node under the world point (x, y), if any (the nearest when several overlap)."""
        chart = self.chart
        if chart is None or chart.node_count == 0:
            return None
        distance = np.hypot(chart.node_xy[:, 0] - x, chart.node_xy[:, 1] - y) - chart.node_radius
        distance[~chart.node_visible] = np.inf
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= slop else None

    def pin(self, node: int, x: float, y: float) -> None:
        """Keep a node where the user dragged it (chart coordinates)."""
        if self.chart is not None:
            self.layout.pin(self.chart.node_names[node], x, y / (self.y_stretch or 1.0))

    def bounds(self) -> tuple[float, float, float, float] | None:
        chart = self.chart
        if chart is None or not chart.node_visible.any():
            return None
        xy = chart.node_xy[chart.node_visible]
        pad = float(chart.node_radius.max()) * 2
        return (
            float(xy[:, 0].min()) - pad,
            float(xy[:, 1].min()) - pad,
            float(xy[:, 0].max()) + pad,
            float(xy[:, 1].max()) + pad,
        )


def _stretch_for(positions: np.ndarray, aspect: float) -> float:
    """Vertical factor that brings a layout's width:height towards `aspect` (1 to 4)."""
    span = positions.max(axis=0) - positions.min(axis=0)
    width, height = max(float(span[0]), 1.0), max(float(span[1]), 1.0)
    return float(np.clip(width / aspect / height, 1.0, 4.0))
