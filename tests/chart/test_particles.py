"""Particles: every edge flows while the graph is clear; beyond, only the busiest and failing ones, in a budget."""

from __future__ import annotations

import numpy as np

from flowviz.chart.particles import CLEAR_EDGES, HAZE_BUDGET, flowing_edges, particles_per_edge


def test_beyond_the_clear_limit_only_the_failing_then_busiest_edges_flow() -> None:
    rng = np.random.default_rng(3)
    rate = rng.lognormal(0, 2, 842)
    rate[:5] = 0.0  # no traffic: never flows
    error = np.zeros(842)
    error[[10, 700]] = 0.2  # two failing edges, not among the busiest
    rate[[10, 700]] = rate.min() + 0.001
    chosen = flowing_edges(rate, error)
    assert chosen.sum() == CLEAR_EDGES
    assert chosen[[10, 700]].all()
    assert not chosen[:5].any()
    others = np.setdiff1d(np.flatnonzero(chosen), [10, 700])
    assert rate[others].min() >= np.sort(rate)[::-1][CLEAR_EDGES - 2 - 1]  # the busiest of the rest


def test_few_edges_all_flow_and_the_budget_holds() -> None:
    rate = np.array([0.0, 0.5, 5.0, 500.0])
    assert flowing_edges(rate, np.zeros(4)).tolist() == [False, True, True, True]
    counts = particles_per_edge(np.full(CLEAR_EDGES, 100.0), budget=HAZE_BUDGET)
    assert counts.sum() <= HAZE_BUDGET
    assert (counts >= 1).all()
