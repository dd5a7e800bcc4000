"""The transport buttons' icons, drawn as shapes (a desktop's fonts often lack ⏸ and ⏮ glyphs)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap, QPolygonF

ICON_NAMES = ("start", "back", "play", "pause", "forward")


def _triangle(left: float, right: float, top: float, bottom: float) -> QPolygonF:
    """A triangle pointing right (left > right: pointing left), in a 16×16 box."""
    return QPolygonF([QPointF(left, top), QPointF(right, (top + bottom) / 2), QPointF(left, bottom)])


def _shape(name: str) -> QPainterPath:
    path = QPainterPath()
    if name == "play":
        path.addPolygon(_triangle(4, 13, 2.5, 13.5))
    elif name == "pause":
        path.addRect(QRectF(3.5, 3, 3.5, 10))
        path.addRect(QRectF(9, 3, 3.5, 10))
    elif name == "back":  # one step back: bar + left triangle
        path.addRect(QRectF(2.5, 3, 2, 10))
        path.addPolygon(_triangle(13, 5.5, 3, 13))
    elif name == "forward":
        path.addPolygon(_triangle(3, 10.5, 3, 13))
        path.addRect(QRectF(11.5, 3, 2, 10))
    elif name == "start":  # to the start: bar + two left triangles
        path.addRect(QRectF(1.5, 3, 2, 10))
        path.addPolygon(_triangle(9, 3.5, 3, 13))
        path.addPolygon(_triangle(14.5, 9, 3, 13))
    else:
        raise KeyError(name)
    path.setFillRule(Qt.FillRule.WindingFill)
    return path


def transport_icon(name: str, color: QColor, *, size_px: int = 16, ratio: float = 2.0) -> QIcon:
    """An icon of one of `ICON_NAMES`, filled with `color`, sharp at `ratio` (HiDPI)."""
    pixmap = QPixmap(round(size_px * ratio), round(size_px * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size_px / 16, size_px / 16)
    painter.fillPath(_shape(name), color)
    painter.end()
    return QIcon(pixmap)
