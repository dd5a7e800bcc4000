"""The flow chart's model: store window -> layout -> chart frame -> particles, rebuilt only on change (Qt-free)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from flowviz.chart.chart_frame import (
    ChartFrame,
    Health,
    HealthSource,
    HealthView,
    build_chart_frame,
    classify_health,
    node_radius_for,
)
from flowviz.chart.particles import DEFAULT_BUDGET, ParticleSystem
from flowviz.chart.reduction import ChartScope, ScopedFrame, Scoper
from flowviz.chart.themes import DARK, HealthThresholds, Theme
from flowviz.derive.dead_letters import DeadLetterRules
from flowviz.layout import FlowLayout
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.time_control import TimeControl, TimeRange
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


class FlowChartModel:
    """What the flow chart shows, for one store.

    `time` (a `TimeControl`) says which window to show; `tick()` lets real time pass. `refresh()`
    queries that window, re-runs the layout only when the topology changed, and rebuilds the chart
    frame only when data, window or cursor changed.
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
        self.live = live
        self.time = TimeControl(window_s=window_s, live=live)
        self.theme = theme
        self.thresholds = thresholds or HealthThresholds()
        self.layout = FlowLayout()
        self.particles = ParticleSystem(budget=particle_budget)
        self.chart: ChartFrame | None = None
        self.chart_version = 0
        self.shown_window_ns: tuple[int, int] | None = None  # [start, end) the chart frame aggregates
        self._seen: tuple | None = None
        self.aspect = 16 / 9  # of the screen the chart is fitted to
        # layered layouts are wide (or, with huge first columns, tall): spread them towards the screen's
        # aspect, once (so that later nodes never make the others move)
        self.x_stretch = 1.0
        self.y_stretch: float | None = None
        self.settle_s = 15.0  # live: relayout on topology changes during the first seconds of watching
        self._created_at = time.monotonic()
        self._settled_topology = -1
        # notes on nodes from a live source (a consumer group's lag), asked for at each refresh
        self.node_notes: Callable[[], Mapping[str, str]] | None = None
        self.dead_letters = DeadLetterRules()  # which topics are drawn as dead-letter/retry topics
        # health from the analysis (departures from baselines, objectives) instead of fixed thresholds alone
        self.health_source: HealthSource | None = None
        self.scope = ChartScope()  # focus, filter and groups: what part of the graph is shown
        self.scoped: ScopedFrame | None = None  # the last frame as shown, with its map back to the store
        self._scoper = Scoper()
        # whether the source still streams (a live feed, a capture still loading): the window sets it from its
        # feed; playback reaching the end waits for more while it does
        self.source_streaming: Callable[[], bool] = lambda: self.live

    # -- time --------------------------------------------------------------------------------

    def available(self) -> TimeRange | None:
        """The data the cursor may visit: everything retained, less the second still filling when live."""
        retained = self.store.time_range_ns()
        if retained is None:
            return None
        end = retained[1]
        if self.live and end - retained[0] > SECOND_NS:
            end -= SECOND_NS
        return TimeRange(retained[0], end)

    def tick(self, dt_s: float) -> None:
        """Real time passes: the cursor follows, plays or stays; particles flow."""
        self.time.tick(dt_s, self.available(), streaming=self.source_streaming())
        self.particles.step(dt_s)

    def show_whole_range(self) -> None:
        """Aggregate everything retained (a capture just opened), cursor at the end."""
        available = self.available()
        if available is not None:
            self.time.tick(0.0, available, streaming=self.source_streaming())
            self.time.set_window((available.end_ns - available.start_ns) / SECOND_NS)
            self.time.seek(available.end_ns)

    # -- refresh -----------------------------------------------------------------------------

    def pending_window(self) -> tuple[int, int] | None:
        """The window [start_ns, end_ns) a refresh would query now, or None when it would change nothing
        (so a caller can run the query elsewhere and hand the frame to `refresh`)."""
        if self.time.cursor_ns is None:
            self.time.tick(0.0, self.available(), streaming=self.source_streaming())
        window = self.time.window_ns()
        if window is None:
            return None
        notes = dict(self.node_notes()) if self.node_notes is not None else {}
        versions = (self.store.data_version, self.store.topology_version)
        return None if self._state(versions, window, notes) == self._seen else window

    def _state(self, versions: tuple[int, int], window: tuple[int, int], notes: dict[str, str]) -> tuple:
        """What the chart frame depends on: data, window, looks, notes, scope, health, layout."""
        return (
            *versions,
            window[1],
            window[0],
            self.theme.name,
            self.thresholds,
            tuple(sorted(notes.items())),
            self.scope,
            self.health_source.key() if self.health_source is not None else None,
            self.layout.result.version if self.layout.result else None,
        )

    def refresh(self, store_frame: GraphFrame | None = None) -> bool:
        """Rebuild what changed; True when the chart frame is new. `store_frame`: the store's frame of a
        window already queried (off the UI thread); the chart then shows that window."""
        if store_frame is None:
            if self.time.cursor_ns is None:
                self.time.tick(0.0, self.available(), streaming=self.source_streaming())
            window = self.time.window_ns()
            if window is None:
                return False
            versions = (self.store.data_version, self.store.topology_version)
        else:
            window = (store_frame.start_ns, store_frame.end_ns)
            versions = (store_frame.data_version, store_frame.topology_version)
        start_ns, end_ns = window
        notes = dict(self.node_notes()) if self.node_notes is not None else {}
        state = self._state(versions, window, notes)
        if state == self._seen:
            return False
        if store_frame is None:
            store_frame = self.store.query(start_ns, end_ns)
        health = self._health(store_frame)
        scoped = self._scoper.apply(
            store_frame,
            self.scope,
            self.thresholds,
            None if health is None else health.node_level,
            namespaces=self.store.service_namespaces(),
        )
        frame = scoped.frame
        self._unfold_opened_groups(scoped)
        # when breaking cycles, reverse asynchronous (messaging) edges before synchronous calls:
        # a reply over a topic is feedback, the call is the flow
        weight = np.where(frame.edge_connection_type == ConnectionType.MESSAGING_SYSTEM, 1.0, 10.0)
        result = self.layout.update(frame.node_names, frame.edge_source, frame.edge_target, edge_weight=weight)
        if self._settling() and frame.topology_version != self._settled_topology:
            result = self.layout.relayout()  # the graph is still taking shape: place everything afresh
            self._settled_topology = frame.topology_version
            self.y_stretch = None
        if self.y_stretch is None and len(frame.node_names) > 1:
            self.x_stretch, self.y_stretch = stretch_for(result.positions, self.aspect)
        geometry = (
            self.layout.result.version,
            self.x_stretch,
            self.y_stretch,
            len(frame.edge_source),
            self.theme.node_scale,
        )
        previous = self.chart
        self.chart = build_chart_frame(
            frame,
            result.positions * self.stretch,
            thresholds=self.thresholds,
            node_scale=self.theme.node_scale,
            edge_scale=self.theme.edge_scale,
            geometry_version=geometry,
            cached_curves=previous.edge_curve
            if previous is not None and previous.geometry_version == geometry
            else None,
            node_notes=notes,
            node_members=scoped.members,
            edge_routes=self._edge_routes(frame, result.routes),
            dead_letters=self.dead_letters,
            **_scoped_health(health, scoped),
        )
        if scoped.members:  # a group is as healthy as its worst member
            worst = np.maximum(self.chart.node_health, scoped.group_health).astype(self.chart.node_health.dtype)
            self.chart = dataclasses.replace(self.chart, node_health=worst)
        self.scoped = scoped
        self.particles.update(self.chart)
        self.chart_version += 1
        self.shown_window_ns = (start_ns, end_ns)
        self._seen = (*state[:-1], self.layout.result.version)
        return True

    def _unfold_opened_groups(self, scoped: ScopedFrame) -> None:
        """Members of a group that was shown as a box until now take the free places nearest to it, busiest
        first: they appear where the group was, and nothing else moves."""
        previous = self.scoped
        if previous is None or not previous.members:
            return
        shown = set(scoped.frame.node_names)
        index_of = {name: i for i, name in enumerate(scoped.frame.node_names)}
        requests = scoped.frame.node_requests
        down = self.member_room()[1]
        for group, members in zip(previous.frame.node_names, previous.members, strict=True):
            if not members or group in shown:
                continue
            arrived = [name for name in members if name in index_of]
            if arrived:
                arrived.sort(key=lambda name: -int(requests[index_of[name]]))
                self.layout.unfold(group, arrived, x_weight=self.x_stretch, y_weight=self.y_stretch or 1.0, gap=down)

    def member_room(self) -> tuple[float, float]:
        """The room (chart units) an opened group's members get: across, between the shapes of the largest nodes
        a column apart (where a name goes); down, from one member's centre to the next (far enough for the
        largest nodes not to touch)."""
        largest_radius = float(node_radius_for(np.array([np.inf]), scale=self.theme.node_scale)[0])
        across = self.layout.layer_gap * self.x_stretch - 2 * largest_radius
        return across, max(self.layout.node_gap, 2 * largest_radius + 16.0)

    def _edge_routes(self, frame, routes: dict[tuple[str, str], np.ndarray]) -> dict[int, np.ndarray]:
        """The layout's routes of long edges, by the frame's edge index, in chart coordinates."""
        if not routes:
            return {}
        names = frame.node_names
        found = {}
        for edge, (s, t) in enumerate(zip(frame.edge_source.tolist(), frame.edge_target.tolist(), strict=True)):
            route = routes.get((names[s], names[t]))
            if route is not None:
                found[edge] = route * self.stretch
        return found

    def _health(self, frame: GraphFrame) -> HealthView | None:
        """The analysis's health of the store frame, with the fixed thresholds folded in where they apply."""
        source = self.health_source
        view = source.levels(frame) if source is not None else None
        if view is None or not source.use_thresholds:
            return view
        fixed_nodes = classify_health(frame.node_requests, frame.node_errors, frame.node_p95_ms, self.thresholds)
        fixed_edges = classify_health(frame.edge_requests, frame.edge_errors, frame.edge_p95_ms, self.thresholds)
        return _Levels(
            np.maximum(view.node_level, fixed_nodes).astype(np.int8),
            np.maximum(view.edge_level, fixed_edges).astype(np.int8),
            view.node_reason,
            view.edge_reason,
            view.node_root_cause,
        )

    def set_aspect(self, aspect: float) -> bool:
        """Fit the layout's spread to a screen of this width:height; True (and the chart rebuilt) when
        that changed the chart."""
        if aspect <= 0 or abs(np.log(aspect / self.aspect)) < 0.05:
            return False
        self.aspect = float(aspect)
        self.y_stretch = None
        self._seen = None
        if self.chart is not None:
            self.refresh()
        return True

    @property
    def stretch(self) -> np.ndarray:
        """Factors from layout to chart coordinates (x, y)."""
        return np.array([self.x_stretch, self.y_stretch or 1.0])

    def _settling(self) -> bool:
        return self.live and time.monotonic() - self._created_at < self.settle_s

    def relayout(self) -> None:
        """Place every node afresh (pins kept): after a capture finished loading, or when the user asks."""
        self.layout.relayout()
        self.y_stretch = None
        self._seen = None
        self.refresh()

    # -- scope: focus, filter, groups -------------------------------------------------------------

    def set_scope(self, scope: ChartScope) -> None:
        """Show another cut of the graph (rebuilt at the next refresh)."""
        self.scope = scope

    def store_node(self, node: int | None) -> int | None:
        """The store's index of chart node `node` (None for a group or None)."""
        if node is None or self.scoped is None or node >= len(self.scoped.store_node):
            return node
        index = int(self.scoped.store_node[node])
        return None if index < 0 else index

    def store_edge(self, edge: int | None) -> int | None:
        """The store's index of chart edge `edge` (None for an edge between groups or None)."""
        if edge is None or self.scoped is None or edge >= len(self.scoped.store_edge):
            return edge
        index = int(self.scoped.store_edge[edge])
        return None if index < 0 else index

    def members(self, node: int) -> tuple[str, ...]:
        """The names a group node stands for (empty for an ordinary node)."""
        chart = self.chart
        return chart.node_members[node] if chart is not None and node < len(chart.node_members) else ()

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

    def edge_at(self, x: float, y: float, *, slop: float = 6.0) -> int | None:
        """The visible edge passing within `slop` of the world point (x, y), if any (the nearest)."""
        chart = self.chart
        if chart is None or chart.edge_count == 0:
            return None
        curves = chart.edge_curve
        start, end = curves[:, :-1], curves[:, 1:]  # segments between the curve's samples
        along = end - start
        length2 = np.maximum((along**2).sum(axis=2), 1e-12)
        t = np.clip(((x - start[..., 0]) * along[..., 0] + (y - start[..., 1]) * along[..., 1]) / length2, 0.0, 1.0)
        dx = start[..., 0] + t * along[..., 0] - x
        dy = start[..., 1] + t * along[..., 1] - y
        distance = np.sqrt(dx**2 + dy**2).min(axis=1)
        distance[~chart.edge_visible] = np.inf
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= slop else None

    def pin(self, node: int, x: float, y: float) -> None:
        """Keep a node where the user dragged it (chart coordinates)."""
        if self.chart is not None:
            self.layout.pin(self.chart.node_names[node], x / self.x_stretch, y / (self.y_stretch or 1.0))

    def bounds(self) -> tuple[float, float, float, float] | None:
        chart = self.chart
        if chart is None or not chart.node_visible.any():
            return None
        xy = chart.node_xy[chart.node_visible]
        # room for the largest node (radii follow the window's traffic: the bounds must not, or a scrub
        # would refit the view at every step)
        pad = float(node_radius_for(np.array([np.inf]), scale=self.theme.node_scale)[0]) * 2
        low, high = xy.min(axis=0) - pad, xy.max(axis=0) + pad
        routed = chart.edge_curve[chart.edge_visible]  # long edges may swing beyond the outermost nodes
        if routed.size:
            low = np.minimum(low, routed.reshape(-1, 2).min(axis=0))
            high = np.maximum(high, routed.reshape(-1, 2).max(axis=0))
        return (float(low[0]), float(low[1]), float(high[0]), float(high[1]))


