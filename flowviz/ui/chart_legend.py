"""QPainter drawing of an exported picture's header (title, time range) and legend strip, in the chart's theme."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QLinearGradient, QPainter, QPen

from flowviz.chart.caption import Caption, LegendEntry
from flowviz.chart.themes import Theme
from flowviz.model.graph_kinds import NodeKind
from flowviz.ui.chart_painter import ChartPainter, qcolor

_PAD_PX = 14.0
_ITEM_GAP_PX = 22.0
_SAMPLE_GAP_PX = 7.0
_LEFT_VCENTER = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter) | int(Qt.TextFlag.TextDontClip)


class CaptionPainter:
    """Measures and paints the header and the legend for one theme; sizes follow the theme's type size."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        base_px = theme.label_pt * 1.33
        self.title_font = self._font(base_px * 1.6, bold=True)
        self.subtitle_font = self._font(base_px * 1.1)
        self.legend_font = self._font(theme.figure_pt * 1.33 * 1.1)
        self._legend_metrics = QFontMetricsF(self.legend_font)
        self.sample_px = max(14.0, self._legend_metrics.height())

    def _font(self, pixel_size: float, *, bold: bool = False) -> QFont:
        font = QFont(self.theme.font_family)
        font.setPixelSize(max(8, round(pixel_size)))
        font.setBold(bold)
        return font

    # -- header ------------------------------------------------------------------------------

    def header_height(self, caption: Caption) -> float:
        lines = QFontMetricsF(self.title_font).height() + QFontMetricsF(self.subtitle_font).height() * (
            2 if caption.note else 1
        )
        return float(round(_PAD_PX * 2 + lines + 4))

    def paint_header(self, painter: QPainter, caption: Caption, width: float) -> None:
        """The title (the source) and, under it, the window (and what it is compared with)."""
        theme = self.theme
        height = self.header_height(caption)
        painter.fillRect(QRectF(0, 0, width, height), qcolor(theme.background))
        y = _PAD_PX
        title_h = QFontMetricsF(self.title_font).height()
        painter.setFont(self.title_font)
        painter.setPen(qcolor(theme.text))
        painter.drawText(QRectF(_PAD_PX, y, width - 2 * _PAD_PX, title_h), _LEFT_VCENTER, caption.title)
        y += title_h + 4
        line_h = QFontMetricsF(self.subtitle_font).height()
        painter.setFont(self.subtitle_font)
        painter.setPen(qcolor(theme.text_dim))
        for text in (caption.subtitle, caption.note):
            if text:
                painter.drawText(QRectF(_PAD_PX, y, width - 2 * _PAD_PX, line_h), _LEFT_VCENTER, text)
                y += line_h
        painter.setPen(QPen(qcolor(theme.grid), 1))
        painter.drawLine(QLineF(0, height - 0.5, width, height - 0.5))

    # -- legend ------------------------------------------------------------------------------

    def _sample_width(self, entry: LegendEntry) -> float:
        s = self.sample_px
        if entry.mark == "size":
            return sum(self._size_px(r) * 2 for r in entry.radii) + 4 * (len(entry.radii) - 1)
        if entry.mark in ("line", "dash", "ramp"):
            return s * 2.4
        if entry.mark == "shape" and entry.node_kind == NodeKind.TOPIC:
            return s * 1.3
        return s

    def _size_px(self, radius: float) -> float:
        """Node radii drawn at legend scale (the biggest a little taller than a line of text)."""
        return radius / 60.0 * self.sample_px * 0.62

    def _rows(self, entries: list[LegendEntry], width: float) -> list[list[tuple[LegendEntry, float]]]:
        rows: list[list[tuple[LegendEntry, float]]] = [[]]
        used = _PAD_PX
        for entry in entries:
            item = self._sample_width(entry) + _SAMPLE_GAP_PX + self._legend_metrics.horizontalAdvance(entry.text)
            if rows[-1] and used + item > width - _PAD_PX:
                rows.append([])
                used = _PAD_PX
            rows[-1].append((entry, item))
            used += item + _ITEM_GAP_PX
        return rows

    def _row_height(self) -> float:
        return self.sample_px * 1.5

    def legend_height(self, entries: list[LegendEntry], width: float) -> float:
        if not entries:
            return 0.0
        return float(round(_PAD_PX * 2 + len(self._rows(entries, width)) * self._row_height()))

    def paint_legend(self, painter: QPainter, entries: list[LegendEntry], top: float, width: float) -> None:
        """The legend strip from `top` down: samples and their meaning, wrapped to `width`."""
        theme = self.theme
        height = self.legend_height(entries, width)
        painter.fillRect(QRectF(0, top, width, height), qcolor(theme.background))
        painter.setPen(QPen(qcolor(theme.grid), 1))
        painter.drawLine(QLineF(0, top + 0.5, width, top + 0.5))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        y = top + _PAD_PX
        for row in self._rows(entries, width):
            x = _PAD_PX
            center_y = y + self._row_height() / 2
            for entry, item_width in row:
                sample_w = self._sample_width(entry)
                self._paint_sample(painter, entry, QRectF(x, center_y - self.sample_px / 2, sample_w, self.sample_px))
                painter.setFont(self.legend_font)
                painter.setPen(qcolor(theme.text_dim))
                text_x = x + sample_w + _SAMPLE_GAP_PX
                painter.drawText(QRectF(text_x, y, item_width, self._row_height()), _LEFT_VCENTER, entry.text)
                x += item_width + _ITEM_GAP_PX
            y += self._row_height()

    def _paint_sample(self, painter: QPainter, entry: LegendEntry, box: QRectF) -> None:
        theme = self.theme
        center = box.center()
        r = box.height() / 2 - 1.5
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if entry.mark == "ring":
            painter.setBrush(QBrush(qcolor(theme.kind_fill[0])))
            painter.setPen(QPen(qcolor(entry.color), max(2.0, r * 0.3)))
            painter.drawEllipse(center, r * 0.8, r * 0.8)
        elif entry.mark == "shape":
            pen = QPen(qcolor(theme.healthy), 1.6)
            if entry.node_kind == NodeKind.EXTERNAL:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QBrush(qcolor(theme.kind_fill.get(entry.node_kind, theme.kind_fill[0]))))
            size = r * 0.8 if entry.node_kind == NodeKind.TOPIC else r
            ChartPainter._node_shape(painter, entry.node_kind, center.x(), center.y(), size)
        elif entry.mark == "size":
            painter.setPen(QPen(qcolor(theme.healthy), 1.4))
            painter.setBrush(QBrush(qcolor(theme.kind_fill[0])))
            x = box.left()
            bottom = center.y() + self._size_px(max(entry.radii))
            for radius in entry.radii:
                px = self._size_px(radius)
                painter.drawEllipse(QPointF(x + px, bottom - px), px, px)
                x += 2 * px + 4
        elif entry.mark in ("line", "dash"):
            pen = QPen(qcolor(entry.color), entry.width)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            if entry.mark == "dash":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QLineF(box.left(), center.y(), box.right(), center.y()))
        elif entry.mark == "dot":
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(qcolor(entry.color)))
            painter.drawEllipse(center, theme.particle_px, theme.particle_px)
        elif entry.mark == "ramp":
            gradient = QLinearGradient(box.left(), 0, box.right(), 0)
            for k, color in enumerate(entry.colors):
                gradient.setColorAt(k / max(len(entry.colors) - 1, 1), qcolor(color))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(gradient))
            painter.drawRoundedRect(QRectF(box.left(), center.y() - 4, box.width(), 8), 3, 3)
