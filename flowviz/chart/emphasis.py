"""What the chart draws of a selection: its rows in the chart frame shown (the node and its neighbours, the edge and
its ends, the lit path, numbered badges), and which nodes are dimmed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.selection import Selection


@dataclass(frozen=True, slots=True)
class Emphasis:
    """What the user points at: the selected node and its neighbours, the hovered node, a selected edge,
    and a highlighted path (a trace's services and calls). Anything emphasised dims the rest."""

    selected: int | None = None
    hovered: int | None = None
    neighbours: frozenset[int] = field(default_factory=frozenset)
    selected_edge: int | None = None
    edge_ends: frozenset[int] = field(default_factory=frozenset)
    path_nodes: frozenset[int] = field(default_factory=frozenset)
    path_edges: frozenset[int] = field(default_factory=frozenset)
    badges: tuple[tuple[int, str], ...] = ()  # (node, text): numbers of a blast radius in onset order

    def key(self) -> tuple:
        """What the cached layers depend on (hovering aside)."""
        return (self.selected, self.selected_edge, self.path_nodes, self.path_edges, self.badges)

    def is_dimmed(self, node_count: int) -> np.ndarray:
        dimmed = np.zeros(node_count, bool)
        kept = [*self.path_nodes, *self.edge_ends]
        if self.selected is not None:
            kept += [self.selected, *self.neighbours]
        if kept:
            dimmed[:] = True
            dimmed[[i for i in kept if i < node_count]] = False
        return dimmed

    def emphasised_edges(self) -> list[int]:
        """Edges drawn over everything in the selection colour."""
        return [*self.path_edges, *(() if self.selected_edge is None else (self.selected_edge,))]


def emphasis_of(selection: Selection, chart: ChartFrame | None, neighbours: frozenset[int] = frozenset()) -> Emphasis:
    """`selection` on `chart` (rows it does not have are left out); `neighbours`: the selected node's."""
    if chart is None:
        return Emphasis()

    def row(index: int | None, count: int) -> int | None:
        return index if index is not None and 0 <= index < count else None

    node, edge = row(selection.node, chart.node_count), row(selection.edge, chart.edge_count)
    ends = () if edge is None else (int(chart.edge_source[edge]), int(chart.edge_target[edge]))
    path_nodes, path_edges = selection.path_rows(chart)
    index = {name: i for i, name in enumerate(chart.node_names)}
    return Emphasis(
        selected=node,
        hovered=row(selection.hovered_node, chart.node_count),
        neighbours=neighbours if node is not None else frozenset(),
        selected_edge=edge,
        edge_ends=frozenset(ends),
        path_nodes=frozenset(np.flatnonzero(path_nodes).tolist()),
        path_edges=frozenset(np.flatnonzero(path_edges).tolist()),
        badges=tuple((index[name], text) for name, text in selection.badges if name in index),
    )
