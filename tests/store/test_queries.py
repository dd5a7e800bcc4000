"""Window queries and timelines: exact totals against a brute-force computation, boundaries, percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.model.graph_kinds import NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import RollingStore

from .conftest import BASE_NS, SECOND_NS, brute_force, frame_edges, random_observations


def _store_with(rng: np.random.Generator, **kwargs: object) -> tuple[RollingStore, EdgeObservations]:
    obs = random_observations(rng, 30_000, **kwargs)
    store = RollingStore()
    # Ingest in shuffled slices, so batches arrive out of time order.
    order = rng.permutation(len(obs))
    for part in np.array_split(order, 7):
        store.ingest(_take(obs, part))
    return store, obs


def _take(obs: EdgeObservations, rows: np.ndarray) -> EdgeObservations:
    columns = {
        name: getattr(obs, name)[rows]
        for name in obs.__dataclass_fields__
        if name not in ("names", "service_namespaces")
    }
    return EdgeObservations(names=obs.names, **columns)


@pytest.mark.parametrize("weights", [False, True])
def test_window_totals_match_brute_force(weights: bool) -> None:
    rng = np.random.default_rng(1)
    store, obs = _store_with(rng, weights=weights, unknown_latency=0.2)
    windows = [
        (BASE_NS, BASE_NS + 120 * SECOND_NS),
        (BASE_NS + 7 * SECOND_NS, BASE_NS + 8 * SECOND_NS),
        (BASE_NS + 13 * SECOND_NS, BASE_NS + 77 * SECOND_NS),
        (BASE_NS - 50 * SECOND_NS, BASE_NS + 61 * SECOND_NS),
        (BASE_NS + 200 * SECOND_NS, BASE_NS + 300 * SECOND_NS),
    ]
    for start_ns, end_ns in windows:
        frame = store.query(start_ns, end_ns)
        assert frame_edges(frame) == brute_force(obs, start_ns, end_ns)


def test_window_is_half_open_on_bucket_starts() -> None:
    names = ("", "a", "b")
    times = np.array([0, 999_999_999, 1_000_000_000, 2_000_000_000, 2_999_999_999]) + BASE_NS
    obs = EdgeObservations.from_columns(
        names,
        source=np.ones(5),
        target=2,
        source_kind=0,
        target_kind=0,
        connection_type=0,
        via=0,
        time_ns=times,
        latency_ns=1_000_000,
        failed=False,
    )
    store = RollingStore()
    store.ingest(obs)
    calls = [
        int(store.query(BASE_NS + a * SECOND_NS, BASE_NS + b * SECOND_NS).edge_requests.sum())
        for a, b in [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3), (3, 4)]
    ]
    assert calls == [2, 1, 2, 5, 3, 0]
    assert store.time_range_ns() == (BASE_NS, BASE_NS + 3 * SECOND_NS)


def test_nodes_aggregate_their_incoming_edges() -> None:
    rng = np.random.default_rng(2)
    store, _ = _store_with(rng, weights=True)
    frame = store.query(BASE_NS + 10 * SECOND_NS, BASE_NS + 50 * SECOND_NS)
    incoming = np.bincount(frame.edge_target, weights=frame.edge_requests, minlength=frame.node_count)
    errors = np.bincount(frame.edge_target, weights=frame.edge_errors, minlength=frame.node_count)
    outgoing = np.bincount(frame.edge_source, weights=frame.edge_requests, minlength=frame.node_count)
    np.testing.assert_array_equal(frame.node_requests, incoming)
    np.testing.assert_array_equal(frame.node_errors, errors)
    np.testing.assert_array_equal(frame.node_out_requests, outgoing)
    names = list(frame.node_names)
    assert frame.node_kind[names.index("db")] == NodeKind.DATABASE
    assert frame.node_kind[names.index("orders-topic")] == NodeKind.TOPIC
    assert "kafka" not in names  # a via name is not a node
    assert set(frame.edge_via) == {"", "kafka"}


def test_percentiles_within_5_percent_of_the_window_samples() -> None:
    rng = np.random.default_rng(4)
    store, obs = _store_with(rng, services=3, unknown_latency=0.1)
    start_ns, end_ns = BASE_NS + 20 * SECOND_NS, BASE_NS + 100 * SECOND_NS
    frame = store.query(start_ns, end_ns)
    inside = (obs.time_ns >= start_ns) & (obs.time_ns < end_ns) & (obs.latency_ns >= 0)
    names = list(frame.node_names)
    checked = 0
    for e in np.flatnonzero(frame.edge_requests).tolist():
        source, target = names[frame.edge_source[e]], names[frame.edge_target[e]]
        rows = inside & (obs.source == obs.names.index(source)) & (obs.target == obs.names.index(target))
        if rows.sum() < 1000:
            continue
        expected = np.percentile(obs.latency_ns[rows], [50, 95, 99], method="inverted_cdf") / 1e6
        got = [frame.edge_p50_ms[e], frame.edge_p95_ms[e], frame.edge_p99_ms[e]]
        np.testing.assert_allclose(got, expected, rtol=0.05)
        checked += 1
    assert checked >= 3
    db = names.index("db")
    rows = inside & (obs.target == obs.names.index("db"))
    expected = np.percentile(obs.latency_ns[rows], [50, 95, 99], method="inverted_cdf") / 1e6
    got = [frame.node_p50_ms[db], frame.node_p95_ms[db], frame.node_p99_ms[db]]
    np.testing.assert_allclose(got, expected, rtol=0.05)


def test_rows_without_latency_count_as_requests_only() -> None:
    names = ("", "a", "b", "c")
    obs = EdgeObservations.from_columns(
        names,
        source=[1, 1, 1, 2],
        target=[2, 2, 2, 3],
        source_kind=0,
        target_kind=0,
        connection_type=0,
        via=0,
        time_ns=BASE_NS,
        latency_ns=[-1, 5_000_000, -1, -1],
        failed=[True, False, False, False],
        count=[10, 1, 5, 7],
    )
    store = RollingStore()
    store.ingest(obs)
    frame = store.query(BASE_NS, BASE_NS + SECOND_NS)
    assert frame.edge_requests.tolist() == [16, 7]
    assert frame.edge_errors.tolist() == [10, 0]
    assert frame.edge_p50_ms[0] == pytest.approx(5.0, rel=0.05)
    assert np.isnan(frame.edge_p99_ms[1])
    assert np.isnan(frame.node_p50_ms[frame.node_names.index("c")])


def test_timeline_totals_equal_query_totals() -> None:
    rng = np.random.default_rng(5)
    store, obs = _store_with(rng, weights=True)
    start_ns, end_ns = BASE_NS - 5 * SECOND_NS, BASE_NS + 125 * SECOND_NS
    timeline = store.timeline(start_ns, end_ns, step_ns=10 * SECOND_NS)
    assert timeline.bucket_start_ns.tolist() == list(range(start_ns, end_ns, 10 * SECOND_NS))
    for k, step_start in enumerate(timeline.bucket_start_ns.tolist()):
        frame = store.query(step_start, step_start + 10 * SECOND_NS)
        assert timeline.requests[k] == frame.edge_requests.sum()
        assert timeline.failures[k] == frame.edge_errors.sum()
    assert timeline.requests.sum() == obs.count.sum()
    assert set(timeline.resolution_ns.tolist()) == {SECOND_NS}


def test_empty_store_and_empty_windows() -> None:
    store = RollingStore()
    assert store.time_range_ns() is None
    frame = store.query(0, 10)
    assert frame.node_count == 0
    assert frame.edge_count == 0
    assert frame.resolution_ns == 0
    timeline = store.timeline(0, 3 * SECOND_NS, step_ns=SECOND_NS)
    assert timeline.requests.tolist() == [0, 0, 0]
    rng = np.random.default_rng(6)
    store, _ = _store_with(rng)
    frame = store.query(BASE_NS + 10 * SECOND_NS, BASE_NS + 10 * SECOND_NS)
    assert frame.edge_requests.sum() == 0
    assert np.isnan(frame.edge_p50_ms).all()
    assert frame.edge_count == len(frame.edge_via) > 0


def test_sparse_histogram_paths_give_the_same_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    obs = random_observations(rng, 20_000, unknown_latency=0.1, span_ns=30 * 60 * SECOND_NS)
    window = (BASE_NS + 100 * SECOND_NS, BASE_NS + 1500 * SECOND_NS)
    dense_store = RollingStore()
    dense_store.ingest(obs)
    dense = dense_store.query(*window)
    # As with very many edges: edge × bin sums by sorting, in chunk summaries and in queries.
    monkeypatch.setattr("flowviz.store.cells._DENSE_KEY_SPACE", 0)
    monkeypatch.setattr("flowviz.store.snapshot._DENSE_HIST_LIMIT", 0)
    sparse_store = RollingStore()
    sparse_store.ingest(obs)
    sparse = sparse_store.query(*window)
    for name in ("edge_requests", "edge_errors", "edge_p50_ms", "edge_p99_ms", "node_p50_ms", "node_p95_ms"):
        np.testing.assert_array_equal(getattr(sparse, name), getattr(dense, name), err_msg=name)
    assert not np.isnan(sparse.edge_p50_ms).all()
