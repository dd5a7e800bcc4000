"""Spots for a group's members where its box was: the free places nearest to it, no placed node moved."""

from __future__ import annotations

import bisect
import math

from flowviz.layout.coordinates import nearest_free_y


def unfold_spots(
    centre: tuple[float, float],
    count: int,
    occupied: dict[int, list[float]],
    *,
    layer_gap: float,
    node_gap: float,
    x_weight: float = 1.0,
    y_weight: float = 1.0,
) -> list[tuple[float, float, int]]:
    """`count` spots (x, y, column), nearest first, around `centre` (layout units): each the free place
    (at least `node_gap` from every y in `occupied[column]`, sorted, updated in place) whose distance to the
    centre is least, with x and y distances weighted as the screen shows them (`x_weight`, `y_weight`), within
    `reach_columns(count)` columns either side."""
    centre_x, centre_y = centre
    home = round(centre_x / layer_gap)
    reach = reach_columns(count)
    spots = []
    for _ in range(count):
        best: tuple[float, int, float] | None = None
        for column in range(home - reach, home + reach + 1):
            y = nearest_free_y(centre_y, occupied.setdefault(column, []), node_gap)
            cost = ((column * layer_gap - centre_x) * x_weight) ** 2 + ((y - centre_y) * y_weight) ** 2
            if best is None or cost < best[0]:
                best = (cost, column, y)
        _, column, y = best
        bisect.insort(occupied[column], y)
        spots.append((column * layer_gap, y, column))
    return spots


def reach_columns(count: int) -> int:
    """How many columns either side of its box a group of `count` members may spread into: enough for a block
    about as wide as tall."""
    return 1 + math.isqrt(max(count, 0))
