"""A selected node's upstream and downstream neighbours as rows: busiest first, with their traffic shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.chart.chart_frame import ChartFrame


@dataclass(frozen=True, slots=True)
class NeighbourRow:
    """One upstream or downstream edge of the selected node, as a table row."""

    node: int
    edge: int
    name: str
    rate_per_s: float
    failure_pct: float
    p95_ms: float
    share: float  # of the selected node's incoming (upstream) or outgoing (downstream) traffic


def neighbour_rows(chart: ChartFrame, node: int, *, upstream: bool) -> list[NeighbourRow]:
    """Visible edges into (upstream) or out of (downstream) `node`, busiest first, with their traffic shares."""
    mine, other = (chart.edge_target, chart.edge_source) if upstream else (chart.edge_source, chart.edge_target)
    edges = np.flatnonzero((mine == node) & chart.edge_visible)
    total = float(chart.edge_rate_per_s[edges].sum())
    rows = []
    for edge in edges:
        peer, rate = int(other[edge]), float(chart.edge_rate_per_s[edge])
        name = chart.node_names[peer] + (f" via {chart.edge_via[edge]}" if chart.edge_via[edge] else "")
        rows.append(
            NeighbourRow(
                node=peer,
                edge=int(edge),
                name=name,
                rate_per_s=rate,
                failure_pct=100.0 * float(chart.edge_error_ratio[edge]),
                p95_ms=float(chart.edge_p95_ms[edge]),
                share=rate / total if total > 0 else 0.0,
            )
        )
    return sorted(rows, key=lambda row: (-row.rate_per_s, row.name))
