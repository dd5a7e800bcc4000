"""Benchmark: the rolling store's memory, ingest time and query times for a synthetic service graph over an hour."""

from __future__ import annotations

import sys
import time

import numpy as np

from flowviz.bench.timing import median_ms
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import SECOND_NS, RollingStore

DEFAULT_REQUESTS_PER_EDGE_S = 10.0
START_NS = 1_700_000_000 * SECOND_NS  # a realistic epoch time (20 s past a minute: windows cut chunks)


def _synthetic_graph(rng: np.random.Generator, services: int, edges: int) -> tuple[np.ndarray, np.ndarray]:
    """`edges` distinct (source, target) pairs among `services` nodes, no self-calls; popular callees favoured."""
    if edges > services * (services - 1):
        raise ValueError("more edges than ordered pairs of services")
    found = np.zeros(0, np.int64)
    while found.size < edges:
        source = rng.integers(0, services, 2 * edges)
        target = np.minimum(rng.zipf(1.3, 2 * edges) - 1, services - 1)  # a few hubs get many callers
        target = (target + rng.integers(0, services, 1)) % services
        uniform = rng.random(2 * edges) < 0.5
        target[uniform] = rng.integers(0, services, int(uniform.sum()))
        pairs = source * services + target
        pairs = pairs[source != target]
        _, first = np.unique(np.concatenate((found, pairs)), return_index=True)
        found = np.concatenate((found, pairs))[np.sort(first)]
    found = found[:edges]
    return found // services, found % services


def _peak_rss_mib() -> float:
    """The process's peak resident set size in MiB (NaN where the platform does not say)."""
    try:
        import resource  # Unix only
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def fill_store(
    *,
    services: int = 2000,
    edges: int = 10_000,
    retention_s: int = 3600,
    requests_per_edge_s: float = DEFAULT_REQUESTS_PER_EDGE_S,
    seed: int = 0,
    seconds_per_batch: int = 10,
    memory_budget_bytes: int | None = None,
) -> tuple[RollingStore, int, float]:
    """A store holding `retention_s` seconds of calls on every edge every second, from `START_NS`;
    returns it with the number of observations and the seconds spent in `ingest`.

    Per edge: a log-normal latency with a median drawn log-normally around 5 ms (0.2 ms … 0.2 s)
    and sigma uniform in [0.35, 0.65]; a failure rate of 0.1 % (90 % of edges) or 2–5 %; calls
    per second Poisson(`requests_per_edge_s`). About 10 % of callees are databases. Ingest takes
    `seconds_per_batch` seconds of calls at a time.
    """
    rng = np.random.default_rng(seed)
    source, target = _synthetic_graph(rng, services, edges)
    is_database = rng.random(services) < 0.1
    names = ("", *(f"{'db' if is_database[i] else 'svc'}-{i:05d}" for i in range(services)))
    node_kind = np.where(is_database, NodeKind.DATABASE, NodeKind.SERVICE).astype(np.int8)
    # Per-edge columns in their final dtypes, so a batch is mostly gathers.
    edge_source = (source + 1).astype(np.int32)
    edge_target = (target + 1).astype(np.int32)
    edge_source_kind = node_kind[source]
    edge_target_kind = node_kind[target]
    edge_type = np.where(is_database[target], ConnectionType.DATABASE, ConnectionType.DIRECT).astype(np.int8)
    log_median_ns = np.log(np.clip(5e6 * rng.lognormal(0.0, 1.0, edges), 2e5, 2e8)).astype(np.float32)
    sigma = rng.uniform(0.35, 0.65, edges).astype(np.float32)
    fail_rate = np.where(rng.random(edges) < 0.9, 0.001, rng.uniform(0.02, 0.05, edges)).astype(np.float32)

    kwargs = {} if memory_budget_bytes is None else {"memory_budget_bytes": memory_budget_bytes}
    store = RollingStore(**kwargs)
    observations = 0
    ingest_s = 0.0
    for first_s in range(0, retention_s, seconds_per_batch):
        seconds = min(seconds_per_batch, retention_s - first_s)
        calls = rng.poisson(requests_per_edge_s, (seconds, edges)).ravel()
        rows = int(calls.sum())
        edge = np.repeat(np.tile(np.arange(edges, dtype=np.int32), seconds), calls)
        second_ns = np.repeat(np.arange(first_s, first_s + seconds, dtype=np.int64) * SECOND_NS, edges)
        time_ns = np.repeat(second_ns + START_NS, calls)
        time_ns += rng.integers(0, SECOND_NS, rows)
        log_latency = rng.standard_normal(rows, dtype=np.float32)
        log_latency *= sigma[edge]
        log_latency += log_median_ns[edge]
        unused = np.broadcast_to(np.int64(-1), (rows,))  # columns the store does not read
        batch = EdgeObservations.from_columns(
            names,
            source=edge_source[edge],
            target=edge_target[edge],
            source_kind=edge_source_kind[edge],
            target_kind=edge_target_kind[edge],
            connection_type=edge_type[edge],
            via=np.broadcast_to(np.int32(0), (rows,)),
            time_ns=time_ns,
            latency_ns=np.exp(log_latency).astype(np.int64),
            client_latency_ns=unused,
            server_latency_ns=unused,
            trace_hi=unused.view(np.uint64),
            trace_lo=unused.view(np.uint64),
            count=np.broadcast_to(np.int64(1), (rows,)),
            failed=rng.random(rows, dtype=np.float32) < fail_rate[edge],
        )
        observations += rows
        started = time.perf_counter()
        store.ingest(batch)
        ingest_s += time.perf_counter() - started

    return store, observations, ingest_s


def measure_store_memory(
    *,
    services: int = 2000,
    edges: int = 10_000,
    retention_s: int = 3600,
    requests_per_edge_s: float = DEFAULT_REQUESTS_PER_EDGE_S,
    seed: int = 0,
    seconds_per_batch: int = 10,
    memory_budget_bytes: int | None = None,
) -> dict[str, float | int]:
    """Fill a store (`fill_store`) and report memory and timings. `ingest_s` includes only `ingest`
    calls; query times are medians of three runs."""
    store, observations, ingest_s = fill_store(
        services=services,
        edges=edges,
        retention_s=retention_s,
        requests_per_edge_s=requests_per_edge_s,
        seed=seed,
        seconds_per_batch=seconds_per_batch,
        memory_budget_bytes=memory_budget_bytes,
    )
    snapshot = store.snapshot()
    cells = sum(c.cell_count_total for tier in snapshot.tiers for c in tier.chunks)
    end_ns = START_NS + retention_s * SECOND_NS
    middle_ns = START_NS + (retention_s // 2 + 30) * SECOND_NS  # not aligned to a chunk
    query_all_ms = median_ms(lambda: snapshot.query(START_NS, end_ns))
    query_60s_ms = median_ms(lambda: snapshot.query(middle_ns, middle_ns + 60 * SECOND_NS))
    memory = store.memory_bytes()
    return {
        "services": services,
        "edges": edges,
        "retention_s": retention_s,
        "observations": observations,
        "cells": cells,
        "memory_bytes": memory,
        "memory_mib": memory / 2**20,
        "ingest_s": ingest_s,
        "query_1h_ms": query_all_ms,
        "query_60s_ms": query_60s_ms,
        "dropped_calls": store.problems.total,
        "peak_rss_mib": _peak_rss_mib(),  # the whole process, generator included
    }


if __name__ == "__main__":
    for key, value in measure_store_memory().items():
        print(f"{key:>14}: {value:,.1f}" if isinstance(value, float) else f"{key:>14}: {value:,}")
