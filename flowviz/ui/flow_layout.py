"""A layout that places its items left to right and wraps them onto further rows when the width runs out."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items in reading order, wrapped like words; `heightForWidth` tells the parent how tall that makes it.
    An item added with `stretch=True` (the time label) takes what is left of its row."""

    def __init__(self, parent: QWidget | None = None, *, spacing_px: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch: set[int] = set()
        self._spacing_px = spacing_px

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def add_stretching_widget(self, widget: QWidget) -> None:
        self.addWidget(widget)
        self._stretch.add(id(self._items[-1]))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self._stretch.discard(id(item))
        return item

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = sum(item.sizeHint().width() + self._spacing_px for item in self._items)
        height = max((item.sizeHint().height() for item in self._items), default=0)
        return QSize(width, height) + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:
        """As narrow as the widest single item: everything else wraps."""
        margins: QMargins = self.contentsMargins()
        width = max((item.minimumSize().width() for item in self._items), default=0)
        height = max((item.minimumSize().height() for item in self._items), default=0)
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            width = item.sizeHint().width()
            if rows[-1] and x + width > area.width():
                rows.append([])
                x = 0
            rows[-1].append(item)
            x += width + self._spacing_px
        y = area.y()
        for row in rows:
            height = max((item.sizeHint().height() for item in row), default=0)
            if apply:
                used = sum(item.sizeHint().width() for item in row) + self._spacing_px * (len(row) - 1)
                spare = max(area.width() - used, 0)
                x = area.x()
                for item in row:
                    width = item.sizeHint().width() + (spare if id(item) in self._stretch else 0)
                    item.setGeometry(
                        QRect(
                            QPoint(x, y + (height - item.sizeHint().height()) // 2),
                            QSize(width, item.sizeHint().height()),
                        )
                    )
                    x += width + self._spacing_px
            y += height + self._spacing_px
        return y - self._spacing_px - rect.y() + margins.bottom()
