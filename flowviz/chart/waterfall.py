"""A kept trace laid out as a waterfall (as Jaeger draws it): tree order, depth, critical path, folding, and its
path on the flow chart (the calls the deriver makes of it). Qt-free: the trace view draws it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.derive.critical_path import CriticalPath, trace_critical_path
from flowviz.derive.trace_calls import call_pairs, trace_calls
from flowviz.store.exemplars import TraceSpans


@dataclass(frozen=True, slots=True, eq=False)
class Waterfall:
    """A trace laid out for drawing: rows in tree order (children by start time) with their depth."""

    spans: TraceSpans
    path: CriticalPath
    order: np.ndarray  # span row per waterfall row
    depth: np.ndarray  # per waterfall row
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 1)

    def services(self) -> list[str]:
        return sorted({self.spans.strings[i] for i in self.spans.service.tolist()})

    def path_on_chart(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        """The services the trace passes through and the calls between them, by name (for the flow chart):
        the calls the deriver derives from the trace's spans (`derive/trace_calls.py`), so the path lit is
        made of the chart's own edges."""
        calls = call_pairs(trace_calls(self.spans.span_batch()))
        nodes = set(self.spans.string_column("service")) | {name for call in calls for name in call}
        return frozenset(nodes), calls


def waterfall(spans: TraceSpans) -> Waterfall:
    """Tree order of a trace's spans (orphans are roots) and its critical path."""
    path = trace_critical_path(spans)
    row_of = {int(s): r for r, s in enumerate(spans.span_id.tolist())}
    children: dict[int, list[int]] = {}
    roots = []
    for row, parent_id in enumerate(spans.parent_id.tolist()):
        parent = row_of.get(int(parent_id))
        if parent is None or parent == row:
            roots.append(row)
        else:
            children.setdefault(parent, []).append(row)
    starts = spans.start_ns.tolist()
    order, depth = [], []
    stack = [(row, 0) for row in sorted(roots, key=lambda r: starts[r], reverse=True)]
    seen = set()
    while stack:
        row, level = stack.pop()
        if row in seen:  # a cycle of parent ids in a broken capture
            continue
        seen.add(row)
        order.append(row)
        depth.append(level)
        for child in sorted(children.get(row, []), key=lambda r: starts[r], reverse=True):
            stack.append((child, level + 1))
    start = int(spans.start_ns.min()) if len(spans) else 0
    end = int(spans.end_ns.max()) if len(spans) else 0
    return Waterfall(spans, path, np.array(order, np.int64), np.array(depth, np.int64), start, end)


def visible_indices(depth: np.ndarray, collapsed: set[int]) -> np.ndarray:
    """Waterfall indices shown when the subtrees under the `collapsed` indices are folded away."""
    shown, fold_depth = [], None
    for index, level in enumerate(depth.tolist()):
        if fold_depth is not None:
            if level > fold_depth:
                continue
            fold_depth = None
        shown.append(index)
        if index in collapsed:
            fold_depth = level
    return np.array(shown, np.int64)


def has_children(depth: np.ndarray) -> np.ndarray:
    """Per waterfall index: whether the next row is its child (tree order puts children right after)."""
    result = np.zeros(len(depth), bool)
    result[:-1] = depth[1:] > depth[:-1]
    return result
