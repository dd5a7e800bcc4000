"""The `?` overlay listing the keys; any key or click closes it."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

KEYS = (
    ("Space", "play / pause"),
    ("← / →", "one step back / forward"),
    ("Shift + ← / →", "ten steps"),
    ("Home / End", "start / back to live"),
    ("+ / -", "faster / slower"),
    ("[ / ]", "shorter / longer window"),
    ("L", "loop the window (Shift+drag on the timeline: loop a range)"),
    ("B", "bookmark this moment"),
    ("F, double-click", "fit the chart"),
    ("Wheel, drag", "zoom at the cursor, pan"),
    ("Click, drag a node", "select (neighbours highlighted), pin it"),
    ("Ctrl+F", "find a service"),
    ("R", "re-layout"),
    ("F11", "full screen"),
    ("?", "this help"),
)


class HelpOverlay(QWidget):
    """A translucent panel over its parent; hidden until `show()`."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hide()

    def show(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        super().show()
        self.raise_()
        self.setFocus()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 190))
        font = QFont()
        font.setPixelSize(max(14, self.height() // 40))
        painter.setFont(font)
        line = font.pixelSize() * 1.7
        top = (self.height() - line * (len(KEYS) + 2)) / 2
        left = self.width() / 2 - font.pixelSize() * 14
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(QRectF(left, top, 900, line), "Keys", Qt.AlignmentFlag.AlignLeft)
        for index, (keys, meaning) in enumerate(KEYS, start=2):
            y = top + index * line
            painter.setPen(QColor(255, 220, 120))
            painter.drawText(QRectF(left, y, 400, line), keys)
            painter.setPen(QColor(235, 235, 235))
            painter.drawText(QRectF(left + font.pixelSize() * 11, y, 900, line), meaning)
        painter.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
