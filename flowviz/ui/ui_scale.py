"""Type size of a window's widgets by theme: panels, tables, toolbars, transport bar, timeline and tooltips."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QMainWindow, QToolTip

from flowviz.chart.themes import Theme

TIMELINE_SHARE = 0.16  # of the window's height, at most, for the timeline strip
_BASE_POINT_SIZE: list[float] = []  # the application's own font size, remembered before any scaling


def base_point_size() -> float:
    """The application's font size before any theme scaled it."""
    if not _BASE_POINT_SIZE:
        size = QApplication.font().pointSizeF()
        _BASE_POINT_SIZE.append(size if size > 0 else 9.0)
    return _BASE_POINT_SIZE[0]


def apply_ui_scale(window: QMainWindow, theme: Theme) -> None:
    """Set the window's font (inherited by its panels, tables, toolbars and transport bar), the tooltips'
    font and the timeline's tick labels to the theme's scale; keep the timeline a slim strip."""
    font = QFont(window.font())
    font.setPointSizeF(base_point_size() * theme.ui_scale)
    window.setFont(font)
    QToolTip.setFont(font)
    strip = getattr(window, "strip", None)
    if strip is not None:
        for axis in ("left", "bottom"):
            strip.plot.getAxis(axis).setStyle(tickFont=font)
        strip.plot.getAxis("left").setWidth(int(48 * theme.ui_scale))
        fit_timeline(window, theme)


def fit_timeline(window: QMainWindow, theme: Theme) -> None:
    """The timeline's height: room for its tick labels, never more than a slim share of the window."""
    strip = getattr(window, "strip", None)
    if strip is None:
        return
    tallest = int(150 * theme.ui_scale)
    share = int(TIMELINE_SHARE * max(window.height(), 1))
    strip.plot.setMinimumHeight(min(int(70 * theme.ui_scale), max(share, 60)))
    strip.plot.setMaximumHeight(max(60, min(tallest, share)))
