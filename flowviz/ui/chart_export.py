"""The flow chart as a picture to keep: PNG or SVG (vector, text as text), with a title, time range and legend."""

from __future__ import annotations

import os

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter

from flowviz.chart.caption import Caption, LegendEntry, legend_entries, window_caption
from flowviz.chart.viewport import Viewport
from flowviz.ui.chart_legend import CaptionPainter
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.flow_view import FlowChartView

PICTURE_SUFFIXES = (".png", ".svg")


def source_title(window) -> str:
    """What a window shows, for titles and file names (its `source_title`, else its title less the app's name)."""
    return getattr(window, "source_title", None) or window.windowTitle().removeprefix("flowviz — ")


def view_caption(view: FlowChartView, source: str, *, baseline: tuple[int, int] | None = None) -> Caption | None:
    """The caption of what `view` shows now: `source` and the model's window (None before there is one)."""
    window = view.model.time.window_ns()
    if window is None:
        return None
    return window_caption(source, *window, baseline=baseline)


def view_legend(view: FlowChartView) -> list[LegendEntry]:
    """The legend for the view's theme and health thresholds (and its comparison palette when comparing)."""
    entries = legend_entries(view.model.theme, view.model.thresholds)
    extra = getattr(view.overlay, "legend_entries", None)
    return [*entries, *extra()] if callable(extra) else entries


def picture_margins(view: FlowChartView, caption: Caption | None, legend: list[LegendEntry], width: int) -> tuple:
    """(header, legend) heights in pixels that a picture `width` wide adds around the chart."""
    captions = CaptionPainter(view.model.theme)
    header = captions.header_height(caption) if caption is not None else 0.0
    return header, captions.legend_height(legend, width)


def paint_picture(
    painter: QPainter, view: FlowChartView, caption: Caption | None, legend: list[LegendEntry]
) -> tuple[int, int]:
    """Paint header, chart (as the view shows it, particles included) and legend with `painter`; returns the
    picture's size. Everything is drawn as shapes and text, so a vector device keeps it vector."""
    width, chart_height = view.width(), view.height()
    theme = view.model.theme
    captions = CaptionPainter(theme)
    header, legend_h = picture_margins(view, caption, legend, width)
    painter.fillRect(QRectF(0, 0, width, header + chart_height + legend_h), qcolor(theme.background))
    if caption is not None:
        captions.paint_header(painter, caption, width)
    painter.save()
    painter.translate(0, header)
    painter.setClipRect(QRectF(0, 0, width, chart_height))
    viewport = view.viewport
    viewport = Viewport(width, chart_height, viewport.scale, viewport.offset_x, viewport.offset_y)
    chart = view.model.chart
    if chart is not None:
        view.painter.paint_skeleton(painter, chart, viewport, view.emphasis)
        view.painter.paint_static(painter, chart, viewport, view.emphasis)
        if view.overlay is not None:
            view.overlay.paint(painter, viewport)
        particles = view.model.particles
        if len(particles):
            xy = viewport.to_screen(particles.positions(chart.edge_curve))
            size_px = theme.particle_px * min(max(viewport.scale, 0.8), 1.6)
            view.painter.paint_particles(painter, xy, particles.failed, size_px=size_px)
        view.painter.paint_labels(painter, chart, viewport, view.emphasis)
    painter.restore()
    if legend:
        captions.paint_legend(painter, legend, header + chart_height, width)
    return width, round(header + chart_height + legend_h)


def picture_image(view: FlowChartView, caption: Caption | None, legend: list[LegendEntry]) -> QImage:
    """The picture as an image (for PNG files and the clipboard)."""
    header, legend_h = picture_margins(view, caption, legend, view.width())
    image = QImage(view.width(), round(header + view.height() + legend_h), QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    paint_picture(painter, view, caption, legend)
    painter.end()
    return image


def write_svg(view: FlowChartView, path: str, caption: Caption | None, legend: list[LegendEntry]) -> None:
    from PySide6.QtSvg import QSvgGenerator

    header, legend_h = picture_margins(view, caption, legend, view.width())
    size = QSize(view.width(), round(header + view.height() + legend_h))
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(size)
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setResolution(96)
    generator.setTitle(caption.title if caption is not None else "flowviz")
    generator.setDescription(caption.subtitle if caption is not None else "flow chart")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"could not write {path}")
    paint_picture(painter, view, caption, legend)
    painter.end()
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise OSError(f"could not write {path}")


def write_picture(view: FlowChartView, path: str, caption: Caption | None, legend: list[LegendEntry]) -> None:
    """Write the picture to `path`: SVG when it ends in .svg, else a raster image (PNG) by Qt's writers."""
    if path.lower().endswith(".svg"):
        write_svg(view, path, caption, legend)
        return
    if not picture_image(view, caption, legend).save(path):
        extension = os.path.splitext(path)[1]
        raise OSError(f"could not write {path} (is {extension or 'its format'} an image format Qt writes?)")
