"""Edge curves for a left-to-right flow chart: cubic Béziers sampled evenly by arc length (numpy)."""

from __future__ import annotations

import numpy as np

_DENSE = 48  # points per curve before resampling by arc length


def _bezier(p0: np.ndarray, c1: np.ndarray, c2: np.ndarray, p3: np.ndarray, count: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, count)[None, :, None]
    u = 1.0 - t
    return u**3 * p0[:, None, :] + 3 * u**2 * t * c1[:, None, :] + 3 * u * t**2 * c2[:, None, :] + t**3 * p3[:, None, :]


def _resample_by_length(dense: np.ndarray, samples: int) -> np.ndarray:
    """Points at equal arc-length steps along each dense polyline (E×D×2 -> E×samples×2)."""
    steps = np.linalg.norm(np.diff(dense, axis=1), axis=2)
    cumulative = np.concatenate([np.zeros((dense.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    total = np.maximum(cumulative[:, -1:], 1e-9)
    wanted = np.linspace(0.0, 1.0, samples)[None, :] * total
    index = (cumulative[:, None, :] <= wanted[:, :, None]).sum(axis=2) - 1
    index = index.clip(0, dense.shape[1] - 2)
    rows = np.arange(dense.shape[0])[:, None]
    start, end = cumulative[rows, index], cumulative[rows, index + 1]
    fraction = ((wanted - start) / np.maximum(end - start, 1e-9)).clip(0.0, 1.0)[..., None]
    return dense[rows, index] * (1.0 - fraction) + dense[rows, index + 1] * fraction


def edge_curves(
    source_xy: np.ndarray,
    target_xy: np.ndarray,
    source_radius: np.ndarray,
    target_radius: np.ndarray,
    *,
    samples: int = 20,
    routes: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """E×samples×2 points per edge, from the source's right side to the target's left side.

    Forward edges are S-curves. Edges that go backwards (cycles) run the other way, from the source's
    left side to the target's right side, bowed aside when the opposite edge exists so the two stay
    apart; an edge between nodes of one column loops above them; self-loops are a small loop over the
    node. An edge with a route (edge index -> K×2 way points, in its own direction) passes through its
    way points; the route decides which side of each end node it leaves and enters by.
    """
    count = source_xy.shape[0]
    if count == 0:
        return np.zeros((0, samples, 2))
    r0, r1 = source_radius[:, None], target_radius[:, None]
    zeros = np.zeros_like(r0)
    backward = target_xy[:, 0] - source_xy[:, 0] < -(r0[:, 0] + r1[:, 0] + 20.0)
    side = np.where(backward, -1.0, 1.0)[:, None]  # which way the edge runs
    start = source_xy + np.hstack([side * r0, zeros])
    end = target_xy - np.hstack([side * r1, zeros])
    gap = side[:, 0] * (end[:, 0] - start[:, 0])
    reach = side * np.maximum(0.45 * gap, 30.0)[:, None]
    c1 = start + np.hstack([reach, zeros])
    c2 = end - np.hstack([reach, zeros])
    bow = backward & _has_opposite(source_xy, target_xy)
    if bow.any():  # drawn below the forward edge it would otherwise hide
        drop = (0.3 * gap)[:, None]
        c1 = np.where(bow[:, None], c1 + np.hstack([zeros, drop]), c1)
        c2 = np.where(bow[:, None], c2 + np.hstack([zeros, drop]), c2)
    same_column = (gap < 20.0) & ~backward
    if same_column.any():
        lift = (90.0 + 0.25 * np.abs(end[:, 1] - start[:, 1]))[:, None]
        top = np.minimum(start[:, 1:2], end[:, 1:2]) - lift
        loop = 140.0
        c1 = np.where(same_column[:, None], np.hstack([start[:, :1] + loop, top]), c1)
        c2 = np.where(same_column[:, None], np.hstack([end[:, :1] - loop, top]), c2)
    self_loop = np.all(source_xy == target_xy, axis=1)
    if self_loop.any():
        r = np.maximum(r0, 10.0)
        x, y = source_xy[:, :1], source_xy[:, 1:2]
        start = np.where(self_loop[:, None], np.hstack([x + 0.7 * r, y - 0.7 * r]), start)
        end = np.where(self_loop[:, None], np.hstack([x - 0.7 * r, y - 0.7 * r]), end)
        c1 = np.where(self_loop[:, None], np.hstack([x + 2.6 * r, y - 3.2 * r]), c1)
        c2 = np.where(self_loop[:, None], np.hstack([x - 2.6 * r, y - 3.2 * r]), c2)
    curves = _resample_by_length(_bezier(start, c1, c2, end, _DENSE), samples)
    for edge, way in (routes or {}).items():
        if edge >= count or self_loop[edge] or not way.size:
            continue
        # the route says which way the edge leaves: rightward, also when it turns back to the next row
        # of a wrapped layout; leftward for an edge of a cycle
        way_side = 1.0 if way[0, 0] > source_xy[edge, 0] else -1.0
        first = source_xy[edge] + (way_side * r0[edge, 0], 0.0)
        last_side = 1.0 if way[-1, 0] < target_xy[edge, 0] else -1.0
        last = target_xy[edge] - (last_side * r1[edge, 0], 0.0)
        curves[edge] = _routed(np.vstack([first, way, last]), samples, way_side, last_side)
    return curves


def _has_opposite(source_xy: np.ndarray, target_xy: np.ndarray) -> np.ndarray:
    """Per edge: another edge runs between the same two places the other way."""
    count = source_xy.shape[0]
    both = np.vstack([np.hstack([source_xy, target_xy]), np.hstack([target_xy, source_xy])])
    _, place = np.unique(both, axis=0, return_inverse=True)
    place = place.reshape(-1)
    return np.isin(place[count:], place[:count])


def _routed(points: np.ndarray, samples: int, first_side: float = 1.0, last_side: float = 1.0) -> np.ndarray:
    """A smooth curve through `points` (Catmull-Rom tangents), level where it leaves the source (rightward
    for `first_side` 1, leftward for -1) and where it reaches the target (`last_side` likewise), sampled
    evenly by length."""
    tangent = np.empty_like(points)
    tangent[1:-1] = (points[2:] - points[:-2]) / 2
    tangent[0] = (first_side * max(first_side * (points[1, 0] - points[0, 0]), 10.0), 0.0)
    tangent[-1] = (last_side * max(last_side * (points[-1, 0] - points[-2, 0]), 10.0), 0.0)
    p0, p3 = points[:-1], points[1:]
    c1 = p0 + tangent[:-1] / 3
    c2 = p3 - tangent[1:] / 3
    pieces = _bezier(p0, c1, c2, p3, 16)  # one cubic per stretch between way points
    dense = np.concatenate([pieces[0], *(piece[1:] for piece in pieces[1:])])
    return _resample_by_length(dense[None], samples)[0]
