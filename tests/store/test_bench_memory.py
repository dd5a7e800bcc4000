"""The store-memory benchmark at a small scale, and `memory_bytes()` against what tracemalloc sees."""

from __future__ import annotations

import tracemalloc

import numpy as np

from flowviz.bench.store_memory import measure_store_memory
from flowviz.store.rolling_store import RollingStore

from .conftest import BASE_NS, SECOND_NS, random_observations


def test_benchmark_runs_and_reports_every_figure() -> None:
    result = measure_store_memory(services=60, edges=200, retention_s=180, seed=1)
    assert set(result) >= {
        "services",
        "edges",
        "retention_s",
        "observations",
        "cells",
        "memory_bytes",
        "memory_mib",
        "ingest_s",
        "query_1h_ms",
        "query_60s_ms",
    }
    assert 0.8 * 200 * 180 * 10 < result["observations"] < 1.2 * 200 * 180 * 10
    # ~10 calls per edge-second with sigma ~0.5 land in several latency bins each
    assert 5 * 200 * 180 < result["cells"] < 10 * 200 * 180
    assert result["memory_mib"] == result["memory_bytes"] / 2**20
    assert result["dropped_calls"] == 0


def test_memory_bytes_matches_tracemalloc() -> None:
    rng = np.random.default_rng(50)
    batches = [
        random_observations(rng, 20_000, services=40, start_ns=BASE_NS + k * 60 * SECOND_NS, span_ns=60 * SECOND_NS)
        for k in range(6)
    ]
    warm_up = RollingStore()  # first-use allocations (numpy internals, lazy imports) are not the store's
    warm_up.ingest(batches[0])
    warm_up.query(0, 1 << 62)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = RollingStore()
        for obs in batches:
            store.ingest(obs)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    reported = store.memory_bytes()
    assert reported > 100_000
    # tracemalloc also sees Python objects (chunk objects, name tables, dicts): a little more than the arrays
    assert 0.95 * reported <= held <= 1.25 * reported + 100_000
