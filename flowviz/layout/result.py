"""What a layout answers: one position and layer per node, a version, and the bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Bounds = tuple[float, float, float, float]


def layout_bounds(positions: np.ndarray) -> Bounds:
    """(x0, y0, x1, y1) of the node centres in `positions` (N×2); (0, 0, 0, 0) when there are none."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if positions.shape[0] == 0:
        return (0.0, 0.0, 0.0, 0.0)
    low = positions.min(axis=0)
    high = positions.max(axis=0)
    return (float(low[0]), float(low[1]), float(high[0]), float(high[1]))


@dataclass(frozen=True, slots=True, eq=False)
class LayoutResult:
    """Positions of every node in `node_names`, in abstract units (x grows rightward with the flow, y downward).

    `layer` is the column a node was placed in (x = layer × layer_gap unless the node is pinned
    elsewhere); `version` changes whenever any position changed, so a view can skip redrawing.
    Arrays are read-only: results are cached and shared.
    """

    node_names: tuple[str, ...]
    positions: np.ndarray  # float64 (N, 2)
    layer: np.ndarray  # int32 (N,)
    pinned: np.ndarray  # bool (N,)
    version: int
    bounds: Bounds
    # way points of long edges through the columns they pass, by (source, target) name (see LayeredPlacement)
    routes: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.node_names)


def empty_result(version: int = 0) -> LayoutResult:
    """The layout of no nodes."""
    positions = np.zeros((0, 2), dtype=np.float64)
    return make_result((), positions, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=bool), version)


def make_result(
    node_names: tuple[str, ...],
    positions: np.ndarray,
    layer: np.ndarray,
    pinned: np.ndarray,
    version: int,
    routes: dict[tuple[str, str], np.ndarray] | None = None,
) -> LayoutResult:
    """A read-only LayoutResult with its bounds filled in."""
    for array in (positions, layer, pinned):
        array.setflags(write=False)
    return LayoutResult(node_names, positions, layer, pinned, version, layout_bounds(positions), dict(routes or {}))
