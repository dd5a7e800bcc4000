"""Order nodes within layers: dummy nodes for long edges, barycentre sweeps, crossing counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.layout.graph import adjacency
from flowviz.layout.refine import breadth_first_rank, refine_order


@dataclass(frozen=True, slots=True, eq=False)
class ProperGraph:
    """A layered graph where every segment joins adjacent layers: long edges go through dummy nodes.

    Nodes [0, real_count) are the real ones; the rest are dummies. Segment k runs from layer L to L + 1.
    """

    real_count: int
    layer: np.ndarray  # int64 per node, real then dummy
    source: np.ndarray  # int64 per segment
    target: np.ndarray
    edge: np.ndarray  # int64 per segment: the original edge it belongs to
    anchor: np.ndarray  # int64 per node: itself for a real node, its edge's source for a dummy

    @property
    def node_count(self) -> int:
        return int(self.layer.size)


def proper_graph(layer: np.ndarray, down_source: np.ndarray, down_target: np.ndarray) -> ProperGraph:
    """Split every edge spanning k > 1 layers into k segments through k - 1 dummy nodes (vectorised)."""
    real_count = int(layer.size)
    span = layer[down_target] - layer[down_source]
    if span.size and span.min() < 1:
        raise ValueError("every edge must point to a higher layer")
    dummies = span - 1
    dummy_total = int(dummies.sum())
    dummy_first = np.cumsum(dummies) - dummies  # offset of each edge's first dummy
    step = np.arange(dummy_total) - np.repeat(dummy_first, dummies)  # 0.. within each edge
    dummy_layer = np.repeat(layer[down_source], dummies) + step + 1
    # Each edge's chain: source, its dummies, target -> span + 1 entries.
    chain_length = span + 1
    chain_start = np.cumsum(chain_length) - chain_length
    chain = np.empty(int(chain_length.sum()), dtype=np.int64)
    is_end = np.zeros(chain.size, dtype=bool)
    is_start = np.zeros(chain.size, dtype=bool)
    is_start[chain_start] = True
    is_end[chain_start + span] = True
    chain[chain_start] = down_source
    chain[chain_start + span] = down_target
    chain[~(is_start | is_end)] = real_count + np.arange(dummy_total)
    edge_of_chain = np.repeat(np.arange(span.size), chain_length)
    return ProperGraph(
        real_count,
        np.concatenate([layer.astype(np.int64), dummy_layer]),
        chain[~is_end],
        chain[~is_start],
        edge_of_chain[~is_end],
        np.concatenate([np.arange(real_count), np.repeat(down_source, dummies)]),
    )


def count_inversions(values: np.ndarray, group: np.ndarray | None = None) -> int:
    """Pairs i < j in the same group with values[i] > values[j] (`group` non-decreasing; default: one group).

    Radix style, one pass per bit from the top: a pair is counted at its highest differing bit, where
    the elements agreeing on all higher bits sit together (stable partitions keep their order). O(n) per bit.
    """
    value = np.asarray(values, dtype=np.int64)
    size = value.size
    if size < 2:
        return 0
    value = value - value.min()
    prefix = np.zeros(size, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    index = np.arange(size)
    total = 0
    for bit_index in reversed(range(int(value.max()).bit_length())):
        bit = (value >> bit_index) & 1
        is_start = np.empty(size, dtype=bool)
        is_start[0] = True
        np.not_equal(prefix[1:], prefix[:-1], out=is_start[1:])
        starts = np.flatnonzero(is_start)
        run = np.cumsum(is_start) - 1  # which block of equal prefix each element is in
        ones_before = np.cumsum(bit) - bit
        ones_before -= ones_before[starts][run]  # within the block
        total += int(ones_before[bit == 0].sum())
        ones_in_block = np.add.reduceat(bit, starts)
        zeros_in_block = np.diff(np.append(starts, size)) - ones_in_block
        zeros_before = index - starts[run] - ones_before
        position = starts[run] + np.where(bit == 0, zeros_before, zeros_in_block[run] + ones_before)
        reordered = np.empty_like(value)
        reordered[position] = value
        value = reordered
        prefix_next = np.empty_like(prefix)
        prefix_next[position] = run * 2 + bit
        prefix = prefix_next
    return total


def count_crossings(proper: ProperGraph, rank: np.ndarray) -> int:
    """Segment crossings between adjacent layers, given each node's rank within its layer (real and dummy)."""
    if proper.source.size < 2:
        return 0
    source_layer = proper.layer[proper.source]
    target_rank = rank[proper.target]
    base = int(rank.max()) + 1
    order = np.argsort((source_layer * base + rank[proper.source]) * base + target_rank)
    return count_inversions(target_rank[order], source_layer[order])


