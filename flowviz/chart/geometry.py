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

    Forward edges are S-curves; edges that go backwards (cycles) loop above both nodes; self-loops
    are a small loop over the node. An edge with a route (edge index -> K×2 way points, left to
    right) passes through its way points, level at each of them.
    """
    count = source_xy.shape[0]
    if count == 0:
        return np.zeros((0, samples, 2))
    r0, r1 = source_radius[:, None], target_radius[:, None]
    start = source_xy + np.hstack([r0, np.zeros_like(r0)])
    end = target_xy - np.hstack([r1, np.zeros_like(r1)])
    gap = end[:, 0] - start[:, 0]
    reach = np.maximum(0.45 * gap, 30.0)[:, None]
    c1 = start + np.hstack([reach, np.zeros_like(reach)])
    c2 = end - np.hstack([reach, np.zeros_like(reach)])
    backward = gap < 20.0
    if backward.any():
        lift = (90.0 + 0.25 * np.abs(end[:, 1] - start[:, 1]))[:, None]
        top = np.minimum(start[:, 1:2], end[:, 1:2]) - lift
        loop = 140.0
        c1 = np.where(backward[:, None], np.hstack([start[:, :1] + loop, top]), c1)
        c2 = np.where(backward[:, None], np.hstack([end[:, :1] - loop, top]), c2)
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
        if edge < count and not backward[edge] and way.size:
            curves[edge] = _routed(np.vstack([start[edge], way, end[edge]]), samples)
    return curves


def _routed(points: np.ndarray, samples: int) -> np.ndarray:
    """A smooth curve through `points` (left to right; Catmull-Rom tangents, level where it leaves the
    source and reaches the target), sampled evenly by length."""
    tangent = np.empty_like(points)
    tangent[1:-1] = (points[2:] - points[:-2]) / 2
    tangent[0] = (max(points[1, 0] - points[0, 0], 10.0), 0.0)
    tangent[-1] = (max(points[-1, 0] - points[-2, 0], 10.0), 0.0)
    p0, p3 = points[:-1], points[1:]
    c1 = p0 + tangent[:-1] / 3
    c2 = p3 - tangent[1:] / 3
    pieces = _bezier(p0, c1, c2, p3, 16)  # one cubic per stretch between way points
    dense = np.concatenate([pieces[0], *(piece[1:] for piece in pieces[1:])])
    return _resample_by_length(dense[None], samples)[0]
