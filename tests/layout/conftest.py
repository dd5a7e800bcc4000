"""Fixtures for layout tests: random graphs and the public 1 238-service Jaeger dependency graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flowviz.bench.layout import load_dependency_graph


def random_dag(rng: np.random.Generator, nodes: int, edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges i -> j with i < j in a random hidden order (so indices say nothing about the flow)."""
    low = rng.integers(0, nodes - 1, edges)
    high = low + 1 + (rng.random(edges) * (nodes - 1 - low)).astype(np.int64)
    hidden = rng.permutation(nodes)
    return hidden[low], hidden[high]


def random_digraph(rng: np.random.Generator, nodes: int, edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random edges (cycles and self-loops included)."""
    return rng.integers(0, nodes, edges), rng.integers(0, nodes, edges)


@pytest.fixture(scope="session")
def jaeger_large(captures_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(names, source, target, calls) of the 1 238-service, 4 271-link Jaeger UI test graph."""
    return load_dependency_graph(captures_dir / "jaeger-dependencies" / "jaeger-ui-dependencygraph-large.json")
