"""The Problems panel: what could not be read or paired, by reason, with counts and where each happened first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowviz.chart.themes import Theme
from flowviz.ui.chart_painter import qcolor

REFRESH_INTERVAL_S = 0.5  # the window's frame clock refreshes the panel and its count this often
DOCK_HEIGHT_PX = 190
COLUMNS = ("count", "kind", "problem")
EMPTY_TEXT = "No problems: everything read so far was understood and paired."


def split_reason(reason: str) -> tuple[str, str]:
    """(`kind`, the rest) of a reason like `otlp-json: malformed span`; kind "" when it names none."""
    kind, separator, rest = reason.partition(": ")
    return (kind, rest) if separator and " " not in kind else ("", reason)


def problems_total(problems: dict[str, dict[str, Any]]) -> int:
    return sum(int(entry.get("count", 0)) for entry in problems.values())


class ProblemsPanel(QWidget):
    """Lists `status_of().problems` (a `Problems.as_dict()`: reason -> {count, first}) and the source's error.

    `refresh()` is cheap: it does nothing while the feed hands over the same problems, and rebuilds
    the list only when a count or a reason changed (expanded reasons stay expanded).
    """

    def __init__(self, status_of: Callable[[], Any], *, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the theme's background in the margins too
        self._status_of = status_of
        self._seen: tuple[int, str] | None = None  # (id of the problems dict, error) last looked at
        self._shown: tuple = ()
        self.problems: dict[str, dict[str, Any]] = {}
        self.error = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        header = QHBoxLayout()
        self.summary = QLabel(EMPTY_TEXT, self)
        self.summary.setWordWrap(True)
        header.addWidget(self.summary, 1)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy every reason, count and location as text")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        header.addWidget(self.copy_button)
        layout.addLayout(header)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels([c.capitalize() for c in COLUMNS])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header_view = self.tree.header()
        header_view.setStretchLastSection(True)
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.tree, 1)
        self.tree.hide()
        self._theme_name = ""
        self.apply_theme(theme)

    @property
    def total(self) -> int:
        return problems_total(self.problems)

    def refresh(self) -> bool:
        """Look at the feed's status; True when what is shown changed."""
        status = self._status_of()
        problems = getattr(status, "problems", None) or {}
        error = str(getattr(status, "error", "") or "")
        seen = (id(problems), error)
        if seen == self._seen:
            return False
        self._seen = seen
        return self.set_problems(problems, error=error)

    def set_problems(self, problems: dict[str, dict[str, Any]], *, error: str = "") -> bool:
        """Show `problems` (reason -> {count, first}) and a source error; True when something changed."""
        shown = (tuple((r, int(e.get("count", 0)), len(e.get("first") or ())) for r, e in problems.items()), error)
        if shown == self._shown:
            return False
        self._shown = shown
        self.problems, self.error = dict(problems), error
        expanded = {
            self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
            for i in range(self.tree.topLevelItemCount())
            if self.tree.topLevelItem(i).isExpanded()
        }
        self.tree.clear()
        if error:
            item = QTreeWidgetItem(["", "source", error])
            item.setForeground(2, qcolor(self._theme.failing))
            item.setToolTip(2, error)
            self.tree.addTopLevelItem(item)
        ordered = sorted(problems.items(), key=lambda pair: (-int(pair[1].get("count", 0)), pair[0]))
        for reason, entry in ordered:
            kind, rest = split_reason(reason)
            item = QTreeWidgetItem([f"{int(entry.get('count', 0)):,}", kind, rest])
            item.setData(0, Qt.ItemDataRole.UserRole, reason)
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(2, reason)
            item.setForeground(1, qcolor(self._theme.text_dim))
            locations = [str(where) for where in entry.get("first") or ()]
            for where in locations:
                child = QTreeWidgetItem(["", "at", where])
                child.setForeground(1, qcolor(self._theme.text_dim))
                child.setToolTip(2, where)
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(reason in expanded or (len(ordered) <= 3 and bool(locations)))
        total = self.total
        if problems or error:
            reasons = len(problems)
            self.summary.setText(
                f"{total:,} problem{'s' if total != 1 else ''} of {reasons} kind{'s' if reasons != 1 else ''} — "
                "skipped or unpaired, never fatal; the first places each happened are listed under it."
            )
        else:
            self.summary.setText(EMPTY_TEXT)
        self.tree.setVisible(bool(problems or error))
        self.copy_button.setEnabled(bool(problems or error))
        return True

    def as_text(self) -> str:
        lines = [f"source error: {self.error}"] if self.error else []
        for reason, entry in self.problems.items():
            lines.append(f"{int(entry.get('count', 0)):,} × {reason}")
            lines += [f"    at {where}" for where in entry.get("first") or ()]
        return "\n".join(lines)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())

    def apply_theme(self, theme: Theme) -> None:
        if theme.name == self._theme_name:
            return
        self._theme, self._theme_name = theme, theme.name
        background, text, dim, grid = (
            qcolor(c).name() for c in (theme.background, theme.text, theme.text_dim, theme.grid)
        )
        selection = qcolor(theme.selection).name()
        self.setStyleSheet(
            f"QWidget {{ background: {background}; color: {text}; }}"
            f"QHeaderView::section {{ background: {grid}; color: {dim}; border: none; padding: 3px 6px; }}"
            f"QTreeWidget {{ border: 1px solid {grid}; alternate-background-color: {grid}; }}"
            f"QTreeWidget::item:selected {{ background: {selection}; color: {background}; }}"
            f"QPushButton {{ background: {grid}; border: 1px solid {dim}; padding: 3px 12px; }}"
            f"QPushButton:disabled {{ color: {dim}; border-color: {grid}; }}"
        )
        self._shown = ()  # colours of the items follow on the next refresh
        self.set_problems(self.problems, error=self.error)


def _feed_status(window: QMainWindow) -> Any:
    feed = getattr(window, "feed", None)
    return feed.status if feed is not None else None


def show_problems(window: QMainWindow) -> None:
    """Open the Problems dock (a modest height: the chart keeps most of the window)."""
    dock = window.problems_dock
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [DOCK_HEIGHT_PX], Qt.Orientation.Vertical)


def install_problems_dock(window: QMainWindow) -> QDockWidget:
    """A hidden Problems dock at the bottom of `window` (its feed is looked up as `window.feed`), a
    clickable problem count in the status bar that opens it, both kept current by the window's frame clock."""
    panel = ProblemsPanel(lambda: _feed_status(window), theme=window.model.theme, parent=window)
    dock = QDockWidget("Problems", window)
    dock.setObjectName("problems_dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    button = QToolButton(window)
    button.setAutoRaise(True)
    button.setToolTip("Show the Problems panel: what could not be read or paired")
    button.setStyleSheet("QToolButton { color: #c77800; font-weight: bold; padding: 0 6px; }")
    button.clicked.connect(lambda: show_problems(window))
    button.hide()
    window.statusBar().addPermanentWidget(button)

    def refresh() -> None:
        panel.apply_theme(window.model.theme)
        if panel.refresh():
            total = panel.total
            dock.setWindowTitle(f"Problems ({total:,})" if total else "Problems")
            button.setText(f"⚠ {total:,} problem{'s' if total != 1 else ''}")
            button.setVisible(total > 0)

    window.on_frame(REFRESH_INTERVAL_S, refresh)
    window.problems_dock, window.problems_panel, window.problems_button = dock, panel, button
    window.refresh_problems = refresh
    return dock
