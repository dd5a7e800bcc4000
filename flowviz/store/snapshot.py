"""An immutable state of the rolling store, and the window queries and timelines computed from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from flowviz.store.cells import Chunk, EdgeBinSums, Piece, edge_bin_blocks
from flowviz.store.graph_frame import GraphFrame, Timeline
from flowviz.store.interning import TablesSnapshot
from flowviz.store.latency_bins import BIN_COUNT, NO_LATENCY_BIN, percentiles, sparse_percentiles

_DENSE_HIST_LIMIT = 1 << 22
"""Edge histograms are accumulated densely (edges × bins float64) up to this many entries, else sparsely."""
_QUERY_BLOCK_CELLS = 1 << 21
_MAX_TIMELINE_STEPS = 50_000_000
_QS = (50, 95, 99)


@dataclass(frozen=True, slots=True, eq=False)
class TierSnapshot:
    """One tier's chunks ordered by grid-cell start (several chunks may share a grid cell)."""

    resolution_ns: int
    grid_ns: int
    chunk_grid_ns: np.ndarray  # int64, grid-cell start of each chunk, sorted
    chunks: tuple[Chunk, ...]

    def overlapping(self, start_ns: int, end_ns: int) -> tuple[Chunk, ...]:
        """Chunks whose grid cell intersects [start_ns, end_ns)."""
        first_grid = start_ns // self.grid_ns * self.grid_ns
        lo = int(np.searchsorted(self.chunk_grid_ns, first_grid, side="left"))
        hi = int(np.searchsorted(self.chunk_grid_ns, end_ns, side="left"))
        return self.chunks[lo:hi]


