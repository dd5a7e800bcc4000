"""Wrap a deep layered layout into rows (like lines of text) so it fills a 16:9 screen, not a thin strip."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCREEN = (1920.0, 1080.0)  # a 16:9 screen, in layout units at their natural size (a column is ~a label wide)
WRAP_GAIN = 2.0  # wrap only when the rows make everything at least this much larger on the screen
TURN_ROOM = 0.25  # room per edge turning between two rows, as a share of the node gap


@dataclass(frozen=True, slots=True, eq=False)
class Wrapped:
    """Positions of every node (real and dummy) after wrapping, and the way points of each segment
    that turns from the end of one row to the start of the next (segment index -> 4×2)."""

    x: np.ndarray
    y: np.ndarray
    turns: dict[int, np.ndarray]
    per_row: int


def _rows_layout(layer: np.ndarray, y: np.ndarray, turning: np.ndarray, per_row: int, node_gap: float):
    """(row of each layer's nodes, each row's top, height, and the gap below it) for `per_row` layers a row."""
    row = layer // per_row
    row_count = int(row.max()) + 1
    top = np.full(row_count, np.inf)
    bottom = np.full(row_count, -np.inf)
    np.minimum.at(top, row, y)
    np.maximum.at(bottom, row, y)
    boundary_count = np.bincount(turning, minlength=row_count)[:row_count]
    gap = np.maximum(1.5 * node_gap, (boundary_count + 1) * TURN_ROOM * node_gap * 2)
    return row, top, bottom - top, gap


def _scale(per_row: int, heights: np.ndarray, gaps: np.ndarray, layer_gap: float, node_gap: float) -> float:
    """How large the drawing comes out on a SCREEN (pixels per layout unit), at most 1: nothing gains
    from being drawn larger than its natural size."""
    width = per_row * layer_gap
    height = heights.sum() + gaps[:-1].sum() + node_gap
    return min(SCREEN[0] / width, SCREEN[1] / height, 1.0)


def wrap_rows(
    layer: np.ndarray,
    y: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    rank: np.ndarray,
    *,
    layer_gap: float,
    node_gap: float,
) -> Wrapped | None:
    """Wrap the layers into rows when that makes the drawing at least WRAP_GAIN times larger on a
    16:9 screen (up to its natural size; then the fewest rows that come within 10 % of the largest);
    None when one row is best.

    `layer` and `y` are of every node of a proper graph (segments `source` -> `target` join adjacent
    layers; `rank` orders each layer). Rows hold `per_row` consecutive layers, stacked downward with
    room between them for the segments that turn from a row's last layer to the next row's first;
    those turn in nested lanes in the order of their ends, so they do not cross each other.
    """
    layer_count = int(layer.max()) + 1 if layer.size else 0
    if layer_count < 4:
        return None
    scales: list[tuple[float, int]] = []  # (scale, layers per row) by number of rows
    for rows in range(1, layer_count + 1):
        per_row = math.ceil(layer_count / rows)
        if scales and per_row == scales[-1][1]:
            continue
        turning = layer[source] // per_row
        turning = turning[turning != layer[target] // per_row]
        _, _, heights, gaps = _rows_layout(layer, y, turning, per_row, node_gap)
        scales.append((_scale(per_row, heights, gaps, layer_gap, node_gap), per_row))
        if per_row == 1:
            break
    largest = max(scale for scale, _ in scales)
    if largest < WRAP_GAIN * scales[0][0]:
        return None
    best_per_row = next(per_row for scale, per_row in scales if scale >= 0.9 * largest)  # the fewest rows
    per_row = best_per_row
    turns_at = np.flatnonzero(layer[source] // per_row != layer[target] // per_row)
    row, top, heights, gaps = _rows_layout(layer, y, layer[source[turns_at]] // per_row, per_row, node_gap)
    offset = np.concatenate([[0.0], np.cumsum(heights + gaps)[:-1]])
    new_y = y - top[row] + offset[row]
    new_x = (layer % per_row) * float(layer_gap)
    last_x = (per_row - 1) * float(layer_gap)
    turns: dict[int, np.ndarray] = {}
    boundary = layer[source[turns_at]] // per_row
    for k in np.unique(boundary).tolist():
        here = turns_at[boundary == k]
        here = here[np.lexsort((rank[target[here]], rank[source[here]]))]
        count = here.size
        lane_top = offset[k] + heights[k]
        for index, segment in enumerate(here.tolist()):
            outer = (count - index) / (count + 1)  # the top edge turns outermost on the right, innermost on the left
            right = last_x + layer_gap * (0.15 + 0.35 * outer)
            lane = lane_top + gaps[k] * (0.3 + 0.6 * outer)  # below the last row's labels
            left = -layer_gap * (0.15 + 0.35 * (1.0 - outer))
            turns[segment] = np.array(
                [[right, new_y[source[segment]]], [right, lane], [left, lane], [left, new_y[target[segment]]]]
            )
    return Wrapped(new_x, new_y, turns, per_row)
