"""Break cycles: strongly connected components, then a weighted greedy feedback arc set inside each."""

from __future__ import annotations

import heapq

import numpy as np

from flowviz.layout.graph import adjacency


def strongly_connected_components(node_count: int, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Component id per node (int64), by an iterative Tarjan; ids come out in reverse topological order."""
    indptr_array, neighbour_array, _ = adjacency(node_count, source, target)
    indptr = indptr_array.tolist()
    neighbour = neighbour_array.tolist()
    index = [-1] * node_count
    low = [0] * node_count
    on_stack = [False] * node_count
    component = [-1] * node_count
    stack: list[int] = []
    counter = 0
    component_count = 0
    for root in range(node_count):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, indptr[root])]
        while work:
            node, cursor = work[-1]
            end = indptr[node + 1]
            descended = False
            while cursor < end:
                other = neighbour[cursor]
                cursor += 1
                if index[other] == -1:
                    work[-1] = (node, cursor)
                    index[other] = low[other] = counter
                    counter += 1
                    stack.append(other)
                    on_stack[other] = True
                    work.append((other, indptr[other]))
                    descended = True
                    break
                if on_stack[other] and index[other] < low[node]:
                    low[node] = index[other]
            if descended:
                continue
            work.pop()
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component[member] = component_count
                    if member == node:
                        break
                component_count += 1
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
    return np.asarray(component, dtype=np.int64)


def greedy_linear_order(
    node_count: int, source: np.ndarray, target: np.ndarray, weight: np.ndarray, *, tie_rank: np.ndarray
) -> np.ndarray:
    """Rank per node of a linear order with few (weighted) edges pointing backward (Eades, Lin & Smyth 1993).

    Sinks are peeled to the end, sources to the front; otherwise the node with the largest
    out-weight minus in-weight goes next. Ties go to the lowest `tie_rank`, so the order is deterministic.
    """
    out_ptr, out_nbr, out_edge = adjacency(node_count, source, target)
    in_ptr, in_nbr, in_edge = adjacency(node_count, target, source)
    out_ptr_l, out_nbr_l, out_w = out_ptr.tolist(), out_nbr.tolist(), weight[out_edge].tolist()
    in_ptr_l, in_nbr_l, in_w = in_ptr.tolist(), in_nbr.tolist(), weight[in_edge].tolist()
    tie = tie_rank.tolist()
    out_count = np.diff(out_ptr).tolist()
    in_count = np.diff(in_ptr).tolist()
    delta = (
        np.bincount(source, weights=weight, minlength=node_count)
        - np.bincount(target, weights=weight, minlength=node_count)
    ).tolist()
    removed = [False] * node_count
    sinks = [(tie[v], v) for v in range(node_count) if out_count[v] == 0]
    sources = [(tie[v], v) for v in range(node_count) if in_count[v] == 0 and out_count[v] > 0]
    best = [(-delta[v], tie[v], v) for v in range(node_count)]
    for heap in (sinks, sources, best):
        heapq.heapify(heap)
    front: list[int] = []
    back: list[int] = []
    left = node_count
    while left:
        if sinks:
            node = heapq.heappop(sinks)[1]
            if removed[node]:
                continue
            back.append(node)
        elif sources:
            node = heapq.heappop(sources)[1]
            if removed[node]:
                continue
            front.append(node)
        else:
            negative_delta, _, node = heapq.heappop(best)
            if removed[node] or -negative_delta != delta[node]:
                continue
            front.append(node)
        removed[node] = True
        left -= 1
        for k in range(out_ptr_l[node], out_ptr_l[node + 1]):
            other = out_nbr_l[k]
            if removed[other]:
                continue
            in_count[other] -= 1
            delta[other] += out_w[k]
            if in_count[other] == 0 and out_count[other] > 0:
                heapq.heappush(sources, (tie[other], other))
            heapq.heappush(best, (-delta[other], tie[other], other))
        for k in range(in_ptr_l[node], in_ptr_l[node + 1]):
            other = in_nbr_l[k]
            if removed[other]:
                continue
            out_count[other] -= 1
            delta[other] -= in_w[k]
            if out_count[other] == 0:
                heapq.heappush(sinks, (tie[other], other))
            heapq.heappush(best, (-delta[other], tie[other], other))
    rank = np.empty(node_count, dtype=np.int64)
    rank[front + back[::-1]] = np.arange(node_count)
    return rank


def feedback_edges(
    node_count: int, source: np.ndarray, target: np.ndarray, weight: np.ndarray, *, tie_rank: np.ndarray | None = None
) -> np.ndarray:
    """Mask of the edges to reverse so the graph has no cycles (edges must be simple: no self-loops).

    Only edges inside a strongly connected component can be on a cycle; within each component the
    greedy linear order decides, keeping heavy edges forward.
    """
    reverse = np.zeros(source.size, dtype=bool)
    if source.size == 0:
        return reverse
    if tie_rank is None:
        tie_rank = np.arange(node_count)
    component = strongly_connected_components(node_count, source, target)
    inside = component[source] == component[target]
    if not inside.any():
        return reverse
    # One linear order over all nodes of non-trivial components at once: there are no edges between
    # components in the `inside` subgraph, so each component is ordered independently.
    members = np.unique(np.concatenate([source[inside], target[inside]]))
    local = np.full(node_count, -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    rank = greedy_linear_order(
        members.size, local[source[inside]], local[target[inside]], weight[inside], tie_rank=tie_rank[members]
    )
    reverse[np.flatnonzero(inside)] = rank[local[source[inside]]] > rank[local[target[inside]]]
    return reverse
