"""Edge-list helpers for layouts: validation, simple edges (no self-loops, no duplicates), adjacency."""

from __future__ import annotations

import numpy as np


def simple_edges(
    node_count: int, source: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, weight) with self-loops dropped and parallel edges merged (weights summed), sorted.

    Indices must be in [0, node_count); weights default to 1 per edge.
    """
    source = np.asarray(source).reshape(-1)
    target = np.asarray(target).reshape(-1)
    if source.shape != target.shape:
        raise ValueError(f"edge_source has {source.size} entries but edge_target has {target.size}")
    if source.size and not (np.issubdtype(source.dtype, np.integer) and np.issubdtype(target.dtype, np.integer)):
        raise TypeError("edge_source and edge_target must be integer node indices")
    source = source.astype(np.int64, copy=False)
    target = target.astype(np.int64, copy=False)
    if source.size and (min(source.min(), target.min()) < 0 or max(source.max(), target.max()) >= node_count):
        raise ValueError(f"edge endpoints must be node indices in [0, {node_count})")
    if weight is None:
        weight = np.ones(source.size, dtype=np.float64)
    else:
        weight = np.asarray(weight, dtype=np.float64).reshape(-1)
        if weight.shape != source.shape:
            raise ValueError(f"edge_weight has {weight.size} entries for {source.size} edges")
    keep = source != target
    key = source[keep] * node_count + target[keep]
    unique_key, inverse = np.unique(key, return_inverse=True)
    merged_weight = np.bincount(inverse, weights=weight[keep], minlength=unique_key.size)
    return unique_key // node_count, unique_key % node_count, merged_weight


def adjacency(node_count: int, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the out-edges: (indptr, neighbour, edge index); edge k is source[k] -> target[k]."""
    order = np.argsort(source, kind="stable")
    indptr = np.zeros(node_count + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=node_count), out=indptr[1:])
    return indptr, target[order], order
