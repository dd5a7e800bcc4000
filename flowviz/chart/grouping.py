"""Groups of nodes: by namespace, by a name pattern, or by community detection; and a window's figures
aggregated per collapsed group, with the edges between groups (Qt-free).

A group is shown as one node named `[group]`; its figures sum its members' calls and failures, its
latency percentiles are its worst member's, and its edges sum the calls crossing between groups
(calls inside a collapsed group are not drawn).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.store.graph_frame import GraphFrame

GROUP_MODES = ("auto", "namespace", "community", "none")
AUTO_COMMUNITY_ABOVE = 80  # nodes: larger graphs without namespaces are grouped by community
TARGET_GROUPS = 40  # community detection aims at no more groups than this
_K8S_SUFFIX = re.compile(r"\.svc(\.cluster\.local)?\.?$", re.IGNORECASE)
_IP = re.compile(r"^\d+(\.\d+){3}(:\d+)?$")


def group_name(label: str) -> str:
    """The chart name of a group node."""
    return f"[{label}]"


def namespace_of(name: str) -> str:
    """The namespace in a service name, "" when it names none: `reviews.bookinfo`,
    `reviews.bookinfo.svc.cluster.local` -> `bookinfo`; `bookinfo/reviews` -> `bookinfo`."""
    if "/" in name:
        head = name.split("/", 1)[0]
        return head if head and "." not in head and ":" not in head else ""
    if _IP.match(name) or name.count(".") == 0:
        return ""
    trimmed = _K8S_SUFFIX.sub("", name)
    parts = trimmed.split(".")
    if len(parts) != 2 or not parts[0] or not parts[1] or parts[1].isdigit():
        return ""
    return parts[1]


def pattern_groups(names: Sequence[str], pattern: str) -> list[str]:
    """Group by a regular expression: its first capture group (or whole match) names a node's group."""
    compiled = re.compile(pattern)
    labels = []
    for name in names:
        match = compiled.search(name)
        labels.append("" if match is None else (match.group(1) if compiled.groups else match.group(0)) or "")
    return labels


