"""Fixtures for store tests: random edge observations and a brute-force reference."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from flowviz.model.graph_kinds import NodeKind
from flowviz.model.observations import EdgeObservations

SECOND_NS = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND_NS


def random_observations(
    rng: np.random.Generator,
    rows: int,
    *,
    services: int = 12,
    start_ns: int = BASE_NS,
    span_ns: int = 120 * SECOND_NS,
    weights: bool = False,
    unknown_latency: float = 0.0,
    failure_rate: float = 0.1,
    median_ns: float = 2e6,
) -> EdgeObservations:
    """Calls among `services` services plus a database and a topic, spread uniformly over [start, start + span)."""
    names = ("", *(f"svc-{i}" for i in range(services)), "db", "orders-topic", "kafka")
    db, topic, kafka = services + 1, services + 2, services + 3
    source = rng.integers(1, services + 1, rows)
    target = rng.integers(1, services + 3, rows)
    target[target == source] = db
    target_kind = np.where(target == db, NodeKind.DATABASE, np.where(target == topic, NodeKind.TOPIC, 0))
    connection_type = np.where(target == db, 2, np.where(target == topic, 1, 0))
    via = np.where(target == topic, kafka, 0)
    latency_ns = (median_ns * rng.lognormal(0.0, 0.7, rows)).astype(np.int64)
    latency_ns[rng.random(rows) < unknown_latency] = -1
    return EdgeObservations.from_columns(
        names,
        source=source,
        target=target,
        source_kind=NodeKind.SERVICE,
        target_kind=target_kind,
        connection_type=connection_type,
        via=via,
        time_ns=start_ns + rng.integers(0, span_ns, rows),
        latency_ns=latency_ns,
        failed=rng.random(rows) < failure_rate,
        count=rng.integers(1, 5, rows) if weights else 1,
    )


def brute_force(obs: EdgeObservations, start_ns: int, end_ns: int) -> dict[tuple[str, str, int, str], list[int]]:
    """{(source, target, connection type, via): [calls, failures]} of rows with start_ns ≤ time < end_ns."""
    out: dict[tuple[str, str, int, str], list[int]] = {}
    inside = (obs.time_ns >= start_ns) & (obs.time_ns < end_ns)
    for i in np.flatnonzero(inside).tolist():  # a reference implementation: per-row loops are fine here
        key = (obs.names[obs.source[i]], obs.names[obs.target[i]], int(obs.connection_type[i]), obs.names[obs.via[i]])
        entry = out.setdefault(key, [0, 0])
        entry[0] += int(obs.count[i])
        entry[1] += int(obs.count[i]) if obs.failed[i] else 0
    return out


def frame_edges(frame: object) -> dict[tuple[str, str, int, str], list[int]]:
    """The same mapping from a GraphFrame (edges with calls only)."""
    names = frame.node_names
    out = {}
    for e in np.flatnonzero(frame.edge_requests).tolist():
        key = (
            names[frame.edge_source[e]],
            names[frame.edge_target[e]],
            int(frame.edge_connection_type[e]),
            frame.edge_via[e],
        )
        out[key] = [int(frame.edge_requests[e]), int(frame.edge_errors[e])]
    return out


@pytest.fixture
def make_observations() -> Callable[..., EdgeObservations]:
    return random_observations
