"""Layout timings on a Jaeger dependency list: full layout, one new node, relayout, an unchanged update."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson

from flowviz.bench.timing import median_ms
from flowviz.decoders.jaeger_deps import read_dependencies
from flowviz.layout.flow_layout import FlowLayout
from flowviz.layout.ordering import count_crossings
from flowviz.model.problems import Problems


def load_dependency_graph(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(node names in order of appearance, edge source, edge target, call count) of a Jaeger dependencies file."""
    links = read_dependencies(orjson.loads(Path(path).read_bytes()), Problems(), str(path))
    index: dict[str, int] = {}
    for parent, child, _ in links:
        index.setdefault(parent, len(index))
        index.setdefault(child, len(index))
    source = np.fromiter((index[parent] for parent, _, _ in links), dtype=np.int64, count=len(links))
    target = np.fromiter((index[child] for _, child, _ in links), dtype=np.int64, count=len(links))
    calls = np.fromiter((count for _, _, count in links), dtype=np.float64, count=len(links))
    return list(index), source, target, calls


def run_layout_bench(path: Path, *, repeats: int = 3) -> dict[str, float | int]:
    """Figures for laying out the graph in `path` (milliseconds are medians of `repeats` runs)."""
    names, source, target, _ = load_dependency_graph(path)
    full_ms = median_ms(lambda: FlowLayout().update(names, source, target), repeats)
    layout = FlowLayout()
    result = layout.update(names, source, target)
    grown_names = [*names, "bench-new-service"]
    new = len(names)
    grown_source = np.append(source, [source[0], new])
    grown_target = np.append(target, [new, target[0]])

    def add_one() -> None:
        fresh = FlowLayout()
        fresh.update(names, source, target)
        started = time.perf_counter()
        fresh.update(grown_names, grown_source, grown_target)
        add_times.append((time.perf_counter() - started) * 1e3)

    add_times: list[float] = []
    for _ in range(repeats):
        add_one()
    placement = layout.last_placement
    assert placement is not None
    ordering = placement.ordering
    proper = ordering.proper
    index_rank = np.empty(proper.node_count, dtype=np.int64)
    by_layer = np.lexsort((np.arange(proper.node_count), proper.layer))
    index_rank[by_layer] = np.arange(proper.node_count) - np.searchsorted(
        proper.layer[by_layer], proper.layer[by_layer]
    )
    rightward = float(np.mean(result.positions[target, 0] > result.positions[source, 0])) if source.size else 1.0
    return {
        "nodes": len(names),
        "edges": int(source.size),
        "layers": int(result.layer.max()) + 1 if names else 0,
        "dummy_nodes": proper.node_count - proper.real_count,
        "full_layout_ms": full_ms,
        "add_one_node_ms": float(np.median(add_times)),
        "relayout_ms": median_ms(layout.relayout, repeats),
        "unchanged_update_ms": median_ms(lambda: layout.update(names, source, target), repeats),
        "crossings_index_order": count_crossings(proper, index_rank),
        "crossings_initial": ordering.initial_crossings,
        "crossings_final": ordering.crossings,
        "rightward_edge_fraction": rightward,
    }