def community_groups(
    names: Sequence[str], source: np.ndarray, target: np.ndarray, weight: np.ndarray, *, target_groups: int
) -> list[str]:
    """Louvain communities of the undirected call graph (seeded: the same graph gives the same groups),
    each named after its busiest member. The resolution rises until no community holds more than an
    eighth of the graph (or `target_groups` are reached); connected pieces too small to matter are
    gathered in one group of small clusters."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(names)))
    for s, t, w in zip(source.tolist(), target.tolist(), np.log1p(weight).tolist(), strict=True):
        if s != t:
            graph.add_edge(s, t, weight=graph.get_edge_data(s, t, {"weight": 0.0})["weight"] + w + 1e-3)
    small_below = max(4, len(names) // 100)
    pieces = list(nx.connected_components(graph))
    small = [piece for piece in pieces if len(piece) < small_below]
    large = graph.subgraph(set().union(*(piece for piece in pieces if len(piece) >= small_below)))
    communities: list[set[int]] = []
    if large.number_of_nodes():
        resolution, biggest = 1.0, max(40, len(names) // 8)
        while True:
            communities = nx.community.louvain_communities(large, weight="weight", resolution=resolution, seed=7)
            if max(map(len, communities)) <= biggest or len(communities) >= target_groups or resolution >= 8:
                break
            resolution *= 2
    busy = np.zeros(len(names))
    np.add.at(busy, target, weight)
    np.add.at(busy, source, weight)
    labels = [""] * len(names)
    for community in communities:
        if len(community) < 2:
            continue
        members = sorted(community)
        head = max(members, key=lambda i: (busy[i], -i))
        label = f"{names[head]} +{len(members) - 1}"
        for member in members:
            labels[member] = label
    if len(small) > 1:
        label = f"{len(small)} small clusters"
        for piece in small:
            for member in piece:
                labels[member] = label
    return labels


def assign_groups(
    frame: GraphFrame, mode: str, *, pattern: str = "", namespaces: Mapping[str, str] | None = None
) -> list[str]:
    """Each node's group label ("" for none) under `mode` (see GROUP_MODES); `pattern` overrides.

    A node's namespace is the one its resource attributes gave (`namespaces`: service -> namespace, from
    `service.namespace` / `k8s.namespace.name`), else the one its name carries (`namespace_of`)."""
    names = frame.node_names
    if pattern:
        return pattern_groups(names, pattern)
    if mode == "none" or not names:
        return [""] * len(names)
    if mode in ("auto", "namespace"):
        given = namespaces or {}
        labels = [given.get(name) or namespace_of(name) for name in names]
        if len({label for label in labels if label}) >= 2:
            return labels
        if mode == "namespace":
            return [""] * len(names)
    if mode == "community" or (mode == "auto" and len(names) > AUTO_COMMUNITY_ABOVE):
        weight = frame.edge_requests.astype(np.float64)
        return community_groups(names, frame.edge_source, frame.edge_target, weight, target_groups=TARGET_GROUPS)
    return [""] * len(names)


def _weighted_mean(values: np.ndarray, weights: np.ndarray, slot: np.ndarray, slots: int) -> np.ndarray:
    known = ~np.isnan(values)
    w = np.where(known, np.maximum(weights, 1), 0).astype(np.float64)
    total = np.zeros(slots)
    np.add.at(total, slot, np.where(known, values, 0.0) * w)
    weight = np.zeros(slots)
    np.add.at(weight, slot, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def _worst(values: np.ndarray, slot: np.ndarray, slots: int) -> np.ndarray:
    out = np.full(slots, -np.inf)
    np.maximum.at(out, slot, np.where(np.isnan(values), -np.inf, values))
    return np.where(np.isneginf(out), np.nan, out)


def collapse(
    frame: GraphFrame, labels: Sequence[str], collapsed: frozenset[str] | set[str]
) -> tuple[GraphFrame, tuple[tuple[str, ...], ...], np.ndarray]:
    """The frame with each group in `collapsed` drawn as one node: (frame, members per node, the
    original node each new node stands for, or -1 for a group)."""
    names = frame.node_names
    slot_of_group: dict[str, int] = {}
    slot = np.empty(len(names), np.int64)
    out_names: list[str] = []
    members: list[list[str]] = []
    origin: list[int] = []
    for index, name in enumerate(names):
        label = labels[index]
        if label and label in collapsed:
            if label not in slot_of_group:
                slot_of_group[label] = -1 - len(slot_of_group)
            slot[index] = slot_of_group[label]
        else:
            slot[index] = len(out_names)
            out_names.append(name)
            members.append([])
            origin.append(index)
    base = len(out_names)
    for label, negative in slot_of_group.items():
        out_names.append(group_name(label))
        members.append([])
        origin.append(-1)
        slot[slot == negative] = base + (-1 - negative)
    for index, name in enumerate(names):
        if slot[index] >= base:
            members[slot[index]].append(name)
    count = len(out_names)
    kind = np.full(count, int(NodeKind.SERVICE), np.int8)
    kind[:base] = frame.node_kind[origin[:base]]

    def node_sum(values: np.ndarray) -> np.ndarray:
        out = np.zeros(count, values.dtype)
        np.add.at(out, slot, values)
        return out

    edge_s, edge_t = slot[frame.edge_source], slot[frame.edge_target]
    crossing = ~((edge_s == edge_t) & (edge_s >= base))  # calls inside a collapsed group are left out
    pair = edge_s[crossing] * count + edge_t[crossing]
    unique_pair, edge_slot = np.unique(pair, return_inverse=True)
    edges = unique_pair.shape[0]
    rows = np.flatnonzero(crossing)
    requests = np.zeros(edges, np.int64)
    errors = np.zeros(edges, np.int64)
    np.add.at(requests, edge_slot, frame.edge_requests[rows])
    np.add.at(errors, edge_slot, frame.edge_errors[rows])
    first_row = np.full(edges, -1, np.int64)
    first_row[edge_slot[::-1]] = rows[::-1]
    many = np.bincount(edge_slot, minlength=edges) > 1
    connection = frame.edge_connection_type[first_row].copy()
    connection[many & (connection != ConnectionType.DIRECT)] = ConnectionType.DIRECT
    via = tuple("" if many[e] else frame.edge_via[first_row[e]] for e in range(edges))
    result = GraphFrame(
        start_ns=frame.start_ns,
        end_ns=frame.end_ns,
        resolution_ns=frame.resolution_ns,
        data_version=frame.data_version,
        topology_version=frame.topology_version,
        node_names=tuple(out_names),
        node_kind=kind,
        node_requests=node_sum(frame.node_requests),
        node_errors=node_sum(frame.node_errors),
        node_out_requests=node_sum(frame.node_out_requests),
        node_p50_ms=_weighted_mean(frame.node_p50_ms, frame.node_requests, slot, count),
        node_p95_ms=_worst(frame.node_p95_ms, slot, count),
        node_p99_ms=_worst(frame.node_p99_ms, slot, count),
        edge_source=(unique_pair // count).astype(frame.edge_source.dtype),
        edge_target=(unique_pair % count).astype(frame.edge_target.dtype),
        edge_connection_type=connection,
        edge_via=via,
        edge_requests=requests,
        edge_errors=errors,
        edge_p50_ms=_weighted_mean(frame.edge_p50_ms[rows], frame.edge_requests[rows], edge_slot, edges),
        edge_p95_ms=_worst(frame.edge_p95_ms[rows], edge_slot, edges),
        edge_p99_ms=_worst(frame.edge_p99_ms[rows], edge_slot, edges),
    )
    return result, tuple(tuple(m) for m in members), np.asarray(origin, np.int64)


def subset(frame: GraphFrame, keep: np.ndarray) -> tuple[GraphFrame, np.ndarray]:
    """The frame restricted to the nodes where `keep` is True and the edges between them: (frame,
    original index of each kept node)."""
    kept = np.flatnonzero(keep)
    new_index = np.full(len(frame.node_names), -1, np.int64)
    new_index[kept] = np.arange(kept.size)
    edges = np.flatnonzero(keep[frame.edge_source] & keep[frame.edge_target])
    result = GraphFrame(
        start_ns=frame.start_ns,
        end_ns=frame.end_ns,
        resolution_ns=frame.resolution_ns,
        data_version=frame.data_version,
        topology_version=frame.topology_version,
        node_names=tuple(frame.node_names[i] for i in kept.tolist()),
        node_kind=frame.node_kind[kept],
        node_requests=frame.node_requests[kept],
        node_errors=frame.node_errors[kept],
        node_out_requests=frame.node_out_requests[kept],
        node_p50_ms=frame.node_p50_ms[kept],
        node_p95_ms=frame.node_p95_ms[kept],
        node_p99_ms=frame.node_p99_ms[kept],
        edge_source=new_index[frame.edge_source[edges]].astype(frame.edge_source.dtype),
        edge_target=new_index[frame.edge_target[edges]].astype(frame.edge_target.dtype),
        edge_connection_type=frame.edge_connection_type[edges],
        edge_via=tuple(frame.edge_via[e] for e in edges.tolist()),
        edge_requests=frame.edge_requests[edges],
        edge_errors=frame.edge_errors[edges],
        edge_p50_ms=frame.edge_p50_ms[edges],
        edge_p95_ms=frame.edge_p95_ms[edges],
        edge_p99_ms=frame.edge_p99_ms[edges],
    )
    return result, kept
