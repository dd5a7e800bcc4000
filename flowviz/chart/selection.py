"""What the user has chosen on the chart and in its panels — a node or an edge, what the pointer is over, a lit path,
a latency range — as one Qt-free state changed only by commands; the chart, the panels and the trace view read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from flowviz.chart.chart_frame import ChartFrame

NODE, EDGE, HOVER, PATH, LATENCY = "node", "edge", "hover", "path", "latency"
"""The parts of a selection a change names (listeners get the set of those that changed)."""

Listener = Callable[[frozenset[str]], None]


class Selection:
    """One window's selection. `node` and `edge` are rows of the chart frame shown (one of them at most: choosing one
    drops the other); `hovered_node`/`hovered_edge` what the pointer is over; the lit path is kept by names
    (`path_names`, `path_calls`: a trace's services and calls, a journey's, a blast radius) so that it lights the
    chart's own nodes and edges whatever the chart's rows are (`path_rows`); `badges` number some of its nodes;
    `latency_bins` is a range of the selected node's latency histogram (`store/latency_bins`, inclusive), dropped
    when the node changes.

    Commands: `select_node`, `select_edge`, `hover`, `show_path`, `clear_path`, `set_latency_range`, `clear`.
    A command that changes something adds one to `version` and calls each listener (`subscribe`) with the set of
    parts that changed (`NODE`, `EDGE`, `HOVER`, `PATH`, `LATENCY`), in the order they subscribed. A command that
    changes nothing calls nobody.
    """

    def __init__(self) -> None:
        self.node: int | None = None
        self.edge: int | None = None
        self.hovered_node: int | None = None
        self.hovered_edge: int | None = None
        self.path_names: frozenset[str] = frozenset()
        self.path_calls: frozenset[tuple[str, str]] = frozenset()
        self.badges: tuple[tuple[str, str], ...] = ()  # (node name, text): a blast radius numbered in onset order
        self.latency_bins: tuple[int, int] | None = None
        self.version = 0
        self._listeners: list[Listener] = []

    # -- listeners --------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners = [known for known in self._listeners if known != listener]

    def _changed(self, parts: set[str]) -> None:
        if not parts:
            return
        self.version += 1
        changed = frozenset(parts)
        for listener in list(self._listeners):
            listener(changed)

    # -- commands ---------------------------------------------------------------------------------

    def select_node(self, node: int | None) -> None:
        """Choose a node (None: none); an edge chosen before is dropped, and the latency range with a new node."""
        parts = set()
        if self.edge is not None and node is not None:
            self.edge = None
            parts.add(EDGE)
        if node != self.node:
            self.node = node
            parts.add(NODE)
            if self.latency_bins is not None:
                self.latency_bins = None
                parts.add(LATENCY)
        self._changed(parts)

    def select_edge(self, edge: int | None) -> None:
        """Choose an edge (None: none); a node chosen before is dropped (with its latency range)."""
        parts = set()
        if self.node is not None and edge is not None:
            self.node = None
            parts.add(NODE)
            if self.latency_bins is not None:
                self.latency_bins = None
                parts.add(LATENCY)
        if edge != self.edge:
            self.edge = edge
            parts.add(EDGE)
        self._changed(parts)

    def hover(self, node: int | None, edge: int | None = None) -> None:
        """What the pointer is over: a node, else an edge, else nothing."""
        edge = None if node is not None else edge
        if (node, edge) != (self.hovered_node, self.hovered_edge):
            self.hovered_node, self.hovered_edge = node, edge
            self._changed({HOVER})

    def show_path(
        self,
        names: Iterable[str],
        calls: Iterable[tuple[str, str]],
        *,
        badges: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Light services and the calls between them by name (empty: clear); `badges` number some of them."""
        names, calls, badges = frozenset(names), frozenset((a, b) for a, b in calls), tuple(badges)
        if (names, calls, badges) != (self.path_names, self.path_calls, self.badges):
            self.path_names, self.path_calls, self.badges = names, calls, badges
            self._changed({PATH})

    def clear_path(self) -> None:
        self.show_path((), ())

    def set_latency_range(self, bins: tuple[int, int] | None) -> None:
        """A range of the selected node's latency bins (first, last, inclusive); None: the whole histogram."""
        bins = None if bins is None else (int(min(bins)), int(max(bins)))
        if bins is not None and self.node is None:
            return  # a range belongs to a node's histogram
        if bins != self.latency_bins:
            self.latency_bins = bins
            self._changed({LATENCY})

    def clear(self) -> None:
        """Nothing chosen, nothing lit (Escape, a reset); what the pointer is over stays."""
        parts = set()
        if self.node is not None:
            parts.add(NODE)
        if self.edge is not None:
            parts.add(EDGE)
        if self.latency_bins is not None:
            parts.add(LATENCY)
        if self.path_names or self.path_calls or self.badges:
            parts.add(PATH)
        self.node = self.edge = self.latency_bins = None
        self.path_names, self.path_calls, self.badges = frozenset(), frozenset(), ()
        self._changed(parts)

    # -- questions --------------------------------------------------------------------------------

    def node_name(self, chart: ChartFrame | None) -> str | None:
        """The selected node's name in `chart` (None: nothing selected, or a row the chart does not have)."""
        if chart is None or self.node is None or not 0 <= self.node < chart.node_count:
            return None
        return chart.node_names[self.node]

    def path_rows(self, chart: ChartFrame) -> tuple[np.ndarray, np.ndarray]:
        """The lit path on `chart`: a bool per node (its name is on the path) and per edge (its ends' names are a
        call of the path); names and calls the chart does not have light nothing."""
        names = np.asarray(chart.node_names, dtype=object)
        nodes = np.isin(names, list(self.path_names)) if self.path_names else np.zeros(chart.node_count, bool)
        edges = np.zeros(chart.edge_count, bool)
        if self.path_calls and chart.edge_count:
            index = {name: i for i, name in enumerate(chart.node_names)}
            count = max(chart.node_count, 1)
            codes = [index[a] * count + index[b] for a, b in self.path_calls if a in index and b in index]
            edge_codes = chart.edge_source.astype(np.int64) * count + chart.edge_target.astype(np.int64)
            edges = np.isin(edge_codes, codes)
        return nodes, edges
