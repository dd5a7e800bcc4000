"""Focus, groups and their aggregation: the cut of the graph the chart shows."""

from __future__ import annotations

import numpy as np

from flowviz.chart.focus import Focus
from flowviz.chart.grouping import assign_groups, collapse, namespace_of, pattern_groups
from flowviz.chart.reduction import ChartScope, Scoper
from flowviz.chart.themes import HealthThresholds
from flowviz.store.graph_frame import GraphFrame


def _frame(names: list[str], edges: list[tuple[int, int, int, int]], p95: list[float] | None = None) -> GraphFrame:
    """Edges as (source, target, requests, errors); node figures from their incoming edges."""
    n = len(names)
    source = np.array([e[0] for e in edges], np.int32)
    target = np.array([e[1] for e in edges], np.int32)
    requests = np.array([e[2] for e in edges], np.int64)
    errors = np.array([e[3] for e in edges], np.int64)
    node_requests = np.bincount(target, requests, n).astype(np.int64)
    node_errors = np.bincount(target, errors, n).astype(np.int64)
    latency = np.array(p95 if p95 is not None else [10.0] * n)
    return GraphFrame(
        0, 60_000_000_000, 1_000_000_000, 1, 1, tuple(names), np.zeros(n, np.int8), node_requests, node_errors,
        np.bincount(source, requests, n).astype(np.int64), latency / 2, latency, latency * 2,
        source, target, np.zeros(len(edges), np.int8), ("",) * len(edges), requests, errors,
        np.full(len(edges), 5.0), np.full(len(edges), 10.0), np.full(len(edges), 20.0),
    )  # fmt: skip


CHAIN = ["a", "b", "c", "d", "e", "f"]
CHAIN_EDGES = [(0, 1, 10, 0), (1, 2, 10, 0), (2, 3, 10, 0), (3, 4, 10, 0), (4, 5, 10, 0), (5, 2, 1, 0)]


def test_focus_keeps_n_hops_each_way_and_paths() -> None:
    frame = _frame(CHAIN, CHAIN_EDGES)

    def kept(focus: Focus) -> set[str]:
        keep = focus.keep(frame.node_names, frame.edge_source, frame.edge_target)
        return {name for name, k in zip(CHAIN, keep, strict=True) if k}

    assert kept(Focus("c", 1, 1)) == {"b", "c", "d", "f"}
    assert kept(Focus("c", 2, 0)) == {"a", "b", "c", "f", "e"}
    assert kept(Focus("a", 0, 2)) == {"a", "b", "c"}
    assert kept(Focus("a", 1, 1, until="b")) == {"a", "b"}
    # between b and d: also the loop d -> e -> f -> c that a call from b to d can take
    assert kept(Focus("b", 1, 1, until="d")) == {"b", "c", "d", "e", "f"}
    assert kept(Focus.paths_through("b")) == set(CHAIN)
    assert Focus("zz").keep(frame.node_names, frame.edge_source, frame.edge_target) is None


def test_namespaces_and_patterns_name_groups() -> None:
    assert namespace_of("reviews.bookinfo") == "bookinfo"
    assert namespace_of("reviews.bookinfo.svc.cluster.local") == "bookinfo"
    assert namespace_of("shop/orders") == "shop"
    assert namespace_of("orders") == ""
    assert namespace_of("10.0.0.1:8080") == ""
    assert namespace_of("api.v2") == "v2"
    assert pattern_groups(["pay-api", "pay-db", "cart"], r"^(\w+)-") == ["pay", "pay", ""]


def test_collapsed_groups_sum_their_members_and_keep_only_crossing_edges() -> None:
    names = ["web.front", "api.front", "orders.back", "db.back"]
    edges = [(0, 1, 100, 0), (1, 2, 50, 5), (0, 2, 10, 0), (2, 3, 40, 0)]
    frame = _frame(names, edges, p95=[10.0, 20.0, 900.0, 5.0])
    labels = assign_groups(frame, "auto")
    assert labels == ["front", "front", "back", "back"]
    grouped, members, origin = collapse(frame, labels, {"front", "back"})
    assert grouped.node_names == ("[front]", "[back]")
    assert members == (("web.front", "api.front"), ("orders.back", "db.back"))
    assert origin.tolist() == [-1, -1]
    assert grouped.edge_source.tolist() == [0]
    assert grouped.edge_target.tolist() == [1]
    assert grouped.edge_requests.tolist() == [60]
    assert grouped.edge_errors.tolist() == [5]
    assert grouped.node_requests.tolist() == [100, 100]
    assert grouped.node_p95_ms.tolist() == [20.0, 900.0]  # a group's latency is its worst member's
    # one group open: its members and the other group's box
    scoped = Scoper().apply(frame, ChartScope("namespace", expanded=frozenset({"front"})), HealthThresholds())
    assert scoped.frame.node_names == ("web.front", "api.front", "[back]")
    assert scoped.store_node.tolist() == [0, 1, -1]
    pairs = {(scoped.frame.node_names[s], scoped.frame.node_names[t]) for s, t in zip(
        scoped.frame.edge_source.tolist(), scoped.frame.edge_target.tolist(), strict=True)}  # fmt: skip
    assert pairs == {("web.front", "api.front"), ("api.front", "[back]"), ("web.front", "[back]")}
    assert scoped.group_health.tolist()[2] == 2  # degraded: orders.back's p95 is 900 ms


def test_auto_grouping_leaves_small_graphs_whole() -> None:
    names = ["web.front", "api.front", "orders.back", "db.back"]
    frame = _frame(names, [(0, 1, 100, 0), (1, 2, 50, 5), (2, 3, 40, 0)])
    scoped = Scoper().apply(frame, ChartScope("auto"), HealthThresholds())
    assert scoped.frame.node_names == tuple(names)
    assert scoped.members == ()
    assert scoped.group_of == {}  # no groups in play


def test_namespaces_from_resource_attributes_win_over_names() -> None:
    names = ["web", "cart", "orders.back", "ledger", "db"]
    frame = _frame(names, [(0, 1, 10, 0), (1, 2, 10, 0), (2, 3, 10, 0), (3, 4, 10, 0)])
    given = {"web": "edge", "cart": "shop", "orders.back": "shop", "ledger": "finance"}
    # attributes first; a name's namespace where attributes name none (db: neither, so no group)
    assert assign_groups(frame, "namespace", namespaces=given) == ["edge", "shop", "shop", "finance", ""]
    assert assign_groups(frame, "namespace", namespaces={"web": "edge"}) == ["edge", "", "back", "", ""]
    assert assign_groups(frame, "namespace") == [""] * 5  # one namespace in names alone is no grouping
    scoped = Scoper().apply(frame, ChartScope("namespace"), HealthThresholds(), namespaces=given)
    assert set(scoped.frame.node_names) == {"[edge]", "[shop]", "[finance]", "db"}
    assert scoped.group_of["orders.back"] == "shop"