def dfs_order(node_count: int, source: np.ndarray, target: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Rank per node in depth-first preorder from the sources (lowest `priority` first): a good initial ordering."""
    order = np.lexsort((target, priority[target], source))
    indptr, _, _ = adjacency(node_count, source[order], target[order])
    indptr_l, neighbour_l = indptr.tolist(), target[order].tolist()
    has_callers = (np.bincount(target, minlength=node_count) > 0).tolist()
    has_callees = (np.bincount(source, minlength=node_count) > 0).tolist()
    # Sources first, then nodes without edges (so they end up at the bottom of the first column).
    roots = sorted(range(node_count), key=lambda v: (has_callers[v], not has_callees[v], priority[v], v))
    seen = [False] * node_count
    preorder: list[int] = []
    for root in roots:
        if seen[root]:
            continue
        seen[root] = True
        stack = [root]
        while stack:
            node = stack.pop()
            preorder.append(node)
            children = neighbour_l[indptr_l[node] : indptr_l[node + 1]]
            for child in reversed(children):
                if not seen[child]:
                    seen[child] = True
                    stack.append(child)
    rank = np.empty(node_count, dtype=np.int64)
    rank[preorder] = np.arange(node_count)
    return rank


@dataclass(frozen=True, slots=True, eq=False)
class Ordering:
    """Rank of every node (real and dummy) within its layer, and the crossings before and after the sweeps."""

    proper: ProperGraph
    rank: np.ndarray  # int64 per node of `proper`
    initial_crossings: int
    crossings: int


def _layer_members(layer: np.ndarray, key: np.ndarray) -> list[np.ndarray]:
    """Node ids of each layer sorted by key (ties by id)."""
    order = np.lexsort((np.arange(layer.size), key, layer))
    bounds = np.searchsorted(layer[order], np.arange(int(layer.max()) + 2))
    return [order[bounds[k] : bounds[k + 1]] for k in range(bounds.size - 1)]


def _group_segments(by_layer: np.ndarray, layer_count: int) -> list[np.ndarray]:
    order = np.argsort(by_layer, kind="stable")
    bounds = np.searchsorted(by_layer[order], np.arange(layer_count + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(layer_count)]


# sum over layers of (nodes in the layer)², real and dummy nodes, up to which median sweeps, transpose
# and sifting refine the order (briefly, from the barycentre order), and up to which they do so thoroughly
# (from four starts, as graphviz does); a service graph of ~50 nodes is ~2 000
REFINE_UP_TO = 60_000
THOROUGH_UP_TO = 12_000
REFINE_LAYERS = 120  # and up to how many layers (each costs a few Python steps per sweep)
THOROUGH_LAYERS = 40
MEDIAN_UP_TO = 4_000  # nodes (real and dummy) up to which median sweeps follow the barycentre ones


def order_layers(proper: ProperGraph, initial_key: np.ndarray, *, passes: int = 6) -> Ordering:
    """Barycentre sweeps (down then up, `passes` times), then up to MEDIAN_UP_TO nodes median sweeps,
    keeping the ordering with the fewest crossings. Then, while the layers are narrow and few enough
    (REFINE_UP_TO, REFINE_LAYERS), weighted-median sweeps with transpose and sifting (see `refine.refine_order`):
    from the best order so far, and up to THOROUGH_UP_TO and THOROUGH_LAYERS also from the initial order
    and graphviz's two breadth-first orders; else (up to MEDIAN_UP_TO nodes) adjacent swaps alone.

    `initial_key` orders the real nodes at the start; a dummy starts beside its edge's source.
    Each layer's reorder is one bincount and one sort.
    """
    node_count = proper.node_count
    if node_count == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Ordering(proper, empty, 0, 0)
    # Dummies start just after their edge's source, so long edges begin beside where they come from.
    key = np.asarray(initial_key, dtype=np.float64)[proper.anchor]
    key[proper.real_count :] += 0.5

    layer = proper.layer
    layer_count = int(layer.max()) + 1
    members = _layer_members(layer, key)
    rank = np.empty(node_count, dtype=np.int64)
    position = np.empty(node_count, dtype=np.float64)  # rank normalised to (0, 1) within the layer
    for nodes in members:
        rank[nodes] = np.arange(nodes.size)
        position[nodes] = (np.arange(nodes.size) + 0.5) / nodes.size
    into_layer = _group_segments(layer[proper.target], layer_count)
    out_of_layer = _group_segments(layer[proper.source], layer_count)

    def sweep(layers: range, segments: list[np.ndarray], here: np.ndarray, there: np.ndarray) -> None:
        for index in layers:
            nodes = members[index]
            chosen = segments[index]
            if nodes.size < 2 or chosen.size == 0:
                continue
            local = rank[here[chosen]]
            count = np.bincount(local, minlength=nodes.size)
            current = (np.arange(nodes.size) + 0.5) / nodes.size
            if use_median[0]:
                centre = _medians(local, position[there[chosen]], nodes.size)
            else:
                centre = np.bincount(local, weights=position[there[chosen]], minlength=nodes.size)
                centre = centre / np.maximum(count, 1)
            barycentre = np.where(count > 0, centre, current)
            nodes = nodes[np.lexsort((np.arange(nodes.size), barycentre))]
            members[index] = nodes
            rank[nodes] = np.arange(nodes.size)
            position[nodes] = current

    initial_rank = rank.copy()
    initial = count_crossings(proper, rank)
    best_rank, best = rank.copy(), initial
    use_median = [False]
    medians = node_count <= MEDIAN_UP_TO  # big graphs: barycentre sweeps alone, in a tenth of a second
    for median in (False, True) if medians else (False,):
        use_median[0] = median
        stale = 0
        for _ in range(passes):
            if best == 0:
                break
            sweep(range(1, layer_count), into_layer, proper.target, proper.source)
            sweep(range(layer_count - 2, -1, -1), out_of_layer, proper.source, proper.target)
            crossings = count_crossings(proper, rank)
            if crossings < best:
                best_rank, best, stale = rank.copy(), crossings, 0
            else:
                stale += 1
                if stale >= 2:
                    break
        _restore(best_rank, members, rank, position)  # the median sweeps start from the best so far
    work = int((np.bincount(layer) ** 2).sum())  # a transpose or sifting pass costs about this
    thorough = work <= THOROUGH_UP_TO and layer_count <= THOROUGH_LAYERS
    if best > 0 and work <= REFINE_UP_TO and layer_count <= REFINE_LAYERS:
        starts = [best_rank]
        if thorough:
            starts += [
                initial_rank,
                breadth_first_rank(layer, proper.source, proper.target, key, from_sinks=False),
                breadth_first_rank(layer, proper.source, proper.target, key, from_sinks=True),
            ]
        best_rank, best = refine_order(
            layer,
            proper.source,
            proper.target,
            starts,
            lambda candidate: count_crossings(proper, candidate),
            sift_rounds=4 if thorough else 1,
        )
    elif best > 0 and medians:  # layers too wide for the pair matrices: adjacent swaps alone
        _transpose(proper, members, rank)
        crossings = count_crossings(proper, rank)
        if crossings < best:
            best_rank, best = rank.copy(), crossings
    return Ordering(proper, best_rank, initial, best)


def _medians(local: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Median of `values` per group `local` in [0, size) (NaN-free; 0 where a group is empty)."""
    order = np.lexsort((values, local))
    local, values = local[order], values[order]
    starts = np.searchsorted(local, np.arange(size))
    ends = np.searchsorted(local, np.arange(size), side="right")
    counts = ends - starts
    low = values[np.minimum(starts + (counts - 1) // 2, max(values.size - 1, 0))] if values.size else np.zeros(size)
    high = values[np.minimum(starts + counts // 2, max(values.size - 1, 0))] if values.size else np.zeros(size)
    return np.where(counts > 0, (low + high) / 2, 0.0)


def _restore(best_rank: np.ndarray, members: list[np.ndarray], rank: np.ndarray, position: np.ndarray) -> None:
    """Put every layer back in the order `best_rank` gives."""
    for index, nodes in enumerate(members):
        nodes = nodes[np.argsort(best_rank[nodes], kind="stable")]
        members[index] = nodes
        rank[nodes] = np.arange(nodes.size)
        position[nodes] = (np.arange(nodes.size) + 0.5) / max(nodes.size, 1)


def _transpose(proper: ProperGraph, members: list[np.ndarray], rank: np.ndarray, *, rounds: int = 4) -> None:
    """Swap neighbours within a layer wherever that lowers the crossings with the layers on both sides."""
    up: list[list[int]] = [[] for _ in range(proper.node_count)]
    down: list[list[int]] = [[] for _ in range(proper.node_count)]
    for source, target in zip(proper.source.tolist(), proper.target.tolist(), strict=True):
        down[source].append(target)
        up[target].append(source)

    def crossing(u: int, v: int) -> int:
        """Crossings among u's and v's segments with u placed before v."""
        total = 0
        for lists in (up, down):
            ranks_v = [rank[w] for w in lists[v]]
            for a in lists[u]:
                ra = rank[a]
                total += sum(1 for rb in ranks_v if rb < ra)
        return total

    for _ in range(rounds):
        improved = False
        for index, nodes in enumerate(members):
            order = nodes.tolist()
            for k in range(len(order) - 1):
                u, v = order[k], order[k + 1]
                if crossing(v, u) < crossing(u, v):
                    order[k], order[k + 1] = v, u
                    rank[v], rank[u] = k, k + 1
                    improved = True
            members[index] = np.asarray(order, dtype=np.int64)
        if not improved:
            break