class _HistogramSum:
    """Sums (edge, bin) → calls over many pieces, then gives percentiles per edge."""

    def __init__(self, edge_count: int) -> None:
        self.edge_count = edge_count
        self.sums = EdgeBinSums(max(edge_count, 1), _DENSE_HIST_LIMIT)

    def add(self, piece: Piece) -> None:
        blocks = edge_bin_blocks(
            piece.group_edge, piece.group_cells, piece.cell_bin, piece.cell_count, block_cells=_QUERY_BLOCK_CELLS
        )
        for keys, calls in blocks:
            self.sums.add(keys, calls)

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """(edge · BIN_COUNT + bin, calls) of the non-empty latency cells, sorted by key."""
        keys, calls = self.sums.result()
        keep = keys % BIN_COUNT != NO_LATENCY_BIN
        return keys[keep], calls[keep]

    def edge_percentiles(self) -> np.ndarray:
        if self.sums.is_dense:
            return percentiles(self.sums.dense().reshape(-1, BIN_COUNT)[: self.edge_count], _QS)
        keys, calls = self.sparse()
        return sparse_percentiles(keys // BIN_COUNT, keys % BIN_COUNT, calls, self.edge_count, _QS)


def _node_percentiles(keys: np.ndarray, calls: np.ndarray, edge_target: np.ndarray, node_count: int) -> np.ndarray:
    """Percentiles of each node's summed incoming edge histograms."""
    node_keys = edge_target[keys // BIN_COUNT].astype(np.int64) * BIN_COUNT + keys % BIN_COUNT
    order = np.argsort(node_keys)
    node_keys, calls = node_keys[order], calls[order]
    if node_keys.size:
        starts = np.flatnonzero(np.concatenate(([True], node_keys[1:] != node_keys[:-1])))
        node_keys, calls = node_keys[starts], np.add.reduceat(calls, starts)
    return sparse_percentiles(node_keys // BIN_COUNT, node_keys % BIN_COUNT, calls, node_count, _QS)


def _padded(thresholds: np.ndarray, size: int) -> np.ndarray:
    """Latency-bin thresholds as int64 of `size` (missing entries: above every bin, so nothing counts)."""
    out = np.full(size, BIN_COUNT, np.int64)
    thresholds = np.asarray(thresholds, np.int64)[:size]
    out[: thresholds.shape[0]] = thresholds
    return out


@dataclass(frozen=True, slots=True, eq=False)
class SlowCalls:
    """Calls at or above a latency threshold, and calls with any latency, per edge and per node (incoming)."""

    edge_slow: np.ndarray  # float64
    edge_timed: np.ndarray
    node_slow: np.ndarray
    node_timed: np.ndarray
    edge_requests: np.ndarray  # all calls (timed or not) and failures, as `query` counts them
    edge_errors: np.ndarray
    node_requests: np.ndarray  # incoming
    node_errors: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class StepCounts:
    """Per step (rows, from `start_ns`, `step_ns` each) and edge (columns): calls, failures, slow calls."""

    step_ns: int
    start_ns: int
    requests: np.ndarray  # float64 steps × edges
    failures: np.ndarray
    slow: np.ndarray | None


@dataclass(frozen=True, slots=True, eq=False)
class StoreSnapshot:
    """Everything a reader needs, as of one ingest; never modified, so any thread may query it."""

    tables: TablesSnapshot
    tiers: tuple[TierSnapshot, ...]
    data_version: int
    topology_version: int
    cells_bytes: int
    time_range: tuple[int, int] | None
    # service -> namespace from resource attributes (service.namespace, k8s.namespace.name); never modified
    namespaces: Mapping[str, str] = field(default_factory=dict)

    @property
    def memory_bytes(self) -> int:
        return self.cells_bytes + self.tables.nbytes

    def pieces(self, start_ns: int, end_ns: int) -> list[Piece]:
        """Groups and cells of every bucket starting in [start_ns, end_ns), whole-chunk summaries where possible."""
        out = []
        for tier in self.tiers:
            for chunk in tier.overlapping(start_ns, end_ns):
                first, last = chunk.bucket_range(start_ns, end_ns)
                if last > first:
                    out.append(chunk.piece(first, last))
        return out

    def query(self, start_ns: int, end_ns: int) -> GraphFrame:
        """Per-node and per-edge totals and percentiles of the cells whose bucket starts in [start_ns, end_ns)."""
        tables = self.tables
        n_edges, n_nodes = tables.edge_count, tables.node_count
        pieces = self.pieces(int(start_ns), int(end_ns)) if end_ns > start_ns else []
        histograms = _HistogramSum(n_edges)
        if pieces:
            group_edge = np.concatenate([p.group_edge.astype(np.int64) for p in pieces])
            requests = np.concatenate([p.group_requests.astype(np.float64) for p in pieces])
            failures = np.concatenate([p.group_failures.astype(np.float64) for p in pieces])
            edge_requests = np.bincount(group_edge, weights=requests, minlength=n_edges).astype(np.int64)
            edge_errors = np.bincount(group_edge, weights=failures, minlength=n_edges).astype(np.int64)
            for piece in pieces:
                histograms.add(piece)
        else:
            edge_requests = np.zeros(n_edges, np.int64)
            edge_errors = np.zeros(n_edges, np.int64)
        edge_pct = histograms.edge_percentiles()
        keys, calls = histograms.sparse()
        node_pct = _node_percentiles(keys, calls, tables.edge_target, n_nodes)
        target, source = tables.edge_target, tables.edge_source
        return GraphFrame(
            start_ns=int(start_ns),
            end_ns=int(end_ns),
            resolution_ns=max((p.resolution_ns for p in pieces), default=0),
            data_version=self.data_version,
            topology_version=self.topology_version,
            node_names=tables.node_names,
            node_kind=tables.node_kind,
            node_requests=np.bincount(target, weights=edge_requests, minlength=n_nodes).astype(np.int64),
            node_errors=np.bincount(target, weights=edge_errors, minlength=n_nodes).astype(np.int64),
            node_out_requests=np.bincount(source, weights=edge_requests, minlength=n_nodes).astype(np.int64),
            node_p50_ms=node_pct[:, 0],
            node_p95_ms=node_pct[:, 1],
            node_p99_ms=node_pct[:, 2],
            edge_source=source,
            edge_target=target,
            edge_connection_type=tables.edge_connection_type,
            edge_via=tables.edge_via_names,
            edge_requests=edge_requests,
            edge_errors=edge_errors,
            edge_p50_ms=edge_pct[:, 0],
            edge_p95_ms=edge_pct[:, 1],
            edge_p99_ms=edge_pct[:, 2],
        )

    def slow_calls(self, start_ns: int, end_ns: int, edge_min_bin: np.ndarray, node_min_bin: np.ndarray) -> SlowCalls:
        """Per edge, calls of [start_ns, end_ns) with a latency in bin `edge_min_bin[edge]` or above, calls with
        any latency, and all calls and failures; per node the same over its incoming calls against
        `node_min_bin[node]`. One pass, no percentiles: cheaper than `query`. Thresholds
        index the snapshot's edges and nodes (shorter arrays: the missing ones count nothing)."""
        tables = self.tables
        n_edges, n_nodes = tables.edge_count, tables.node_count
        edge_threshold = _padded(edge_min_bin, n_edges)
        node_threshold = _padded(node_min_bin, n_nodes)
        edge_slow = np.zeros(n_edges, np.float64)
        edge_timed = np.zeros(n_edges, np.float64)
        node_slow = np.zeros(n_nodes, np.float64)
        edge_requests = np.zeros(n_edges, np.float64)
        edge_errors = np.zeros(n_edges, np.float64)
        target = tables.edge_target.astype(np.int64)
        for piece in self.pieces(int(start_ns), int(end_ns)) if end_ns > start_ns else []:
            group_edge = piece.group_edge.astype(np.int64)
            edge_requests += np.bincount(group_edge, weights=piece.group_requests, minlength=n_edges)
            edge_errors += np.bincount(group_edge, weights=piece.group_failures, minlength=n_edges)
            edge = np.repeat(group_edge, piece.group_cells.astype(np.int64))
            bins = piece.cell_bin.astype(np.int64)
            calls = piece.cell_count.astype(np.float64)
            timed = bins != NO_LATENCY_BIN
            edge_timed += np.bincount(edge[timed], weights=calls[timed], minlength=n_edges)
            slow = timed & (bins >= edge_threshold[edge])
            edge_slow += np.bincount(edge[slow], weights=calls[slow], minlength=n_edges)
            node = target[edge]
            slow = timed & (bins >= node_threshold[node])
            node_slow += np.bincount(node[slow], weights=calls[slow], minlength=n_nodes)
        node_timed = np.bincount(target, weights=edge_timed, minlength=n_nodes)
        return SlowCalls(
            edge_slow,
            edge_timed,
            node_slow,
            node_timed,
            edge_requests,
            edge_errors,
            np.bincount(target, weights=edge_requests, minlength=n_nodes),
            np.bincount(target, weights=edge_errors, minlength=n_nodes),
        )

    def step_counts(
        self, start_ns: int, end_ns: int, *, step_ns: int, edge_min_bin: np.ndarray | None = None
    ) -> StepCounts:
        """Calls, failures and (with thresholds) slow calls per step of [start_ns, end_ns) and edge: steps × edges
        arrays (a bucket counts in the step where it starts)."""
        start_ns, end_ns, step_ns = int(start_ns), int(end_ns), int(step_ns)
        steps = max(0, -(-(end_ns - start_ns) // step_ns))
        n_edges = self.tables.edge_count
        shape = (steps, n_edges)
        requests = np.zeros(steps * n_edges, np.float64)
        failures = np.zeros(steps * n_edges, np.float64)
        slow = np.zeros(steps * n_edges, np.float64)
        threshold = None if edge_min_bin is None else _padded(edge_min_bin, n_edges)
        for tier in self.tiers:
            for chunk in tier.overlapping(start_ns, end_ns):
                first, last = chunk.bucket_range(start_ns, end_ns)
                if last <= first:
                    continue
                cells = chunk.expand(first, last)
                key = (cells.group_bucket_ns - start_ns) // step_ns * n_edges + cells.group_edge
                requests += np.bincount(key, weights=cells.group_requests, minlength=requests.size)
                failures += np.bincount(key, weights=cells.group_failures, minlength=failures.size)
                if threshold is not None:
                    cell_key = np.repeat(key, cells.group_cells)
                    cell_edge = np.repeat(cells.group_edge, cells.group_cells)
                    hit = (cells.cell_bin != NO_LATENCY_BIN) & (cells.cell_bin >= threshold[cell_edge])
                    slow += np.bincount(cell_key[hit], weights=cells.cell_count[hit], minlength=slow.size)
        return StepCounts(
            step_ns=step_ns,
            start_ns=start_ns,
            requests=requests.reshape(shape),
            failures=failures.reshape(shape),
            slow=slow.reshape(shape) if threshold is not None else None,
        )

    def timeline(self, start_ns: int, end_ns: int, *, step_ns: int) -> Timeline:
        """Total calls and failures per step of [start_ns, end_ns); the last step may reach past end_ns."""
        start_ns, end_ns, step_ns = int(start_ns), int(end_ns), int(step_ns)
        if step_ns <= 0:
            raise ValueError("step_ns must be positive")
        steps = max(0, -(-(end_ns - start_ns) // step_ns))
        if steps > _MAX_TIMELINE_STEPS:
            raise ValueError(f"{steps} timeline steps is too many")
        requests = np.zeros(steps, np.int64)
        failures = np.zeros(steps, np.int64)
        resolution = np.zeros(steps, np.int64)
        for tier in self.tiers:
            indices, calls, fails = [], [], []
            for chunk in tier.overlapping(start_ns, end_ns):
                first, last = chunk.bucket_range(start_ns, end_ns)
                if last > first:
                    indices.append((chunk.bucket_ns[first:last] - start_ns) // step_ns)
                    calls.append(chunk.bucket_requests[first:last])
                    fails.append(chunk.bucket_failures[first:last])
            if not indices:
                continue
            index = np.concatenate(indices)
            requests += np.bincount(index, weights=np.concatenate(calls), minlength=steps).astype(np.int64)
            failures += np.bincount(index, weights=np.concatenate(fails), minlength=steps).astype(np.int64)
            resolution[index] = np.maximum(resolution[index], tier.resolution_ns)
        return Timeline(
            step_ns=step_ns,
            bucket_start_ns=start_ns + np.arange(steps, dtype=np.int64) * step_ns,
            requests=requests,
            failures=failures,
            resolution_ns=resolution,
        )
