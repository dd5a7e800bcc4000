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
        count = min(chart.edge_count, edges.score.shape[0])
        values = signed(edges)[:count]
        change = edges.change[:count]
        shown = np.flatnonzero(
            edges.active[:count]
            & ((np.abs(values) >= SHOWN_SCORE) | (change >= Change.NEW))
            & chart.edge_visible[:count]
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
        count = min(chart.node_count, nodes.score.shape[0])
        values = signed(nodes)[:count]
        shown = np.flatnonzero(nodes.active[:count] & (np.abs(values) >= SHOWN_SCORE) & chart.node_visible[:count])
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
