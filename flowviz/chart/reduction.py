"""What part of a window's graph the chart shows: focus, then a find/hide filter, then collapsed groups (Qt-free)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from flowviz.chart.chart_frame import classify_health
from flowviz.chart.filter_expr import NodeFigures, NodeFilter
from flowviz.chart.focus import Focus
from flowviz.chart.grouping import AUTO_COMMUNITY_ABOVE, assign_groups, collapse, subset
from flowviz.chart.themes import HealthThresholds
from flowviz.store.graph_frame import GraphFrame


@dataclass(frozen=True, slots=True)
class ChartScope:
    """The user's cut of the graph: a focus, a filter, how to group and which groups are open.

    Groups are collapsed unless named in `expanded`; `group_mode` is one of `grouping.GROUP_MODES`
    (`auto`: only graphs of more than ~80 nodes, by namespace where names carry one, else by
    community). While a focus is set, nothing is grouped: a focus is small by nature.
    """

    group_mode: str = "auto"
    pattern: str = ""
    expanded: frozenset[str] = frozenset()
    focus: Focus | None = None
    node_filter: NodeFilter | None = None

    @property
    def is_cut(self) -> bool:
        """Whether focus or filter hide part of the graph."""
        return self.focus is not None or self.node_filter is not None


@dataclass(frozen=True, slots=True, eq=False)
class ScopedFrame:
    """A window's frame as the chart shows it, and how it maps back to the store's frame."""

    frame: GraphFrame
    members: tuple[tuple[str, ...], ...]  # per node: the names a group stands for (empty: an ordinary node)
    store_node: np.ndarray  # per node: its index in the store's frame, -1 for a group
    store_edge: np.ndarray  # per edge: its index in the store's frame, -1 for an edge between groups
    group_health: np.ndarray  # per node: the worst health among a group's members, -1 for ordinary nodes
    group_of: dict[str, str] = field(default_factory=dict)  # node name -> its group's label, open or collapsed


def node_figures(frame: GraphFrame, thresholds: HealthThresholds, health: np.ndarray | None = None) -> NodeFigures:
    """Per node figures as the chart computes them (rate served, or sent for a pure source); `health` where the
    chart's health comes from elsewhere (the analysis) rather than from `thresholds`."""
    window_s = max((frame.end_ns - frame.start_ns) / 1e9, 1e-9)
    rate = np.where(frame.node_requests > 0, frame.node_requests, frame.node_out_requests) / window_s
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(frame.node_requests > 0, frame.node_errors / np.maximum(frame.node_requests, 1), 0.0)
    if health is None:
        health = classify_health(frame.node_requests, frame.node_errors, frame.node_p95_ms, thresholds)
    return NodeFigures(
        frame.node_names, frame.node_kind, rate, ratio, frame.node_p50_ms, frame.node_p95_ms, frame.node_p99_ms, health
    )


class Scoper:
    """Applies a `ChartScope` to frames; remembers group assignments per topology (community detection
    is the one costly step)."""

    def __init__(self) -> None:
        self._labels_key: tuple | None = None
        self._labels: list[str] = []

    def group_labels(
        self, frame: GraphFrame, scope: ChartScope, namespaces: Mapping[str, str] | None = None
    ) -> list[str]:
        """Each node's group label; `namespaces`: service -> namespace from resource attributes (the store's)."""
        key = (frame.topology_version, frame.node_names, scope.group_mode, scope.pattern, id(namespaces))
        if key != self._labels_key:
            self._labels = assign_groups(frame, scope.group_mode, pattern=scope.pattern, namespaces=namespaces)
            self._labels_key = key
        return self._labels

    def apply(
        self,
        frame: GraphFrame,
        scope: ChartScope,
        thresholds: HealthThresholds,
        node_health: np.ndarray | None = None,
        *,
        namespaces: Mapping[str, str] | None = None,
    ) -> ScopedFrame:
        """`node_health`: per node of `frame`, its health where the chart takes it from the analysis;
        `namespaces`: service -> namespace from resource attributes."""
        count = len(frame.node_names)
        keep = np.ones(count, bool)
        if scope.focus is not None:
            focused = scope.focus.keep(frame.node_names, frame.edge_source, frame.edge_target)
            if focused is not None:
                keep &= focused
        if scope.node_filter is not None:
            keep &= scope.node_filter.keep(node_figures(frame, thresholds, node_health))
        labels = [] if scope.focus is not None else self.group_labels(frame, scope, namespaces)
        store_node = np.arange(count)
        store_edge = np.arange(frame.edge_count)
        if not keep.all():
            edges = np.flatnonzero(keep[frame.edge_source] & keep[frame.edge_target])
            frame, store_node = subset(frame, keep)
            node_health = None if node_health is None else node_health[store_node]
            store_edge = edges
            labels = [labels[i] for i in store_node.tolist()] if labels else []
        grouped = any(labels)
        if scope.group_mode == "auto" and not scope.pattern:  # a small graph (or what a filter left) reads whole
            grouped = grouped and len(frame.node_names) > AUTO_COMMUNITY_ABOVE
        collapsed = set(labels) - {""} - set(scope.expanded) if grouped else set()
        group_of = dict(zip(frame.node_names, labels, strict=True)) if grouped else {}
        group_of = {name: label for name, label in group_of.items() if label}
        if not collapsed:
            none = np.full(len(frame.node_names), -1, np.int64)
            return ScopedFrame(frame, (), store_node, store_edge, none, group_of)
        member_health = (
            classify_health(frame.node_requests, frame.node_errors, frame.node_p95_ms, thresholds)
            if node_health is None
            else node_health
        )
        scoped, members, origin = collapse(frame, labels, collapsed)
        new_store_node = np.where(origin >= 0, store_node[np.maximum(origin, 0)], -1)
        group_health = np.full(len(scoped.node_names), -1, np.int64)
        index_of = {name: i for i, name in enumerate(frame.node_names)}
        for index, names in enumerate(members):
            if names:
                group_health[index] = int(member_health[[index_of[n] for n in names]].max())
        # an edge between two ordinary nodes keeps its store index; edges touching a group have none
        pair_index = {
            (int(s), int(t)): int(e)
            for e, (s, t) in enumerate(zip(store_node[frame.edge_source], store_node[frame.edge_target], strict=True))
        }
        new_s, new_t = new_store_node[scoped.edge_source], new_store_node[scoped.edge_target]
        new_store_edge = np.array(
            [
                store_edge[pair_index[(int(s), int(t))]] if s >= 0 and t >= 0 else -1
                for s, t in zip(new_s.tolist(), new_t.tolist(), strict=True)
            ],
            np.int64,
        )
        return ScopedFrame(scoped, members, new_store_node, new_store_edge, group_health, group_of)
