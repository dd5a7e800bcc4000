"""Crossing reduction for graphs of a few thousand nodes: weighted-median sweeps with transpose, then sifting."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowviz.layout.graph import adjacency

STALE_SWEEPS = 8  # median sweeps without a new best after which a start is given up (graphviz's MinQuit)
# median sweeps per start, as graphviz (shop sample 44 crossings against dot's 43, platform 21 against 18)
MAX_SWEEPS = 24
SIFT_ROUNDS = 4  # rounds of sifting every layer down and up


class LayerOrder:
    """The order of every layer of a proper graph (members per layer and rank per node) and the local moves on it.

    Crossings between the layers around layer L depend only on the order of L's neighbour layers, so
    for L a matrix `pairs[u, v]` (crossings among u's and v's segments when u is above v) decides
    every swap and every move inside L exactly.
    """

    def __init__(self, layer: np.ndarray, source: np.ndarray, target: np.ndarray, rank: np.ndarray) -> None:
        self.layer = layer
        self.layer_count = int(layer.max()) + 1
        self.rank = rank.copy()
        order = np.lexsort((rank, layer))
        bounds = np.searchsorted(layer[order], np.arange(self.layer_count + 1))
        self.members = [order[bounds[k] : bounds[k + 1]] for k in range(self.layer_count)]
        node_count = layer.size
        self.down_ptr, self.down, _ = adjacency(node_count, source, target)
        self.up_ptr, self.up, _ = adjacency(node_count, target, source)
        segment_layer = layer[source]
        by_layer = np.argsort(segment_layer, kind="stable")
        cut = np.searchsorted(segment_layer[by_layer], np.arange(self.layer_count + 1))
        # segments between layer k and k + 1, as (upper node, lower node)
        self.gap = [
            (source[by_layer[cut[k] : cut[k + 1]]], target[by_layer[cut[k] : cut[k + 1]]])
            for k in range(self.layer_count)
        ]

    def set_layer(self, index: int, nodes: np.ndarray) -> None:
        self.members[index] = nodes
        self.rank[nodes] = np.arange(nodes.size)

    def pairs(self, index: int) -> np.ndarray:
        """n×n crossings of layer `index`'s nodes (by their current place) with both neighbour layers."""
        nodes = self.members[index]
        size = nodes.size
        total = np.zeros((size, size))
        sides = []
        if index > 0:
            upper, lower = self.gap[index - 1]
            sides.append((lower, upper, self.members[index - 1].size))
        if index + 1 < self.layer_count:
            upper, lower = self.gap[index]
            sides.append((upper, lower, self.members[index + 1].size))
        for here, there, other_size in sides:
            if here.size < 2:
                continue
            flat = self.rank[here] * other_size + self.rank[there]
            hits = np.bincount(flat, minlength=size * other_size).reshape(size, other_size).astype(np.float64)
            below = np.cumsum(hits, axis=1) - hits  # below[v, r]: v's neighbours ranked before r
            total += hits @ below.T  # total[u, v]: pairs of a neighbour of u and one of v ranked before it
        return total

    def transpose_layer(self, index: int, *, reverse: bool = False) -> bool:
        """Swap neighbours wherever that lowers the crossings (with `reverse`, also where it keeps them
        equal, to leave a plateau); True if the crossings went down."""
        nodes = self.members[index]
        if nodes.size < 2:
            return False
        pairs = self.pairs(index)
        order = list(range(nodes.size))
        moved = swapped = False
        improved = True
        while improved:
            improved = False
            for k in range(len(order) - 1):
                u, v = order[k], order[k + 1]
                after, now = pairs[v, u], pairs[u, v]
                if after < now or (reverse and after == now and now > 0):
                    order[k], order[k + 1] = v, u
                    swapped = True
                    if after < now:
                        improved = moved = True
        if swapped:
            self.set_layer(index, nodes[order])
        return moved

    def transpose(self, *, reverse: bool = False, rounds: int = 8) -> None:
        """Transpose every layer, then again those next to a layer whose crossings went down."""
        candidate = [True] * self.layer_count
        for _ in range(rounds):
            if not any(candidate):
                return
            for index in range(self.layer_count):
                if not candidate[index]:
                    continue
                candidate[index] = False
                if self.transpose_layer(index, reverse=reverse):
                    for other in (index - 1, index + 1):
                        if 0 <= other < self.layer_count:
                            candidate[other] = True

    def sift_layer(self, index: int) -> bool:
        """Move each node of the layer to its best place with the others fixed; True if anything moved."""
        nodes = self.members[index]
        if nodes.size < 2:
            return False
        pairs = self.pairs(index)
        order = list(range(nodes.size))
        moved = False
        for node in range(nodes.size):
            at = order.index(node)
            others = order[:at] + order[at + 1 :]
            before = pairs[others, node]  # crossings if that node stays above
            after = pairs[node, others]
            cost = np.concatenate([[0.0], np.cumsum(before)]) + np.concatenate([np.cumsum(after[::-1])[::-1], [0.0]])
            best = int(np.argmin(cost))
            if cost[best] < cost[at]:
                order = [*others[:best], node, *others[best:]]
                moved = True
        if moved:
            self.set_layer(index, nodes[order])
        return moved

    def median_sweep(self, downward: bool, *, reverse: bool = False) -> None:
        """Reorder every layer by the weighted median of its neighbours' ranks in the layer just swept
        (with `reverse`, nodes of equal median change places)."""
        layers = range(1, self.layer_count) if downward else range(self.layer_count - 2, -1, -1)
        ptr, neighbour = (self.up_ptr, self.up) if downward else (self.down_ptr, self.down)
        rank = self.rank
        for index in layers:
            nodes = self.members[index]
            if nodes.size < 2:
                continue
            value = np.full(nodes.size, -1.0)
            for slot, node in enumerate(nodes.tolist()):
                found = np.sort(rank[neighbour[ptr[node] : ptr[node + 1]]])
                value[slot] = weighted_median(found)
            fixed = value < 0  # nodes without neighbours on that side keep their place
            movable = np.flatnonzero(~fixed)
            movable = movable[np.lexsort((-movable if reverse else movable, value[movable]))]
            order = np.arange(nodes.size)
            order[~fixed] = movable
            self.set_layer(index, nodes[order])


