"""QPainter drawing of a ChartFrame: the static layer (edges, nodes, labels) and the moving particles."""

from __future__ import annotations

import numpy as np
import pyqtgraph.functions as pgfn
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from flowviz.chart.chart_frame import ChartFrame, Health
from flowviz.chart.emphasis import Emphasis
from flowviz.chart.labels import (
    GROUP_ASPECT,
    PAD_Y_PX,
    LabelFonts,
    PlacedLabel,
    node_half_extents,
    node_note,
    place_edge_labels,
    place_labels,
    with_note,
)
from flowviz.chart.themes import Theme
from flowviz.chart.viewport import Viewport
from flowviz.model.graph_kinds import NodeKind
from flowviz.model.time_spec import format_latency_ms

_CENTERED = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextDontClip)
_WIDE_EDGE_PX = 2.0  # thinner edges are drawn as cosmetic 1 px lines
_MAX_WIDE_EDGES = 300
EDGE_LABELS_FROM_SCALE = 0.9  # zoomed in at least this far ...
EDGE_LABELS_UP_TO = 80  # ... on at most this many edges, every edge is labelled (else the emphasised ones)
_SMOOTH_HEADS_UP_TO = 1_000  # edges on screen up to which arrowheads get an antialiased outline
_ROUND_PARTICLES_UP_TO = 8_000  # round dots cost ~7x square ones; beyond this many, squares
MIN_NODE_PX = 4.0  # nodes are drawn at least this big, however far zoomed out


def qcolor(rgba: tuple[int, int, int, int], alpha: int | None = None) -> QColor:
    return QColor(rgba[0], rgba[1], rgba[2], rgba[3] if alpha is None else alpha)


def is_group(chart: ChartFrame) -> np.ndarray:
    """Per node, whether it stands for a group of nodes."""
    if len(chart.node_members) != chart.node_count:
        return np.zeros(chart.node_count, bool)
    return np.fromiter((bool(m) for m in chart.node_members), bool, chart.node_count)


def health_colors(theme: Theme) -> list[tuple[int, int, int, int]]:
    return [theme.idle, theme.healthy, theme.degraded, theme.failing]


def _polyline_path(points: np.ndarray) -> QPainterPath:
    """One path of many polylines (K×S×2), one call into Qt."""
    count, samples = points.shape[:2]
    connect = np.ones(count * samples, dtype=np.int32)
    connect[samples - 1 :: samples] = 0
    return pgfn.arrayToQPath(points[..., 0].ravel(), points[..., 1].ravel(), connect=connect, finiteCheck=False)


def _arrow_tips(curves: np.ndarray, target_xy: np.ndarray, target_radius: np.ndarray) -> np.ndarray:
    """Where each curve (K×S×2) enters its target's circle: the tip of its arrowhead (K×2)."""
    distance = np.linalg.norm(curves - target_xy[:, None, :], axis=2)
    outside = distance >= target_radius[:, None]
    last_out = np.where(outside.any(axis=1), curves.shape[1] - 1 - np.argmax(outside[:, ::-1], axis=1), 0)
    inner = np.minimum(last_out + 1, curves.shape[1] - 1)
    rows = np.arange(curves.shape[0])
    d_out, d_in = distance[rows, last_out], distance[rows, inner]
    fraction = np.clip((d_out - target_radius) / np.maximum(d_out - d_in, 1e-9), 0.0, 1.0)[:, None]
    return curves[rows, last_out] * (1 - fraction) + curves[rows, inner] * fraction


def _arrowheads(curves: np.ndarray, tips: np.ndarray, size_px: np.ndarray) -> np.ndarray:
    """K×4×2 closed triangles pointing at `tips`, along the curves' direction there."""
    tip = tips
    back = curves[:, max(curves.shape[1] - 4, 0)]
    direction = tip - back
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    base = tip - direction * size_px[:, None]
    left = base + normal * size_px[:, None] * 0.55
    right = base - normal * size_px[:, None] * 0.55
    return np.stack([tip, left, right, tip], axis=1)


