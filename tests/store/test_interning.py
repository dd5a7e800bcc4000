"""Interning: stable ids, node kinds, the cardinality guard, and when the versions move."""

from __future__ import annotations

import numpy as np

from flowviz.model.graph_kinds import NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.interning import REFUSED_EDGE, REFUSED_NODE, REFUSED_REASONS
from flowviz.store.rolling_store import DROP_BAD_COUNT, RollingStore

from .conftest import BASE_NS, SECOND_NS, random_observations


def _calls(names: tuple[str, ...], pairs: list[tuple[int, int]], **columns: object) -> EdgeObservations:
    source, target = np.array(pairs).T
    columns = {
        "source_kind": 0,
        "target_kind": 0,
        "connection_type": 0,
        "via": 0,
        "time_ns": BASE_NS,
        "latency_ns": 1_000_000,
        "failed": False,
        **columns,
    }
    return EdgeObservations.from_columns(names, source=source, target=target, **columns)


def test_ids_are_stable_across_batches_with_different_name_tables() -> None:
    store = RollingStore()
    store.ingest(_calls(("", "a", "b", "c"), [(1, 2), (2, 3)]))
    store.ingest(_calls(("", "c", "x", "b", "a"), [(4, 3), (3, 1), (2, 1)], time_ns=BASE_NS + SECOND_NS))
    frame = store.query(BASE_NS, BASE_NS + 2 * SECOND_NS)
    assert frame.node_names == ("a", "b", "c", "x")
    edges = {
        (frame.node_names[s], frame.node_names[t]): int(r)
        for s, t, r in zip(frame.edge_source, frame.edge_target, frame.edge_requests, strict=True)
    }
    assert edges == {("a", "b"): 2, ("b", "c"): 2, ("x", "c"): 1}


def test_edges_differ_by_connection_type_and_via() -> None:
    names = ("", "a", "b", "k1", "k2")
    store = RollingStore()
    store.ingest(_calls(names, [(1, 2)] * 4, connection_type=[0, 1, 1, 1], via=[0, 3, 4, 3]))
    frame = store.query(BASE_NS, BASE_NS + SECOND_NS)
    assert frame.edge_count == 3
    got = sorted(zip(frame.edge_connection_type.tolist(), frame.edge_via, frame.edge_requests.tolist(), strict=True))
    assert got == [(0, "", 1), (1, "k1", 2), (1, "k2", 1)]
    assert frame.node_names == ("a", "b")


def test_specific_kind_replaces_service_but_not_the_other_way() -> None:
    store = RollingStore()
    store.ingest(_calls(("", "a", "pg"), [(1, 2)]))
    version = store.topology_version
    store.ingest(_calls(("", "a", "pg"), [(1, 2)], target_kind=NodeKind.DATABASE))
    assert store.topology_version == version + 1
    assert store.query(0, 1).node_kind.tolist() == [NodeKind.SERVICE, NodeKind.DATABASE]
    store.ingest(_calls(("", "pg", "a"), [(1, 2)], source_kind=NodeKind.SERVICE, target_kind=NodeKind.EXTERNAL))
    assert store.query(0, 1).node_kind.tolist() == [NodeKind.EXTERNAL, NodeKind.DATABASE]
    store.ingest(_calls(("", "a", "pg"), [(1, 2)], target_kind=NodeKind.TOPIC))  # the first specific kind stays
    assert store.query(0, 1).node_kind.tolist() == [NodeKind.EXTERNAL, NodeKind.DATABASE]


def test_cardinality_guard_drops_and_counts_calls_of_new_nodes_and_edges() -> None:
    names = ("", "a", "b", "c", "d", "e")
    store = RollingStore(max_nodes=3, max_edges=2)
    store.ingest(_calls(names, [(1, 2), (1, 2), (2, 3)]))
    store.ingest(_calls(names, [(1, 3), (3, 1), (1, 4), (4, 5), (1, 2)], count=[2, 1, 5, 7, 1]))
    frame = store.query(BASE_NS, BASE_NS + SECOND_NS)
    assert frame.node_names == ("a", "b", "c")
    assert frame.edge_count == 2
    assert frame.edge_requests.sum() == 4  # a→b ×3, b→c ×1: existing edges keep counting
    assert store.problems.count(REFUSED_REASONS[REFUSED_EDGE]) == 3  # a→c and c→a: no room for new edges
    assert store.problems.count(REFUSED_REASONS[REFUSED_NODE]) == 12  # a→d, d→e: no room for d and e


def test_non_positive_counts_are_dropped_and_counted() -> None:
    store = RollingStore()
    store.ingest(_calls(("", "a", "b"), [(1, 2)] * 3, count=[0, -2, 3]))
    assert store.query(BASE_NS, BASE_NS + SECOND_NS).edge_requests.tolist() == [3]
    assert store.problems.count(DROP_BAD_COUNT) == 2


def test_versions_move_only_when_they_should() -> None:
    rng = np.random.default_rng(30)
    store = RollingStore()
    assert (store.data_version, store.topology_version) == (0, 0)
    store.ingest(EdgeObservations.empty())
    assert (store.data_version, store.topology_version) == (0, 0)
    obs = random_observations(rng, 2000)
    store.ingest(obs)
    assert (store.data_version, store.topology_version) == (1, 1)
    store.ingest(obs)  # same nodes and edges: only data changes
    assert (store.data_version, store.topology_version) == (2, 1)
    snapshot = store.snapshot()
    store.ingest(_calls(obs.names, [(1, 2)], count=0))  # nothing kept
    assert store.snapshot() is snapshot
    store.ingest(_calls(("", "new-a", "new-b"), [(1, 2)]))
    assert (store.data_version, store.topology_version) == (3, 2)
    frame = store.query(BASE_NS, BASE_NS + 200 * SECOND_NS)
    assert (frame.data_version, frame.topology_version) == (3, 2)