def weighted_median(sorted_ranks: np.ndarray) -> float:
    """Gansner et al.'s weighted median of neighbour ranks: -1 without neighbours, the mean of two, else
    the middle one, or between the two middle ones weighted toward the side where the neighbours are packed."""
    count = sorted_ranks.size
    if count == 0:
        return -1.0
    middle = count // 2
    if count % 2 == 1:
        return float(sorted_ranks[middle])
    if count == 2:
        return float(sorted_ranks[0] + sorted_ranks[1]) / 2
    left = float(sorted_ranks[middle - 1] - sorted_ranks[0])
    right = float(sorted_ranks[-1] - sorted_ranks[middle])
    if left + right == 0:
        return float(sorted_ranks[middle - 1] + sorted_ranks[middle]) / 2
    return float(sorted_ranks[middle - 1] * right + sorted_ranks[middle] * left) / (left + right)


def breadth_first_rank(
    layer: np.ndarray, source: np.ndarray, target: np.ndarray, tie: np.ndarray, *, from_sinks: bool
) -> np.ndarray:
    """Rank within layers in breadth-first order over the graph taken as undirected, started from the
    sources (or the sinks) by `tie` (graphviz's initial orders)."""
    node_count = layer.size
    out_ptr, out_nbr, _ = adjacency(node_count, source, target)
    in_ptr, in_nbr, _ = adjacency(node_count, target, source)
    sides = [(in_ptr, in_nbr), (out_ptr, out_nbr)] if from_sinks else [(out_ptr, out_nbr), (in_ptr, in_nbr)]
    walk = [(ptr.tolist(), neighbour.tolist()) for ptr, neighbour in sides]
    is_root = np.diff(out_ptr if from_sinks else in_ptr) == 0
    roots = np.flatnonzero(is_root)
    roots = roots[np.argsort(tie[roots], kind="stable")].tolist()
    rest = np.argsort(tie, kind="stable").tolist()
    seen = [False] * node_count
    visit: list[int] = []
    for root in roots + rest:
        if seen[root]:
            continue
        seen[root] = True
        queue = [root]
        head = 0
        while head < len(queue):
            node = queue[head]
            head += 1
            visit.append(node)
            for ptr, neighbour in walk:
                for other in neighbour[ptr[node] : ptr[node + 1]]:
                    if not seen[other]:
                        seen[other] = True
                        queue.append(other)
    order = np.asarray(visit, dtype=np.int64)
    visit_index = np.empty(node_count, dtype=np.int64)
    visit_index[order] = np.arange(node_count)
    by_layer = np.lexsort((visit_index, layer))
    rank = np.empty(node_count, dtype=np.int64)
    bounds = np.searchsorted(layer[by_layer], np.arange(int(layer.max()) + 2))
    for k in range(bounds.size - 1):
        rank[by_layer[bounds[k] : bounds[k + 1]]] = np.arange(bounds[k + 1] - bounds[k])
    return rank


def refine_order(
    layer: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    starts: list[np.ndarray],
    count: Callable[[np.ndarray], int],
    *,
    max_sweeps: int = MAX_SWEEPS,
    sift_rounds: int = SIFT_ROUNDS,
) -> tuple[np.ndarray, int]:
    """(rank, crossings) of the best ordering found from any of `starts` (ranks within layers), as
    graphviz's mincross does: weighted-median sweeps alternating down and up, each followed by
    transpose, equal moves allowed every other pair of sweeps, keeping the best; then
    layer-by-layer sifting of the best. `count(rank)` counts crossings."""
    best_rank, best = starts[0], count(starts[0])
    for start in starts:
        order = LayerOrder(layer, source, target, start)
        order.transpose()
        crossings = count(order.rank)
        if crossings <= best:
            best_rank, best = order.rank.copy(), crossings
        trying = 0
        for sweep in range(max_sweeps):
            if best == 0 or crossings == 0 or trying >= STALE_SWEEPS:
                break
            trying += 1
            reverse = sweep % 4 < 2
            order.median_sweep(downward=sweep % 2 == 0, reverse=reverse)
            order.transpose(reverse=reverse)
            crossings = count(order.rank)
            if crossings <= best:
                if crossings < 0.995 * best:
                    trying = 0
                best_rank, best = order.rank.copy(), crossings
    order = LayerOrder(layer, source, target, best_rank)
    for round_index in range(sift_rounds):
        if best == 0:
            break
        layers = range(order.layer_count) if round_index % 2 == 0 else range(order.layer_count - 1, -1, -1)
        for index in layers:
            order.sift_layer(index)
        order.transpose()
        crossings = count(order.rank)
        if crossings >= best:
            break
        best_rank, best = order.rank.copy(), crossings
    return best_rank, best
