"""Particles flowing along edges: density from the rate (log scale), speed from latency, failures in red."""

from __future__ import annotations

import numpy as np

from flowviz.chart.chart_frame import ChartFrame

DEFAULT_BUDGET = 20_000
MAX_PER_EDGE = 40
CLEAR_EDGES = 120  # up to this many visible edges particles flow on all, at full density; beyond, they thin out
HAZE_BUDGET = 800  # at most this many particles once edges thin out: dots, not a haze


def particles_per_edge(
    rate_per_s: np.ndarray, *, budget: int, density: float = 1.0, max_per_edge: int = MAX_PER_EDGE
) -> np.ndarray:
    """How many particles each edge carries: at least 1 for any traffic, growing with log2 of the
    rate times `density`; at most `max_per_edge × density` each and `budget` in all."""
    counts = np.where(rate_per_s > 0, np.ceil(density * (1.0 + 3.0 * np.log2(1.0 + rate_per_s))), 0.0)
    counts = np.minimum(counts, max(1.0, max_per_edge * density))
    total = counts.sum()
    if total > budget > 0:
        counts = np.where(counts > 0, np.maximum(1.0, np.floor(counts * budget / total)), 0.0)
    return counts.astype(np.int64)


def flowing_edges(rate_per_s: np.ndarray, error_ratio: np.ndarray, *, count: int = CLEAR_EDGES) -> np.ndarray:
    """Which edges carry particles when there are too many for all: the `count` with traffic that fail most,
    then the busiest (a mask)."""
    has_traffic = rate_per_s > 0
    failing = np.where(has_traffic, np.nan_to_num(error_ratio, nan=0.0), 0.0)
    order = np.lexsort((-rate_per_s, ~(failing > 0)))  # failing edges first, each part busiest first
    chosen = np.zeros(rate_per_s.shape[0], bool)
    chosen[order[:count]] = True
    return chosen & has_traffic


def travel_seconds(p95_ms: np.ndarray) -> np.ndarray:
    """Seconds a particle takes along its edge: slower calls flow visibly slower (0.8 s to 5 s)."""
    return (0.8 + 0.75 * np.log10(1.0 + np.nan_to_num(p95_ms, nan=0.0))).clip(0.8, 5.0)


class ParticleSystem:
    """All particles as parallel arrays (edge, phase along the edge in [0, 1), failed)."""

    def __init__(self, *, budget: int = DEFAULT_BUDGET, density: float = 1.0, seed: int = 0) -> None:
        self.budget = budget
        self.density = density
        self._rng = np.random.default_rng(seed)
        self.edge = np.zeros(0, np.int64)
        self.phase = np.zeros(0, np.float64)
        self.failed = np.zeros(0, bool)
        self._travel_s = np.zeros(0, np.float64)

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    def update(self, chart: ChartFrame) -> None:
        """Match the population to the frame's rates: keep particles where they are, add or drop the difference."""
        visible_rate = np.where(chart.edge_visible, chart.edge_rate_per_s, 0.0)
        visible = int(np.count_nonzero(visible_rate))
        if visible > CLEAR_EDGES:  # only the busiest edges flow (failing ones first); the rest show their width
            visible_rate = np.where(flowing_edges(visible_rate, chart.edge_error_ratio), visible_rate, 0.0)
        thinning = min(1.0, float(np.sqrt(CLEAR_EDGES / max(visible, 1))))
        budget = self.budget if thinning >= 1.0 else min(self.budget, HAZE_BUDGET)
        wanted = particles_per_edge(visible_rate, budget=budget, density=self.density * thinning)
        edge_count = wanted.shape[0]
        keep_edge, keep_phase = self._keep(wanted)
        have = np.bincount(keep_edge, minlength=edge_count)
        missing = np.maximum(wanted - have, 0)
        new_edge = np.repeat(np.arange(edge_count), missing)
        new_phase = self._rng.random(new_edge.shape[0])
        edge = np.concatenate([keep_edge, new_edge])
        phase = np.concatenate([keep_phase, new_phase])
        order = np.argsort(edge, kind="stable")
        self.edge, self.phase = edge[order], phase[order]
        self.failed = self._failed_flags(wanted, chart.edge_error_ratio)
        self._travel_s = travel_seconds(chart.edge_p95_ms)

    def _keep(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        valid = self.edge < wanted.shape[0]
        edge, phase = self.edge[valid], self.phase[valid]
        rank = _rank_within(edge)
        keep = rank < wanted[edge]
        return edge[keep], phase[keep]

    def _failed_flags(self, wanted: np.ndarray, error_ratio: np.ndarray) -> np.ndarray:
        """The first k particles of an edge are red, k from its failure ratio (at least one if any failed)."""
        failed_count = np.where(error_ratio > 0, np.maximum(1, np.round(wanted * error_ratio)), 0).astype(np.int64)
        return _rank_within(self.edge) < failed_count[self.edge]

    def step(self, dt_s: float) -> None:
        """Advance every particle by `dt_s` seconds of animation."""
        if len(self):
            self.phase = (self.phase + dt_s / self._travel_s[self.edge]) % 1.0

    def positions(self, curves: np.ndarray) -> np.ndarray:
        """P×2 positions along the edges' evenly sampled curves."""
        if not len(self):
            return np.zeros((0, 2))
        samples = curves.shape[1]
        along = self.phase * (samples - 1)
        index = np.minimum(along.astype(np.int64), samples - 2)
        fraction = (along - index)[:, None]
        return curves[self.edge, index] * (1.0 - fraction) + curves[self.edge, index + 1] * fraction


def _rank_within(sorted_groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal values (input grouped, e.g. sorted)."""
    if sorted_groups.size == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_groups.size]))
    return np.arange(sorted_groups.size) - run_start
