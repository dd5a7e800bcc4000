"""The main window: toolbar (search, theme, fit, full screen), the flow chart, and a status line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QCompleter, QLabel, QLineEdit, QMainWindow, QToolBar, QWidget

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import THEMES
from flowviz.ui.flow_view import FlowChartView

STATUS_INTERVAL_MS = 500


class MainWindow(QMainWindow):
    """Shows one flow chart model. `status_text` (optional) is polled for the status line: the data
    source says there how it is doing (spans/s, problems, connection)."""

    def __init__(
        self,
        model: FlowChartModel,
        *,
        title: str,
        status_text: Callable[[], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.setWindowTitle(f"flowviz — {title}")
        self.view = FlowChartView(model, self)
        self.setCentralWidget(self.view)
        self._status_text = status_text
        self._build_toolbar()
        self._status = QLabel()
        self.statusBar().addWidget(self._status, 1)
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(STATUS_INTERVAL_MS)
        self.resize(1400, 860)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Chart", self)
        toolbar.setMovable(False)
        self.addToolBar(toolbar)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Find a service…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(280)
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.activated.connect(self._find)
        self.search.setCompleter(completer)
        self.search.returnPressed.connect(lambda: self._find(self.search.text()))
        toolbar.addWidget(self.search)
        focus_search = QAction("Find", self)
        focus_search.setShortcut(QKeySequence.StandardKey.Find)
        focus_search.triggered.connect(self.search.setFocus)
        self.addAction(focus_search)
        fit = QAction("Fit (F)", self)
        fit.triggered.connect(self.view.fit)
        toolbar.addAction(fit)
        relayout = QAction("Re-layout (R)", self)
        relayout.setShortcut(QKeySequence(Qt.Key.Key_R))
        relayout.triggered.connect(self._relayout)
        toolbar.addAction(relayout)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Theme "))
        self.theme_box = QComboBox(self)
        self.theme_box.addItems(list(THEMES))
        self.theme_box.setCurrentText(self.model.theme.name)
        self.theme_box.currentTextChanged.connect(lambda name: self.view.set_theme(THEMES[name]))
        toolbar.addWidget(self.theme_box)
        full_screen = QAction("Full screen (F11)", self)
        full_screen.setShortcut(QKeySequence(Qt.Key.Key_F11))
        full_screen.triggered.connect(self.toggle_full_screen)
        toolbar.addAction(full_screen)
        self.addAction(full_screen)

    def _relayout(self) -> None:
        self.model.relayout()
        self.view.fit()

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _find(self, text: str) -> None:
        if not self.view.select_name(text):
            self.statusBar().showMessage(f"No service matches “{text}”", 3000)
        self.view.setFocus()

    def _update_status(self) -> None:
        chart = self.model.chart
        if chart is not None and self._names.rowCount() != chart.node_count:
            self._names.setStringList(list(chart.node_names))
        parts = []
        if chart is not None:
            shown = int(chart.node_visible.sum())
            parts.append(f"{shown} nodes · {int(chart.edge_visible.sum())} edges · last {chart.window_s:.0f} s")
        if self._status_text is not None:
            parts.append(self._status_text())
        self._status.setText("   |   ".join(parts))
