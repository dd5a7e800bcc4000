"""What the store answers: a window's per-node and per-edge totals and percentiles, and a timeline of totals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, eq=False)
class GraphFrame:
    """Traffic in the window [start_ns, end_ns): every interned node and edge, so indices are stable across frames.

    A cell counts when its bucket *starts* in the window; where data is coarser than the window's
    edges (`resolution_ns` > 1 s) whole coarse buckets are in or out. Node figures aggregate the
    node's incoming edges (what it served), except `node_out_requests` (what it called).
    Percentiles are in milliseconds, NaN where there are no latency samples.
    """

    start_ns: int
    end_ns: int
    resolution_ns: int  # coarsest bucket resolution that contributed (0 when no data)
    data_version: int
    topology_version: int
    node_names: tuple[str, ...]
    node_kind: np.ndarray  # int8 NodeKind
    node_requests: np.ndarray  # int64, incoming
    node_errors: np.ndarray  # int64, incoming
    node_out_requests: np.ndarray  # int64, outgoing
    node_p50_ms: np.ndarray  # float64
    node_p95_ms: np.ndarray
    node_p99_ms: np.ndarray
    edge_source: np.ndarray  # int32 node index
    edge_target: np.ndarray  # int32 node index
    edge_connection_type: np.ndarray  # int8 ConnectionType
    edge_via: tuple[str, ...]  # "" where none
    edge_requests: np.ndarray  # int64
    edge_errors: np.ndarray  # int64
    edge_p50_ms: np.ndarray  # float64
    edge_p95_ms: np.ndarray
    edge_p99_ms: np.ndarray

    @property
    def node_count(self) -> int:
        return len(self.node_names)

    @property
    def edge_count(self) -> int:
        return int(self.edge_source.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class Timeline:
    """Total calls and failures over all edges per step [bucket_start_ns[k], bucket_start_ns[k] + step_ns).

    A bucket counts in the step where it starts; `resolution_ns` is the coarsest bucket
    resolution that landed in each step (0 where there was no data), so a caller can tell a
    60 s bucket's spike in a 1 s step from a real one.
    """

    step_ns: int
    bucket_start_ns: np.ndarray  # int64
    requests: np.ndarray  # int64
    failures: np.ndarray  # int64
    resolution_ns: np.ndarray  # int64
