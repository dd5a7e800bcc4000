"""Focus on part of a graph: n hops upstream/downstream of a node, paths through it, paths between two (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_HOPS = 5
ALL_HOPS = 1 << 20  # paths through: as many hops as the graph has


def _reach(count: int, source: np.ndarray, target: np.ndarray, start: int, hops: int) -> np.ndarray:
    """Nodes reachable from `start` along edges source -> target in at most `hops` steps (start included)."""
    seen = np.zeros(count, bool)
    seen[start] = True
    frontier = seen.copy()
    for _ in range(min(hops, count)):
        step = np.zeros(count, bool)
        step[target[frontier[source]]] = True
        step &= ~seen
        if not step.any():
            break
        seen |= step
        frontier = step
    return seen


@dataclass(frozen=True, slots=True)
class Focus:
    """What to keep around `node`: `upstream` hops of callers and `downstream` hops of callees; with
    `until`, only the nodes on paths from `node` to `until` (either way round)."""

    node: str
    upstream: int = 1
    downstream: int = 1
    until: str | None = None

    @classmethod
    def paths_through(cls, node: str) -> Focus:
        return cls(node, ALL_HOPS, ALL_HOPS)

    def keep(self, names: tuple[str, ...], source: np.ndarray, target: np.ndarray) -> np.ndarray | None:
        """Per node, whether it is in focus; None when the focused node is not in `names`."""
        index = {name: i for i, name in enumerate(names)}
        if self.node not in index:
            return None
        count, start = len(names), index[self.node]
        source, target = np.asarray(source, np.int64), np.asarray(target, np.int64)
        if self.until is not None:
            if self.until not in index:
                return None
            end = index[self.until]
            forward = _reach(count, source, target, start, ALL_HOPS) & _reach(count, target, source, end, ALL_HOPS)
            backward = _reach(count, source, target, end, ALL_HOPS) & _reach(count, target, source, start, ALL_HOPS)
            keep = forward | backward
            keep[[start, end]] = True
            return keep
        down = _reach(count, source, target, start, self.downstream)
        up = _reach(count, target, source, start, self.upstream)
        return down | up
