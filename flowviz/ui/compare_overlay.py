"""The comparison drawn on the chart: changed edges and nodes in a diverging palette, new edges tagged,
vanished edges as dashed ghosts (over the static layer, under the particles)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen

from flowviz.analysis.compare import Change, Changes, Comparison
from flowviz.chart.caption import LegendEntry
from flowviz.chart.diverging import FULL_SCALE, diverging_rgba, palette, signed_change
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.viewport import Viewport
from flowviz.ui.chart_painter import _polyline_path, qcolor

SHOWN_SCORE = 2.0  # edges and nodes whose score is below this keep their usual look
MAX_DRAWN = 400  # level of detail: the biggest changes only
WASH_ALPHA = 150


def signed(changes: Changes) -> np.ndarray:
    return signed_change(changes.score, changes.error_z, changes.latency_z, changes.rate_z)


def store_rows(model: FlowChartModel, *, edges: bool) -> np.ndarray:
    """Per chart edge (or node), its index in the store's tables; -1 for groups and edges between them."""
    chart, scoped = model.chart, model.scoped
    count = 0 if chart is None else (chart.edge_count if edges else chart.node_count)
    if scoped is None:
        return np.arange(count)
    return np.asarray(scoped.store_edge if edges else scoped.store_node, np.int64)[:count]


def chart_row(model: FlowChartModel, store_index: int, *, edges: bool) -> int | None:
    """The chart's edge (or node) showing store edge (or node) `store_index`, if it is shown on its own."""
    rows = np.flatnonzero(store_rows(model, edges=edges) == store_index)
    return int(rows[0]) if rows.size else None


def _per_chart_row(values: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """`values` (by store index) for each chart row; `fill` where a row has no store entity."""
    if values.size == 0:
        return np.full(rows.shape, fill)
    valid = (rows >= 0) & (rows < values.shape[0])
    return np.where(valid, values[np.clip(rows, 0, values.shape[0] - 1)], fill)


class ComparisonOverlay:
    """Paints `comparison` (set by its owner) over `model`'s chart; indices are the store's, as the chart's."""

    def __init__(self, model: FlowChartModel) -> None:
        self.model = model
        self.comparison: Comparison | None = None

    def legend_entries(self) -> list[LegendEntry]:
        better, neutral, worse = palette(self.model.theme)
        return [
            LegendEntry(
                "ramp",
                f"change vs baseline: better ← → worse (failures, p95, rate; z ±{FULL_SCALE:g})",
                colors=(better, neutral, worse),
            ),
            LegendEntry("line", "new edge", self.model.theme.selection, width=3.0),
            LegendEntry("dash", "gone (ghost)", self.model.theme.text_dim, width=2.0),
        ]

    def paint(self, painter: QPainter, viewport: Viewport) -> None:
        chart, comparison = self.model.chart, self.comparison
        if chart is None or comparison is None:
            return
        theme = self.model.theme
        painter.save()
        # the usual health colours step back (a wash of the background), so the changes stand out
        painter.fillRect(QRectF(0, 0, viewport.width, viewport.height), qcolor(theme.background, WASH_ALPHA))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        edges = comparison.edges
        rows = store_rows(self.model, edges=True)
        values = _per_chart_row(signed(edges), rows, 0.0)
        change = _per_chart_row(edges.change, rows, Change.SAME)
        active = _per_chart_row(edges.active, rows, False)
        shown = np.flatnonzero(
            active & ((np.abs(values) >= SHOWN_SCORE) | (change >= Change.NEW)) & chart.edge_visible[: rows.shape[0]]
        )
        shown = shown[np.argsort(-np.abs(values[shown]))][:MAX_DRAWN]
        colours = diverging_rgba(values[shown], theme)
        curves = viewport.to_screen(chart.edge_curve[shown]) if shown.size else np.zeros((0, 2, 2))
        width_px = np.maximum(chart.edge_width[shown] * viewport.scale, 2.5).clip(max=22.0)
        tags: list[tuple[QPointF, str, QColor]] = []
        for row, edge in enumerate(shown.tolist()):
            kind = int(change[edge])
            if kind == Change.GONE:
                pen = QPen(qcolor(theme.text_dim, 200), 2.0, Qt.PenStyle.DashLine)
                tag_colour = qcolor(theme.text_dim)
            elif kind == Change.NEW:
                pen = QPen(qcolor(theme.selection, 230), float(width_px[row]) + 1.5)
                tag_colour = qcolor(theme.selection)
            else:
                pen = QPen(QColor(*colours[row].tolist()), float(width_px[row]) + 1.0)
                tag_colour = None
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(_polyline_path(curves[row : row + 1]))
            if tag_colour is not None:
                middle = curves[row, curves.shape[1] // 2]
                tags.append((QPointF(float(middle[0]), float(middle[1])), Change(kind).label, tag_colour))
        self._paint_nodes(painter, viewport, comparison.nodes)
        self._paint_tags(painter, tags)
        painter.restore()

    def _paint_nodes(self, painter: QPainter, viewport: Viewport, nodes: Changes) -> None:
        chart, theme = self.model.chart, self.model.theme
        rows = store_rows(self.model, edges=False)
        values = _per_chart_row(signed(nodes), rows, 0.0)
        active = _per_chart_row(nodes.active, rows, False)
        shown = np.flatnonzero(active & (np.abs(values) >= SHOWN_SCORE) & chart.node_visible[: rows.shape[0]])
        colours = diverging_rgba(values[shown], theme)
        screen = viewport.to_screen(chart.node_xy)
        ring_px = max(2.5, 4.0 * viewport.scale * theme.node_scale)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for row, node in enumerate(shown.tolist()):
            radius = max(float(chart.node_radius[node] * viewport.scale), 4.0) + ring_px * 1.6
            painter.setPen(QPen(QColor(*colours[row].tolist()), ring_px))
            painter.drawEllipse(QPointF(*screen[node]), radius, radius)

    def _paint_tags(self, painter: QPainter, tags: list[tuple[QPointF, str, QColor]]) -> None:
        theme = self.model.theme
        font = QFont(theme.font_family)
        font.setPixelSize(max(9, round(theme.figure_pt * 1.33)))
        font.setBold(True)
        metrics = QFontMetricsF(font)
        painter.setFont(font)
        for point, text, colour in tags:
            width, height = metrics.horizontalAdvance(text) + 10, metrics.height() + 2
            box = QRectF(point.x() - width / 2, point.y() - height / 2, width, height)
            painter.setPen(QPen(colour, 1.2))
            painter.setBrush(QBrush(qcolor(theme.label_background)))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(colour)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
