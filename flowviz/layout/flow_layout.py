"""FlowLayout: stable left-to-right layered positions for a growing directed graph, with pins."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from flowviz.layout.coordinates import nearest_free_y
from flowviz.layout.incremental import column_of, place_new_nodes, settle_around_fixed
from flowviz.layout.layered import LayeredPlacement, layered_positions, priority_rank
from flowviz.layout.layering import Layering, assign_layers
from flowviz.layout.result import LayoutResult, empty_result, make_result
from flowviz.layout.unfold import unfold_spots


class FlowLayout:
    """Stable left-to-right layered positions for a growing directed graph.

    Call `update` with every node and edge seen so far (edge arrays index `node_names`). The first
    call lays out everything; later calls place only nodes without a position, leaving every placed
    node exactly where it is. Pinned nodes (the user dragged them) stay at their pin, also through
    `relayout`, which lays out everything afresh. Work is done only when the node or edge set changed
    (weights are read then, not compared). Coordinates are abstract units: columns `layer_gap` apart,
    nodes in a column at least `node_gap` apart; y grows downward.
    """

    def __init__(
        self, *, layer_gap: float = 260.0, node_gap: float = 90.0, sweep_passes: int = 6, coordinate_passes: int = 2
    ) -> None:
        if layer_gap <= 0 or node_gap <= 0:
            raise ValueError("layer_gap and node_gap must be positive")
        self._layer_gap = float(layer_gap)
        self._node_gap = float(node_gap)
        self._sweep_passes = sweep_passes
        self._coordinate_passes = coordinate_passes
        self._names: tuple[str, ...] = ()
        self._source = np.zeros(0, dtype=np.int64)
        self._target = np.zeros(0, dtype=np.int64)
        self._node_weight: np.ndarray | None = None
        self._edge_weight: np.ndarray | None = None
        self._topology: tuple[tuple[str, ...], bytes, bytes] | None = None
        self._layering: Layering | None = None
        self._placed: dict[str, tuple[float, float, int]] = {}  # name -> (x, y, column) of every node placed
        self._pins: dict[str, tuple[float, float]] = {}
        self._result = empty_result()
        self._stale = False  # pins changed since `_result` was built
        self.last_placement: LayeredPlacement | None = None  # the latest full layout (ordering stats)
        self._routes: dict[tuple[str, str], np.ndarray] = {}  # long edges' way points from the latest full layout
        self._unfolded: set[str] = set()  # given their places by `unfold`: kept there when they arrive

    @property
    def layer_gap(self) -> float:
        return self._layer_gap

    @property
    def node_gap(self) -> float:
        return self._node_gap

    @property
    def pins(self) -> dict[str, tuple[float, float]]:
        """Pinned positions by node name (a copy)."""
        return dict(self._pins)

    @property
    def result(self) -> LayoutResult:
        """The current layout (reflects pins made since the last `update`)."""
        if self._stale:
            self._publish()
        return self._result

    def update(
        self,
        node_names: Sequence[str],
        edge_source: np.ndarray,
        edge_target: np.ndarray,
        *,
        node_weight: np.ndarray | None = None,
        edge_weight: np.ndarray | None = None,
    ) -> LayoutResult:
        """Positions for every node in `node_names`, placing new ones around the existing layout.

        `node_weight` (e.g. requests) decides who goes first when nodes compete for a spot; `edge_weight`
        (e.g. calls) decides which edges of a cycle keep pointing rightward.
        """
        names = tuple(node_names)
        source = np.asarray(edge_source).reshape(-1)
        target = np.asarray(edge_target).reshape(-1)
        if source.size and not (np.issubdtype(source.dtype, np.integer) and np.issubdtype(target.dtype, np.integer)):
            raise TypeError("edge_source and edge_target must be integer node indices")
        source = source.astype(np.int64, copy=False)
        target = target.astype(np.int64, copy=False)
        topology = (names, source.tobytes(), target.tobytes())
        if topology == self._topology and not self._stale:
            return self._result
        if node_weight is not None and np.shape(node_weight) != (len(names),):
            raise ValueError(f"node_weight must have one entry per node ({len(names)})")
        if topology != self._topology:
            if len(set(names)) != len(names):
                raise ValueError("node_names must be unique")
            if source.shape != target.shape:
                raise ValueError(f"edge_source has {source.size} entries but edge_target has {target.size}")
            if source.size and (min(source.min(), target.min()) < 0 or max(source.max(), target.max()) >= len(names)):
                raise ValueError(f"edge endpoints must be node indices in [0, {len(names)})")
            if edge_weight is not None and np.shape(edge_weight) != source.shape:
                raise ValueError(f"edge_weight must have one entry per edge ({source.size})")
            self._forget_returning_nodes_in_the_way(names)
            self._names, self._source, self._target = names, source, target
            self._node_weight = None if node_weight is None else np.asarray(node_weight, dtype=np.float64)
            self._edge_weight = edge_weight
            self._layering = None
            self._topology = topology
            if any(name not in self._placed for name in names):
                if not self._placed:
                    self._lay_out_everything()
                else:
                    self._place_new()
        return self._publish()

    def pin(self, name: str, x: float, y: float) -> None:
        """Keep `name` at (x, y) from now on (also through `relayout`); a name not seen yet is pinned on arrival."""
        self._pins[name] = (float(x), float(y))
        self._routes = {ends: route for ends, route in self._routes.items() if name not in ends}
        if name in self._placed:
            self._placed[name] = (float(x), float(y), column_of(float(x), self._layer_gap))
        self._stale = True

    def unpin(self, name: str) -> None:
        """Let `relayout` move `name` again; it stays where it is until then."""
        if self._pins.pop(name, None) is not None:
            self._stale = True

    def unfold(
        self,
        group: str,
        members: Sequence[str],
        *,
        x_weight: float = 1.0,
        y_weight: float = 1.0,
        gap: float | None = None,
    ) -> None:
        """Give `members` (about to replace the shown node `group`) the free places nearest to where `group`
        is, nearest first, so they appear where it was and no placed node moves (`unfold_spots`). x and y
        distances are weighted as the screen shows them (a stretched layout), and members keep `gap` (default
        `node_gap`) apart as shown (`gap / y_weight` in layout units). Pinned members keep their pins; nothing
        happens when `group` is not placed."""
        spot = self._placed.get(group)
        if spot is None:
            return
        leaving = {group, *members}
        occupied: dict[int, list[float]] = {}
        for name in (*self._names, *self._unfolded):  # shown, and given a place by an earlier unfold
            if name not in leaving:
                _, y, column = self._placed[name]
                occupied.setdefault(column, []).append(y)
        for ys in occupied.values():
            ys.sort()
        movable = [name for name in members if name not in self._pins]
        spots = unfold_spots(
            spot[:2],
            len(movable),
            occupied,
            layer_gap=self._layer_gap,
            node_gap=(self._node_gap if gap is None else gap) / y_weight,
            x_weight=x_weight,
            y_weight=y_weight,
        )
        for name, placed in zip(movable, spots, strict=True):
            self._placed[name] = placed
        self._unfolded.update(movable)

    def relayout(self) -> LayoutResult:
        """A fresh layout of every current node (pins kept); new and old nodes alike may move."""
        self._lay_out_everything()
        return self._publish()

    # -- internals ------------------------------------------------------------------------------

    def _current_layering(self) -> Layering:
        if self._layering is None:
            self._layering = assign_layers(
                len(self._names),
                self._source,
                self._target,
                edge_weight=self._edge_weight,
                tie_rank=priority_rank(len(self._names), self._node_weight),
            )
        return self._layering

    def _forget_returning_nodes_in_the_way(self, names: tuple[str, ...]) -> None:
        """A node that comes back (after being left out) keeps its old spot unless a newer node took it."""
        previous = set(self._names)
        unfolded, self._unfolded = self._unfolded, set()
        returning = [
            name
            for name in names
            if name in self._placed and name not in previous and name not in self._pins and name not in unfolded
        ]
        if not returning:
            return
        returning_set = set(returning)
        slots: dict[int, list[float]] = {}
        for name in names:
            if name in self._placed and name not in returning_set:
                _, y, column = self._placed[name]
                slots.setdefault(column, []).append(y)
        for column_slots in slots.values():
            column_slots.sort()
        for name in returning:
            _, y, column = self._placed[name]
            column_slots = slots.setdefault(column, [])
            if nearest_free_y(y, column_slots, self._node_gap) == y:
                bisect.insort(column_slots, y)
            else:
                del self._placed[name]  # placed afresh, like a new node

    def _pinned_mask(self) -> np.ndarray:
        return np.fromiter((name in self._pins for name in self._names), dtype=bool, count=len(self._names))

    def _lay_out_everything(self) -> None:
        self._placed = {}
        self._routes = {}
        if not self._names:
            return
        layering = self._current_layering()
        placement = layered_positions(
            layering,
            layer_gap=self._layer_gap,
            node_gap=self._node_gap,
            priority=priority_rank(len(self._names), self._node_weight),
            sweep_passes=self._sweep_passes,
            coordinate_passes=self._coordinate_passes,
        )
        self.last_placement = placement
        positions = placement.positions.copy()
        pinned = self._pinned_mask()
        for index in np.flatnonzero(pinned).tolist():
            positions[index] = self._pins[self._names[index]]
        positions = settle_around_fixed(positions, pinned, layer_gap=self._layer_gap, node_gap=self._node_gap)
        moved = np.any(positions != placement.positions, axis=1)  # routes of moved nodes no longer fit
        names, simple_source, simple_target = self._names, layering.source, layering.target
        self._routes = {
            (names[simple_source[edge]], names[simple_target[edge]]): route
            for edge, route in placement.routes.items()
            if not (moved[simple_source[edge]] or moved[simple_target[edge]])
        }
        columns = np.rint(positions[:, 0] / self._layer_gap).astype(np.int64)  # wrapped rows restart at 0
        for name, (x, y), column in zip(self._names, positions.tolist(), columns.tolist(), strict=True):
            self._placed[name] = (x, y, column)

    def _place_new(self) -> None:
        count = len(self._names)
        positions = np.full((count, 2), np.nan)
        is_new = np.ones(count, dtype=bool)
        for index, name in enumerate(self._names):
            spot = self._pins.get(name) or self._placed.get(name)
            if spot is not None:
                positions[index] = spot[:2]
                is_new[index] = False
        new_nodes = np.flatnonzero(is_new)
        if new_nodes.size == 0:  # only pinned newcomers
            for name in self._names:
                if name not in self._placed:
                    x, y = self._pins[name]
                    self._placed[name] = (x, y, column_of(x, self._layer_gap))
            return
        positions, columns = place_new_nodes(
            self._current_layering(),
            positions,
            new_nodes,
            priority=priority_rank(count, self._node_weight),
            layer_gap=self._layer_gap,
            node_gap=self._node_gap,
        )
        for index in np.flatnonzero(~is_new).tolist():
            name = self._names[index]
            if name not in self._placed:  # pinned on arrival
                x, y = self._pins[name]
                self._placed[name] = (x, y, column_of(x, self._layer_gap))
        for index, column in zip(new_nodes.tolist(), columns.tolist(), strict=True):
            x, y = positions[index].tolist()
            self._placed[self._names[index]] = (x, y, column)

    def _publish(self) -> LayoutResult:
        """Rebuild the result from the placed positions; the version moves only if something visible changed."""
        self._stale = False
        count = len(self._names)
        table = np.array([self._placed[name] for name in self._names], dtype=np.float64).reshape(count, 3)
        positions = np.ascontiguousarray(table[:, :2])
        layer = table[:, 2].astype(np.int32)
        pinned = self._pinned_mask()
        previous = self._result
        unchanged = (
            previous.node_names == self._names
            and np.array_equal(previous.positions, positions)
            and np.array_equal(previous.pinned, pinned)
        )
        version = previous.version if unchanged else previous.version + 1
        if unchanged and np.array_equal(previous.layer, layer):
            return previous
        self._result = make_result(self._names, positions, layer, pinned, version, self._routes)
        return self._result
