"""What was drawn, as plain data: node and group boxes, their labels, edge routes (for `render --describe`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.labels import PlacedLabel
from flowviz.chart.viewport import Viewport
from flowviz.model.graph_kinds import NodeKind

EDGE_POINTS = 8  # points per drawn edge route in a description (the curve, flattened)


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(v), 1) for v in values]


def describe_scene(
    chart: ChartFrame,
    viewport: Viewport,
    *,
    centres_px: np.ndarray,
    half_extents_px: np.ndarray,
    labels: Sequence[PlacedLabel],
    name_font_px: float,
    theme: str,
    particles: int,
) -> dict:
    """`{"size", "theme", "chart_rect", "items", "edges", "particles"}` in pixels of the image: one item per
    visible node or group (its box as drawn and its label, or null), one edge per visible edge with its
    drawn route as a polyline; an edge between groups names the groups."""
    label_of = {label.node: label for label in labels}
    items = []
    for index in np.flatnonzero(chart.node_visible).tolist():
        members = chart.node_members[index] if index < len(chart.node_members) else ()
        x, y = centres_px[index]
        half_w, half_h = half_extents_px[index]
        label = label_of.get(index)
        items.append(
            {
                "kind": "group" if members else "node",
                "name": chart.node_names[index],
                "node_kind": NodeKind(int(chart.node_kind[index])).label,
                "members": list(members),
                "health": int(chart.node_health[index]),
                "rect": _rounded((x - half_w, y - half_h, 2 * half_w, 2 * half_h)),
                "label": None
                if label is None
                else {
                    "text": "\n".join(label.lines),
                    "lines": list(label.lines),
                    "rect": _rounded(label.rect),
                    "font_px": name_font_px,
                    "leader": None if label.leader is None else _rounded(label.leader),
                },
            }
        )
    edges = []
    step = max(1, (chart.edge_curve.shape[1] - 1) // (EDGE_POINTS - 1)) if chart.edge_count else 1
    for edge in np.flatnonzero(chart.edge_visible).tolist():
        curve = viewport.to_screen(chart.edge_curve[edge])
        points = np.vstack([curve[::step], curve[-1:]]) if (curve.shape[0] - 1) % step else curve[::step]
        edges.append(
            {
                "source": chart.node_names[int(chart.edge_source[edge])],
                "target": chart.node_names[int(chart.edge_target[edge])],
                "points": [_rounded(p) for p in points.tolist()],
            }
        )
    return {
        "size": [int(viewport.width), int(viewport.height)],
        "theme": theme,
        "chart_rect": [0, 0, int(viewport.width), int(viewport.height)],
        "items": items,
        "edges": edges,
        "particles": int(particles),
    }