@dataclass(frozen=True, slots=True)
class _Levels:
    node_level: np.ndarray
    edge_level: np.ndarray
    node_reason: tuple[str, ...]
    edge_reason: tuple[str, ...]
    node_root_cause: np.ndarray


def _scoped_health(health: HealthView | None, scoped: ScopedFrame) -> dict[str, object]:
    """`build_chart_frame`'s health arguments for the chart's nodes and edges (groups: their worst member)."""
    if health is None:
        return {}
    nodes, edges = scoped.store_node, scoped.store_edge
    is_node, is_edge = nodes >= 0, edges >= 0
    node_level = np.where(is_node, health.node_level[np.maximum(nodes, 0)], np.maximum(scoped.group_health, 0))
    frame = scoped.frame
    # an edge between groups: as healthy as its traffic says (it has no findings of its own)
    fallback = np.where(frame.edge_requests > 0, Health.HEALTHY, Health.IDLE)
    edge_level = np.where(is_edge, health.edge_level[np.maximum(edges, 0)], fallback)
    return {
        "node_health": node_level.astype(np.int8),
        "edge_health": edge_level.astype(np.int8),
        "node_reason": tuple(health.node_reason[i] if i >= 0 else "" for i in nodes.tolist()),
        "edge_reason": tuple(health.edge_reason[i] if i >= 0 else "" for i in edges.tolist()),
        "node_root_cause": np.where(is_node, health.node_root_cause[np.maximum(nodes, 0)], False),
    }


def stretch_for(positions: np.ndarray, aspect: float) -> tuple[float, float]:
    """(x, y) factors that bring a layout's width:height towards `aspect`: up to 4 wider, up to 30
    taller (a long chain of few nodes per column would otherwise fill a thin strip of the screen)."""
    span = positions.max(axis=0) - positions.min(axis=0)
    width, height = max(float(span[0]), 1.0), max(float(span[1]), 1.0)
    return float(np.clip(height * aspect / width, 1.0, 4.0)), float(np.clip(width / aspect / height, 1.0, 30.0))
