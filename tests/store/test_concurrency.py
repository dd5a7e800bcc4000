"""One writer, many readers: every query sees one whole state, never half an ingest."""

from __future__ import annotations

import threading
import time

import numpy as np

from flowviz.store.rolling_store import RollingStore

from .conftest import BASE_NS, SECOND_NS, random_observations

MINUTE_NS = 60 * SECOND_NS
DAY_NS = 24 * 60 * MINUTE_NS
BATCH_CALLS = 1000


def test_queries_during_ingest_are_self_consistent() -> None:
    rng = np.random.default_rng(40)
    # Small tiers, so cells are rolled into coarser tiers while readers read.
    store = RollingStore(tiers=((SECOND_NS, MINUTE_NS), (10 * SECOND_NS, 2 * MINUTE_NS), (MINUTE_NS, None)))
    batches = [
        random_observations(
            rng, BATCH_CALLS, services=20, start_ns=BASE_NS + k * 10 * SECOND_NS, span_ns=15 * SECOND_NS
        )
        for k in range(40)  # overlapping, partly late batches
    ]
    failures: list[str] = []
    done = threading.Event()
    reads = [0]

    def writer() -> None:
        for batch in batches:
            store.ingest(batch)
            time.sleep(0.001)
        done.set()

    def reader() -> None:
        last_total = 0
        while not done.is_set() or reads[0] < 10:
            snapshot = store.snapshot()
            span = snapshot.time_range or (0, 1)
            frame = snapshot.query(*span)
            timeline = snapshot.timeline(span[0], span[1], step_ns=7 * SECOND_NS)
            total = int(frame.edge_requests.sum())
            problems = []
            if total % BATCH_CALLS:
                problems.append(f"partial ingest visible: {total} calls")
            if total < last_total:
                problems.append(f"total went back from {last_total} to {total}")
            if frame.node_requests.sum() != total or frame.node_out_requests.sum() != total:
                problems.append("node sums differ from edge sums")
            if frame.node_errors.sum() != frame.edge_errors.sum():
                problems.append("node errors differ from edge errors")
            if timeline.requests.sum() != total or timeline.failures.sum() != frame.edge_errors.sum():
                problems.append("timeline differs from query on the same snapshot")
            n_nodes, n_edges = frame.node_count, frame.edge_count
            if any(len(a) != n_edges for a in (frame.edge_target, frame.edge_requests, frame.edge_p99_ms)):
                problems.append("edge arrays of different lengths")
            if len(frame.node_p50_ms) != n_nodes or (n_edges and frame.edge_target.max() >= n_nodes):
                problems.append("node arrays inconsistent with edges")
            # A query on the store (not a held snapshot) must also be whole.
            if int(store.query(BASE_NS - DAY_NS, BASE_NS + DAY_NS).edge_requests.sum()) % BATCH_CALLS:
                problems.append("partial ingest visible through store.query")
            failures.extend(problems)
            last_total = total
            reads[0] += 1

    threads = [threading.Thread(target=writer), threading.Thread(target=reader), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures[:5]
    assert reads[0] >= 10
    span = store.time_range_ns()
    assert span is not None
    assert store.query(*span).edge_requests.sum() == BATCH_CALLS * len(batches)
