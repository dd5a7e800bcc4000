"""Slow-call counts and per-step counts of the store against a brute-force count of the observations."""

from __future__ import annotations

import numpy as np

from flowviz.store.latency_bins import bin_of
from flowviz.store.rolling_store import RollingStore

from .conftest import BASE_NS, SECOND_NS, random_observations


def _edge_index(store: RollingStore, obs, row: int) -> int:
    tables = store.snapshot().tables
    names = tables.node_names
    pairs = list(zip(tables.edge_source.tolist(), tables.edge_target.tolist(), strict=True))
    source, target = names.index(obs.names[obs.source[row]]), names.index(obs.names[obs.target[row]])
    return pairs.index((source, target))


def test_slow_calls_and_step_counts_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    obs = random_observations(rng, 20_000, weights=True, unknown_latency=0.1)
    store = RollingStore()
    store.ingest(obs)
    snapshot = store.snapshot()
    n_edges, n_nodes = snapshot.tables.edge_count, snapshot.tables.node_count
    edge_threshold = rng.integers(60, 140, n_edges)
    node_threshold = rng.integers(60, 140, n_nodes)
    start_ns, end_ns = BASE_NS + 10 * SECOND_NS, BASE_NS + 70 * SECOND_NS
    slow = snapshot.slow_calls(start_ns, end_ns, edge_threshold, node_threshold)
    steps = snapshot.step_counts(start_ns, end_ns, step_ns=7 * SECOND_NS, edge_min_bin=edge_threshold)

    edge_of = np.array([_edge_index(store, obs, row) for row in range(len(obs))])  # reference: per-row is fine
    bins = bin_of(obs.latency_ns).astype(np.int64)
    inside = (obs.time_ns >= start_ns) & (obs.time_ns < end_ns)
    timed = inside & (obs.latency_ns >= 0)
    is_slow = timed & (bins >= edge_threshold[edge_of])
    expected_slow = np.bincount(edge_of[is_slow], weights=obs.count[is_slow], minlength=n_edges)
    np.testing.assert_array_equal(slow.edge_slow, expected_slow)
    np.testing.assert_array_equal(
        slow.edge_timed, np.bincount(edge_of[timed], weights=obs.count[timed], minlength=n_edges)
    )
    target = snapshot.tables.edge_target[edge_of]
    node_hit = timed & (bins >= node_threshold[target])
    np.testing.assert_array_equal(
        slow.node_slow, np.bincount(target[node_hit], weights=obs.count[node_hit], minlength=n_nodes)
    )
    assert slow.edge_slow.sum() > 0

    step = (obs.time_ns - start_ns) // (7 * SECOND_NS)
    assert steps.requests.shape == (9, n_edges)
    for k in (0, 4, 8):
        rows = inside & (step == k)
        np.testing.assert_array_equal(
            steps.requests[k], np.bincount(edge_of[rows], weights=obs.count[rows], minlength=n_edges)
        )
        failed = rows & obs.failed
        np.testing.assert_array_equal(
            steps.failures[k], np.bincount(edge_of[failed], weights=obs.count[failed], minlength=n_edges)
        )
        hit = rows & is_slow
        np.testing.assert_array_equal(
            steps.slow[k], np.bincount(edge_of[hit], weights=obs.count[hit], minlength=n_edges)
        )
