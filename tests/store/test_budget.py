"""The memory budget: coarsen before dropping, never exceed it after an ingest, count what is dropped."""

from __future__ import annotations

import numpy as np

from flowviz.store.rolling_store import DROP_MEMORY_BUDGET, RollingStore

from .conftest import BASE_NS, SECOND_NS, random_observations

MINUTE_NS = 60 * SECOND_NS


def _cell_bytes(store: RollingStore) -> int:
    return store.snapshot().cells_bytes


def test_tiny_budget_is_never_exceeded_and_drops_are_counted() -> None:
    rng = np.random.default_rng(20)
    budget = 60_000
    store = RollingStore(memory_budget_bytes=budget)
    total = 0
    for minute in range(12):
        obs = random_observations(rng, 3000, start_ns=BASE_NS + minute * MINUTE_NS, span_ns=MINUTE_NS, weights=True)
        store.ingest(obs)
        total += int(obs.count.sum())
        assert _cell_bytes(store) <= budget
    first_ns, end_ns = store.time_range_ns()
    retained = int(store.query(first_ns, end_ns).edge_requests.sum())
    dropped = store.problems.count(DROP_MEMORY_BUDGET)
    assert dropped > 0
    assert retained + dropped == total
    assert end_ns >= BASE_NS + 12 * MINUTE_NS  # the newest data is kept (perhaps in coarser buckets)
    assert store.memory_bytes() >= _cell_bytes(store)


def test_moderate_budget_coarsens_old_data_instead_of_dropping_it() -> None:
    rng = np.random.default_rng(21)
    batches = [random_observations(rng, 4000, start_ns=BASE_NS + m * MINUTE_NS, span_ns=MINUTE_NS) for m in range(10)]
    unlimited = RollingStore()
    for obs in batches:
        unlimited.ingest(obs)
    budget = unlimited.snapshot().cells_bytes // 2
    store = RollingStore(memory_budget_bytes=budget)
    for obs in batches:
        store.ingest(obs)
    assert _cell_bytes(store) <= budget
    assert not store.problems
    first_ns, end_ns = store.time_range_ns()
    assert store.query(first_ns, end_ns).edge_requests.sum() == 40_000
    timeline = store.timeline(first_ns, end_ns, step_ns=SECOND_NS)
    resolution = timeline.resolution_ns[timeline.requests > 0]
    assert resolution[0] > SECOND_NS  # the oldest minutes were coarsened early
    assert resolution[-1] == SECOND_NS  # the newest stay at 1 s
    assert np.all(np.diff(resolution) <= 0)


def test_history_beyond_the_configured_spans_goes_first() -> None:
    rng = np.random.default_rng(22)
    tiers = ((SECOND_NS, 2 * MINUTE_NS), (10 * SECOND_NS, 3 * MINUTE_NS), (MINUTE_NS, None))
    batches = [random_observations(rng, 3000, start_ns=BASE_NS + m * MINUTE_NS, span_ns=MINUTE_NS) for m in range(40)]
    unlimited = RollingStore(tiers=tiers)
    for obs in batches:
        unlimited.ingest(obs)
    fine_bytes = sum(c.nbytes for tier in unlimited.snapshot().tiers[:2] for c in tier.chunks)
    budget = fine_bytes + (unlimited.snapshot().cells_bytes - fine_bytes) // 3
    store = RollingStore(tiers=tiers, memory_budget_bytes=budget)
    for obs in batches:
        store.ingest(obs)
        assert _cell_bytes(store) <= budget
    assert store.problems.count(DROP_MEMORY_BUDGET) > 0
    _, end_ns = store.time_range_ns()
    timeline = store.timeline(end_ns - 2 * MINUTE_NS, end_ns, step_ns=SECOND_NS)
    assert set(timeline.resolution_ns[timeline.requests > 0].tolist()) == {SECOND_NS}  # recent data stays fine