class ChartPainter:
    """Draws chart frames with one theme; the caller caches the static layer and adds particles per frame."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self.labels: list[PlacedLabel] = []  # as placed by the last label paint
        self.label_font_px = (0.0, 0.0)  # name and figures font sizes of the last label paint
        # every edge's curve in screen pixels and whether it reaches the screen, for one geometry and view
        self._screen_curves: tuple[np.ndarray, tuple, np.ndarray, np.ndarray] | None = None

    # -- static layer -----------------------------------------------------------------------

    def paint_skeleton(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, emphasis: Emphasis) -> None:
        """What only positions decide (cached while scrubbing): background and every edge as a thin line."""
        theme = self.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(QRectF(0, 0, viewport.width, viewport.height), qcolor(theme.background))
        visible, curves = self._edges_on_screen(chart, viewport)
        if visible.size == 0:
            return
        dimmed = emphasis.is_dimmed(chart.node_count)
        edge_dimmed = dimmed[chart.edge_source[visible]] | dimmed[chart.edge_target[visible]]
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for is_dimmed in (False, True):
            rows = np.flatnonzero(edge_dimmed == is_dimmed)
            if rows.size:
                painter.setPen(QPen(qcolor(theme.edge, theme.dim_alpha if is_dimmed else 150), 0))  # cosmetic 1 px
                painter.drawPath(_polyline_path(curves[rows]))

    def paint_static(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, emphasis: Emphasis) -> None:
        """What the window's data decides, over the skeleton: coloured and wide edges, arrowheads, nodes."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if chart.node_count == 0:
            return
        dimmed_nodes = emphasis.is_dimmed(chart.node_count)
        self._paint_edges(painter, chart, viewport, dimmed_nodes)
        self._paint_emphasised_edges(painter, chart, viewport, emphasis)
        self._paint_nodes(painter, chart, viewport, dimmed_nodes, emphasis)

    def paint_labels(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, emphasis: Emphasis) -> None:
        """The layer over the particles: node names and figures (on a transparent surface)."""
        if chart.node_count:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self._paint_labels(painter, chart, viewport, emphasis.is_dimmed(chart.node_count), emphasis)
            self._paint_edge_labels(painter, chart, viewport, emphasis)
            self._paint_badges(painter, chart, viewport, emphasis.badges)

    def _paint_edge_labels(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, emphasis: Emphasis) -> None:
        """Level of detail, as Kiali labels edges: zoomed in on few edges, each edge's rate, failures and p95 at
        its middle; otherwise only the emphasised edges'. Never over a node, a node's label or another."""
        visible, curves = self._edges_on_screen(chart, viewport)
        if visible.size == 0:
            return
        emphasised = set(emphasis.emphasised_edges())
        detailed = viewport.scale >= EDGE_LABELS_FROM_SCALE and visible.size <= EDGE_LABELS_UP_TO
        chosen = [i for i, e in enumerate(visible.tolist()) if detailed or e in emphasised]
        if not chosen:
            return
        chosen.sort(  # emphasised, then failing and degraded, then busy edges first
            key=lambda i: (
                int(visible[i]) not in emphasised,
                -int(chart.edge_health[visible[i]]),
                -float(chart.edge_rate_per_s[visible[i]]),
            )
        )
        _, figure_font = self.label_fonts(viewport)
        metrics = QFontMetricsF(figure_font)
        texts = [edge_figure_line(chart, int(visible[i])) for i in chosen]
        centres, half = self.node_boxes(chart, viewport)
        shown = np.flatnonzero(chart.node_visible)
        taken = [
            (
                float(centres[n, 0] - half[n, 0]),
                float(centres[n, 1] - half[n, 1]),
                float(2 * half[n, 0]),
                float(2 * half[n, 1]),
            )
            for n in shown.tolist()
        ] + [label.rect for label in self.labels]
        samples = curves.shape[1]
        along = [samples // 2, samples * 2 // 5, samples * 3 // 5, samples * 3 // 10, samples * 7 // 10]
        anchors = curves[chosen][:, along]  # the middle first, then further along either way
        placed = place_edge_labels(
            anchors,
            texts,
            measure=metrics.horizontalAdvance,
            line_px=float(figure_font.pixelSize()) * 1.25,
            taken=taken,
            width=viewport.width,
            height=viewport.height,
        )
        painter.setFont(figure_font)
        colors = health_colors(self.theme)
        for index, rect in placed:
            edge = int(visible[chosen[index]])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(qcolor(self.theme.label_background)))
            painter.drawRoundedRect(QRectF(*rect), 3, 3)
            health = int(chart.edge_health[edge])
            painter.setPen(qcolor(self.theme.text_dim if health <= Health.HEALTHY else colors[health]))
            painter.drawText(QRectF(*rect), _CENTERED, texts[index])

    def _paint_badges(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, badges) -> None:
        """Numbered discs at the nodes' upper right (a root cause's blast radius in onset order)."""
        if not badges:
            return
        screen_xy, half = self.node_boxes(chart, viewport)
        name_font, _ = self.label_fonts(viewport)
        font = QFont(name_font)
        font.setBold(True)
        painter.setFont(font)
        size = max(QFontMetricsF(font).height() * 1.15, 16.0)
        for node, text in badges:
            if node >= chart.node_count or not chart.node_visible[node]:
                continue
            x = float(screen_xy[node, 0] + half[node, 0] * 0.75)
            y = float(screen_xy[node, 1] - half[node, 1] * 0.75)
            disc = QRectF(x - size / 2, y - size / 2, size, size)
            painter.setPen(QPen(qcolor(self.theme.background), 2))
            painter.setBrush(QBrush(qcolor(self.theme.selection)))
            painter.drawEllipse(disc)
            painter.setPen(qcolor(self.theme.background))
            painter.drawText(disc, _CENTERED, text)

    def _edges_on_screen(self, chart: ChartFrame, viewport: Viewport) -> tuple[np.ndarray, np.ndarray]:
        """(visible edges that reach the screen, their curves in screen pixels). The screen curves are
        kept while the geometry and the view stay: a scrub changes only which edges are visible."""
        view = (viewport.scale, viewport.offset_x, viewport.offset_y, viewport.width, viewport.height)
        cached = self._screen_curves
        if cached is None or cached[0] is not chart.edge_curve or cached[1] != view:
            curves = viewport.to_screen(chart.edge_curve)
            on_screen = np.zeros(curves.shape[0], bool)
            if curves.shape[0]:
                low, high = curves.min(axis=1), curves.max(axis=1)
                on_screen = (
                    (high[:, 0] >= 0)
                    & (low[:, 0] <= viewport.width)
                    & (high[:, 1] >= 0)
                    & (low[:, 1] <= viewport.height)
                )
            cached = self._screen_curves = (chart.edge_curve, view, curves, on_screen)
        curves, on_screen = cached[2], cached[3]
        shown = np.flatnonzero(chart.edge_visible & on_screen)
        return shown, curves[shown]

    def _paint_edges(self, painter: QPainter, chart: ChartFrame, viewport: Viewport, dimmed_nodes: np.ndarray) -> None:
        """Over the skeleton: degraded and failing edges in their colour, the busiest wide edges at their
        width (stroked one by one: one huge wide path is quadratic in Qt), and every arrowhead."""
        theme = self.theme
        visible, curves = self._edges_on_screen(chart, viewport)
        if visible.size == 0:
            return
        width_px = chart.edge_width[visible] * viewport.scale
        wide = width_px >= _WIDE_EDGE_PX
        if wide.sum() > _MAX_WIDE_EDGES:  # level of detail: only the busiest keep their width
            wide[np.argsort(-width_px)[_MAX_WIDE_EDGES:]] = False
        health = chart.edge_health[visible]
        dimmed = dimmed_nodes[chart.edge_source[visible]] | dimmed_nodes[chart.edge_target[visible]]
        colors = health_colors(theme)
        screen_xy = viewport.to_screen(chart.node_xy)
        targets = chart.edge_target[visible]
        tips = _arrow_tips(curves, screen_xy[targets], chart.node_radius[targets] * viewport.scale + 1.0)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        style = health.astype(np.int64) * 2 + dimmed
        for key in np.unique(style).tolist():
            edge_health, is_dimmed = divmod(key, 2)
            base = theme.edge if edge_health in (Health.IDLE, Health.HEALTHY) else colors[edge_health]
            alpha = theme.dim_alpha if is_dimmed else (110 if edge_health == Health.IDLE else 200)
            group = style == key
            coloured_thin = np.flatnonzero(group & ~wide) if edge_health >= Health.DEGRADED else np.zeros(0, int)
            if coloured_thin.size:
                painter.setPen(QPen(qcolor(base, alpha), 0))
                painter.drawPath(_polyline_path(curves[coloured_thin]))
            for row in np.flatnonzero(group & wide).tolist():
                pen = QPen(qcolor(base, alpha), float(min(width_px[row], 24.0)))
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                painter.setPen(pen)
                painter.drawPath(_polyline_path(curves[row : row + 1]))
            rows = np.flatnonzero(group)
            size_px = np.maximum(7.0, width_px[rows] * 2.2).clip(max=26.0)
            heads = _polyline_path(_arrowheads(curves[rows], tips[rows], size_px))
            head_color = qcolor(base, min(255, alpha + 40))
            # filling many triangles antialiased is ~15x slower in Qt than aliased; a smooth 1 px
            # outline on top hides the jagged edge
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(head_color))
            painter.drawPath(heads)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if visible.size <= _SMOOTH_HEADS_UP_TO:  # in a dense chart the jagged edge is invisible
                painter.setPen(QPen(head_color, 0))
                painter.drawPath(heads)

    def _paint_emphasised_edges(self, painter, chart: ChartFrame, viewport: Viewport, emphasis: Emphasis) -> None:
        """A selected edge and a trace's calls: a wide halo in the selection colour under a bright line."""
        edges = np.array([e for e in emphasis.emphasised_edges() if e < chart.edge_count], np.int64)
        if not edges.size:
            return
        curves = viewport.to_screen(chart.edge_curve[edges])
        path = _polyline_path(curves)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        halo = QPen(qcolor(self.theme.selection, 70), max(5.0, 6.0 * self.theme.node_scale))
        halo.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(halo)
        painter.drawPath(path)
        painter.setPen(QPen(qcolor(self.theme.selection), 2.0))
        painter.drawPath(path)

    def _paint_nodes(self, painter, chart: ChartFrame, viewport: Viewport, dimmed: np.ndarray, emphasis: Emphasis):
        theme = self.theme
        visible = np.flatnonzero(chart.node_visible)
        screen = viewport.to_screen(chart.node_xy)
        radius_px = np.maximum(chart.node_radius * viewport.scale, MIN_NODE_PX)
        colors = health_colors(theme)
        ring_px = self.ring_px(viewport)
        groups = is_group(chart)
        dead_letter = chart.node_dead_letter
        for index in visible.tolist():
            x, y = screen[index]
            r = float(radius_px[index])
            reach = r * (2.0 if groups[index] else 1.3)
            if x + reach < 0 or y + reach < 0 or x - reach > viewport.width or y - reach > viewport.height:
                continue
            alpha = theme.dim_alpha if dimmed[index] else 255
            kind = int(chart.node_kind[index])
            fill = qcolor(theme.kind_fill.get(kind, theme.kind_fill[0]), alpha)
            health = int(chart.node_health[index])
            ring = qcolor(colors[health], alpha)
            if index == emphasis.selected:
                painter.setPen(QPen(qcolor(theme.selection), ring_px * 2.2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(QPointF(x, y), r + ring_px * 2.5, r + ring_px * 2.5)
            # failing nodes carry a thicker ring: told apart from degraded by shape as well as colour
            width = ring_px * (1.6 if index == emphasis.hovered else 1.0) * (1.8 if health == Health.FAILING else 1.0)
            pen = QPen(ring, width)
            if kind == NodeKind.EXTERNAL:
                pen.setStyle(Qt.PenStyle.DashLine)
            if index < dead_letter.size and dead_letter[index]:  # a dead-letter/retry topic: failures collect here
                pen.setStyle(Qt.PenStyle.DashDotLine)
                fill = qcolor(theme.failing, min(alpha, 90))
            painter.setPen(pen)
            painter.setBrush(QBrush(fill))
            if groups[index]:
                half_w = r * GROUP_ASPECT
                painter.drawRoundedRect(QRectF(x - half_w, y - r, 2 * half_w, 2 * r), r * 0.3, r * 0.3)
                painter.setPen(QPen(qcolor(theme.text_dim, alpha), 0))
                inset = r * 0.22  # a second outline inside: a box of boxes
                inner = QRectF(x - half_w + inset, y - r + inset, 2 * (half_w - inset), 2 * (r - inset))
                painter.drawRoundedRect(inner, r * 0.2, r * 0.2)
            else:
                self._node_shape(painter, kind, x, y, r)

    @staticmethod
    def _node_shape(painter: QPainter, kind: int, x: float, y: float, r: float) -> None:
        if kind == NodeKind.DATABASE:
            painter.drawRoundedRect(QRectF(x - r, y - r * 0.85, 2 * r, 1.7 * r), r * 0.35, r * 0.35)
            painter.drawArc(QRectF(x - r, y - r * 0.85, 2 * r, r * 0.6), 180 * 16, 180 * 16)
        elif kind == NodeKind.TOPIC:
            painter.drawRoundedRect(QRectF(x - r * 1.25, y - r * 0.7, 2.5 * r, 1.4 * r), r * 0.7, r * 0.7)
        elif kind == NodeKind.USER:
            painter.drawEllipse(QPointF(x, y), r, r)
            painter.drawEllipse(QPointF(x, y - r * 0.25), r * 0.32, r * 0.32)
        else:
            painter.drawEllipse(QPointF(x, y), r, r)

    def label_fonts(self, viewport: Viewport) -> tuple[QFont, QFont]:
        """The name and figures fonts at this zoom: the theme's sizes, scaled with the view within
        limits, never below the theme's minimum pixel sizes."""
        theme = self.theme
        scale_pt = float(np.clip(viewport.scale, 0.6, 1.6))
        name_font, figure_font = QFont(theme.font_family), QFont(theme.font_family)
        name_font.setPixelSize(round(max(theme.label_min_px, theme.label_pt * 1.33 * scale_pt)))
        name_font.setBold(True)
        figure_font.setPixelSize(round(max(theme.figure_min_px, theme.figure_pt * 1.33 * scale_pt)))
        return name_font, figure_font

    def node_boxes(self, chart: ChartFrame, viewport: Viewport) -> tuple[np.ndarray, np.ndarray]:
        """(N×2 screen centres, N×2 half extents in pixels) of the nodes as drawn, outline included."""
        radius_px = np.maximum(chart.node_radius * viewport.scale, MIN_NODE_PX)
        half = node_half_extents(chart.node_kind, radius_px, is_group(chart))
        return viewport.to_screen(chart.node_xy), half + self.ring_px(viewport) * 1.5

    def ring_px(self, viewport: Viewport) -> float:
        return max(1.5, 3.0 * viewport.scale * self.theme.node_scale)

    def _paint_labels(self, painter, chart: ChartFrame, viewport: Viewport, dimmed: np.ndarray, emphasis: Emphasis):
        theme = self.theme
        visible_nodes = int(chart.node_visible.sum())
        show_figures = viewport.scale >= 0.75 or (viewport.scale >= 0.3 and visible_nodes <= 80)
        failing = (chart.node_health == Health.FAILING) & chart.node_visible & ~dimmed
        root_cause = chart.node_root_cause if chart.node_root_cause.shape == failing.shape else failing & False
        # what the user points at, failing nodes and root causes are placed first, with their figures
        pointed = (emphasis.selected, emphasis.hovered)
        important = frozenset(
            [*(i for i in pointed if i is not None), *emphasis.path_nodes, *np.flatnonzero(failing | root_cause)]
        )
        important = frozenset(int(i) for i in important if i < chart.node_count and chart.node_visible[i])
        lines: list[tuple[str, ...]] = []
        for index, name in enumerate(chart.node_names):
            if not chart.node_visible[index] or (dimmed[index] and index not in important):
                lines.append(())
            else:
                lines.append((name, figure_line(chart, index)))
        name_font, figure_font = self.label_fonts(viewport)
        name_metrics, figure_metrics = QFontMetricsF(name_font), QFontMetricsF(figure_font)
        fonts = LabelFonts(
            float(name_font.pixelSize()),
            float(figure_font.pixelSize()),
            name_metrics.horizontalAdvance,
            figure_metrics.horizontalAdvance,
        )
        # then busy nodes; degraded ones before healthy ones of the same rate
        priority = chart.node_rate_per_s + 1e6 * (chart.node_health >= Health.DEGRADED)
        screen_xy, half = self.node_boxes(chart, viewport)
        half = np.where(chart.node_visible[:, None], half, 0.0)
        self.labels = place_labels(
            screen_xy,
            half,
            lines,
            priority,
            fonts=fonts,
            width=viewport.width,
            height=viewport.height,
            important=important,
            figures=show_figures,
        )
        self.label_font_px = (fonts.name_px, fonts.figure_px)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(qcolor(theme.text, 170), 1.2 * theme.node_scale))  # leaders: plain to see
        for label in self.labels:
            if label.leader is not None:
                x0, y0, x1, y1 = label.leader
                painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(qcolor(theme.label_background)))
        for label in self.labels:
            painter.drawRoundedRect(QRectF(*label.rect), 4, 4)
        name_line, figure_line_px = fonts.name_line_px, fonts.figure_line_px
        for label in self.labels:
            painter.setFont(name_font)
            painter.setPen(qcolor(theme.text))
            top = label.y + PAD_Y_PX
            painter.drawText(QRectF(label.x, top, label.width, name_line), _CENTERED, label.lines[0])
            if len(label.lines) > 1:
                health = int(chart.node_health[label.node])
                color = theme.text_dim if health <= Health.HEALTHY else health_colors(theme)[health]
                painter.setFont(figure_font)
                painter.setPen(qcolor(color))
                painter.drawText(
                    QRectF(label.x, top + name_line, label.width, figure_line_px), _CENTERED, label.lines[1]
                )

    # -- particles ----------------------------------------------------------------------------

    def paint_particles(self, painter: QPainter, screen_xy: np.ndarray, failed: np.ndarray, *, size_px: float) -> None:
        """All particles in two draw calls (normal, failed), coordinates written straight into Qt memory."""
        theme = self.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for mask, color in ((~failed, theme.particle), (failed, theme.failed_particle)):
            points = screen_xy[mask]
            if points.shape[0] == 0:
                continue
            polygon = pgfn.create_qpolygonf(points.shape[0])
            pgfn.ndarray_from_qpolygonf(polygon)[:] = points
            pen = QPen(qcolor(color), size_px * (1.4 if color is theme.failed_particle else 1.0))
            round_dots = screen_xy.shape[0] <= _ROUND_PARTICLES_UP_TO
            pen.setCapStyle(Qt.PenCapStyle.RoundCap if round_dots else Qt.PenCapStyle.SquareCap)
            painter.setPen(pen)
            painter.drawPoints(polygon)


def edge_figure_line(chart: ChartFrame, edge: int) -> str:
    """`12.3/s · 0.5% err · p95 43 ms` for one edge."""
    rate = chart.edge_rate_per_s[edge]
    parts = [f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s"]
    if chart.edge_error_ratio[edge] > 0:
        parts.append(f"{chart.edge_error_ratio[edge] * 100:.1f}% err")
    p95 = chart.edge_p95_ms[edge]
    if not np.isnan(p95):
        parts.append(f"p95 {format_latency_ms(float(p95), compact=True)}")
    return " · ".join(parts)


def figure_line(chart: ChartFrame, index: int) -> str:
    """`12.3/s · 0.5% err · p95 43 ms` for one node, with its note from a live source (`· lag 1 234`)."""
    rate = chart.node_rate_per_s[index]
    p95 = chart.node_p95_ms[index]
    parts = [f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s"]
    error = chart.node_error_ratio[index]
    if error > 0:
        parts.append(f"{error * 100:.1f}% err")
    if not np.isnan(p95):
        parts.append(f"p95 {format_latency_ms(float(p95), compact=True)}")  # µs below a millisecond
    return with_note(" · ".join(parts), node_note(chart, index))
