"""The main window: toolbar (search, theme, fit, full screen), the flow chart, and a status line."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QSettings, QStringListModel, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QToolBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from flowviz.analysis.config import AnalysisConfig
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import Selection
from flowviz.chart.themes import THEMES, Theme
from flowviz.model.frame_schedule import FrameSchedule
from flowviz.model.time_control import SECOND_NS, WINDOWS_S
from flowviz.ui.analysis_dock import AnalysisDock
from flowviz.ui.chart_controls import ChartControls
from flowviz.ui.chart_menus import install_chart_menus
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.compare_panel import CompareController
from flowviz.ui.drill_down_docks import DrillDownDocks
from flowviz.ui.export_menu import install_export_menu
from flowviz.ui.flow_view import FRAME_INTERVAL_MS, FlowChartView
from flowviz.ui.help_overlay import HelpOverlay
from flowviz.ui.incident_window import install_incident_menu
from flowviz.ui.settings import (
    WINDOW_STATE_VERSION,
    Preferences,
    load_bookmark_entries,
    load_preferences,
    save_bookmark_entries,
    themed,
    update_preferences,
)
from flowviz.ui.timeline_strip import Bookmark, TimelineStrip
from flowviz.ui.transport_bar import TransportBar
from flowviz.ui.window_menus import WindowOpeners, install_menus

STATUS_INTERVAL_MS = 250


def load_bookmarks(key: str | None) -> list[Bookmark]:
    """Bookmarks saved for a capture (its recent-files entry); none for live sessions."""
    return [Bookmark(time_ns, name) for time_ns, name in load_bookmark_entries(key)] if key else []


def save_bookmarks(key: str | None, bookmarks: list[Bookmark]) -> None:
    if key:
        save_bookmark_entries(key, [(b.time_ns, b.name) for b in bookmarks])


def apply_tooltip_theme(theme: Theme) -> None:
    """Tooltips in the theme's colours (one palette for all tooltips of the app: the last theme chosen)."""
    palette = QToolTip.palette()
    palette.setColor(QPalette.ColorRole.ToolTipBase, qcolor(theme.label_background, 255))
    palette.setColor(QPalette.ColorRole.ToolTipText, qcolor(theme.text))
    QToolTip.setPalette(palette)


class MainWindow(QMainWindow):
    """Shows one flow chart model. `status_text` (optional) is polled for the status line: the data
    source says there how it is doing (spans/s, problems, connection)."""

    def __init__(
        self,
        model: FlowChartModel,
        *,
        title: str,
        status_text: Callable[[], str] | None = None,
        bookmark_key: str | None = None,
        memory_key: str | None = None,
        details: object | None = None,
        analysis_config: AnalysisConfig | None = None,
        openers: WindowOpeners | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._feed = None
        self.source_title = title
        self.setWindowTitle(f"flowviz — {title}")
        # what the frame clock refreshes after the chart, each at its own rate (panels, status, analysis, ...)
        self.frame_schedule = FrameSchedule()
        # what is chosen, hovered and lit: one state that the chart, the panels and the trace view share
        self.selection = Selection()
        self.view = FlowChartView(model, self.selection, self)  # ticked by this window's frame clock
        self.transport = TransportBar(model.time, self)
        self.strip = TimelineStrip(model, self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.transport)
        layout.addWidget(self.strip)
        self.setCentralWidget(central)
        self.help = HelpOverlay(self.view)
        self._status_text = status_text
        self._bookmark_key = bookmark_key
        self.strip.set_bookmarks(load_bookmarks(bookmark_key))
        self.strip.scrubbed.connect(self.view.follow_scrub)
        self.transport.bookmark_requested.connect(self.add_bookmark)
        self.transport.loop_requested.connect(self.toggle_loop)
        self._build_docks(details)
        self.analysis = AnalysisDock(self, analysis_config)
        self._build_toolbar()
        self._build_time_keys()
        self.view.setFocus()  # keys go to the chart (the search box takes them only when clicked)
        self._status = QLabel()
        self.statusBar().addWidget(self._status, 1)
        # one frame clock: each frame ticks the time model once, then refreshes the chart; the panels, timeline
        # and status line every STATUS_INTERVAL_MS of those frames, the other clients at their own rates
        self.on_frame(STATUS_INTERVAL_MS / 1000, self._update_status)
        self.clock = QTimer(self)
        self.clock.setTimerType(Qt.TimerType.PreciseTimer)
        self.clock.timeout.connect(self._frame)
        self.clock.start(FRAME_INTERVAL_MS)
        install_menus(self, openers)  # menu bar (File, View) and the Problems panel
        # filter, focus, groups, presentation mode, type size by theme, and what is kept per capture
        # `memory_key` names a live source (its bookmarks are not kept); a capture's is its bookmark key
        self.controls = ChartControls(self, model, self.view, memory_key=memory_key or bookmark_key)
        install_export_menu(self)  # File ▸ Export
        install_incident_menu(self)  # File ▸ Save incident…
        self.compare = CompareController(self)  # Compare menu, baseline band, Changes panel
        install_chart_menus(self)  # right-click on the chart
        self._default_size()
        self.apply_preferences(load_preferences(), startup=True)
        self._restore_window_state()

    @property
    def feed(self):
        """The source filling this window's store (None: a store filled elsewhere)."""
        return self._feed

    @feed.setter
    def feed(self, feed) -> None:
        self._feed = feed
        self.model.source_streaming = lambda: feed.status.running  # playback waits for data while it comes

    # -- remembered between runs -------------------------------------------------------------

    def apply_preferences(self, preferences: Preferences, *, startup: bool = False) -> None:
        """Theme (with the preferred label size) and particle density; the window length and speed are the
        model's (`new_chart_model` starts one with the remembered ones)."""
        self.model.particles.density = preferences.particle_density
        self.set_theme_everywhere(self.model.theme.name if startup else preferences.theme)
        if self.theme_box.currentText() != self.model.theme.name:
            self.theme_box.setCurrentText(self.model.theme.name)

    def _default_size(self) -> None:
        """1400×860, or less on a smaller screen (a projector laptop's 1280×720): all of it on the screen."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width, height = 1400, 860
        if screen is not None and screen.width() > 0:
            width, height = min(width, int(screen.width() * 0.95)), min(height, int(screen.height() * 0.92))
        self.resize(width, height)

    def _restore_window_state(self) -> None:
        """Geometry and dock layout of the last window closed; the drill-down docks stay closed until
        something is chosen (their content belongs to a selection)."""
        stored = QSettings()
        geometry, state = stored.value("window/geometry"), stored.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state, WINDOW_STATE_VERSION)
        for dock in (self.service_dock, self.edge_dock, self.trace_dock):
            dock.hide()

    def closeEvent(self, event: QCloseEvent) -> None:
        stored = QSettings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/state", self.saveState(WINDOW_STATE_VERSION))
        time = self.model.time
        changes: dict[str, float] = {"speed": time.speed}
        if time.window_s in WINDOWS_S:  # one the user chose, not a capture's whole length
            changes["window_s"] = time.window_s
        update_preferences(**changes)
        super().closeEvent(event)

    def _build_docks(self, details: object | None) -> None:
        """Service and edge panels (right), the trace waterfall (bottom): hidden until something is chosen."""
        self.docks = DrillDownDocks(self, self.model, self.view, self.selection, details)
        self.service_panel, self.service_dock = self.docks.service_panel, self.docks.service_dock
        self.edge_panel, self.edge_dock = self.docks.edge_panel, self.docks.edge_dock
        self.trace_view, self.trace_dock = self.docks.trace_view, self.docks.trace_dock

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Chart", self)
        toolbar.setObjectName("chart_toolbar")  # saveState() keeps it by this name
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
        self.theme_box.currentTextChanged.connect(self._theme_chosen)
        toolbar.addWidget(self.theme_box)
        full_screen = QAction("Full screen (F11)", self)
        full_screen.setShortcut(QKeySequence(Qt.Key.Key_F11))
        full_screen.triggered.connect(self.toggle_full_screen)
        toolbar.addAction(full_screen)
        self.addAction(full_screen)

    def _build_time_keys(self) -> None:
        time = self.model.time
        keys = (
            (Qt.Key.Key_Space, time.toggle_play),
            (Qt.Key.Key_Left, lambda: time.step(-1)),
            (Qt.Key.Key_Right, lambda: time.step(+1)),
            (QKeySequence("Shift+Left"), lambda: time.step(-10)),
            (QKeySequence("Shift+Right"), lambda: time.step(+10)),
            (Qt.Key.Key_Home, time.home),
            (Qt.Key.Key_End, time.follow),
            (Qt.Key.Key_Plus, time.faster),
            (Qt.Key.Key_Equal, time.faster),
            (Qt.Key.Key_Minus, time.slower),
            (Qt.Key.Key_BracketLeft, time.shorter_window),
            (Qt.Key.Key_BracketRight, time.longer_window),
            (Qt.Key.Key_L, self.toggle_loop),
            (Qt.Key.Key_B, self.add_bookmark),
            (Qt.Key.Key_Question, self.help.show),
        )
        for key, handler in keys:
            action = QAction(self)
            action.setShortcut(key if isinstance(key, QKeySequence) else QKeySequence(key))
            action.triggered.connect(handler)
            action.triggered.connect(self._time_changed)
            self.addAction(action)

    def _time_changed(self) -> None:
        self.transport.update_labels()
        self.strip.refresh()

    def toggle_loop(self) -> None:
        """Loop the current window, or stop looping."""
        window = self.model.time.window_ns()
        if self.model.time.loop is not None or window is None:
            self.strip.clear_loop()
        else:
            self.strip.brush_loop(window[0] / 1e9, window[1] / 1e9, finished=True)
        self.transport.update_labels()

    def add_bookmark(self, name: str | None = None) -> None:
        """Name the cursor's moment; kept with the capture's recent-files entry."""
        cursor = self.model.time.cursor_ns
        if cursor is None:
            return
        if not name:
            name, accepted = QInputDialog.getText(self, "Bookmark", "Name this moment:")
            if not accepted or not name.strip():
                return
        bookmarks = [*self.strip.bookmarks, Bookmark(cursor, name.strip())]
        self.strip.set_bookmarks(bookmarks)
        save_bookmarks(self._bookmark_key, bookmarks)

    def _relayout(self) -> None:
        self.model.relayout()
        self.view.fit()

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _find(self, text: str) -> None:
        if not self.view.select_name(text):
            self.statusBar().showMessage(f"No service matches “{text}”", 3000)
        self.view.setFocus()

    def set_theme_everywhere(self, name: str) -> None:
        theme = themed(name, load_preferences()) if name in THEMES else THEMES["dark"]
        self.view.set_theme(theme)
        self.strip.set_theme(theme)
        self.docks.set_theme(theme)
        apply_tooltip_theme(theme)

    def _theme_chosen(self, name: str) -> None:
        """The toolbar's theme box: applied and remembered."""
        if name != self.model.theme.name:
            self.set_theme_everywhere(name)
        update_preferences(theme=name)

    def _show_time_controls(self) -> bool:
        """A capture without time (Jaeger dependency links, all at the epoch) has no timeline to show: the
        strip and the play controls are hidden rather than drawing 1970. Returns whether it is so."""
        available = self.model.available()
        timeless = available is not None and available.end_ns <= SECOND_NS
        if timeless == self.strip.isHidden():
            return timeless
        self.strip.setVisible(not timeless)
        self.transport.setVisible(not timeless)
        return timeless

    def on_frame(self, interval_s: float, refresh: Callable[[], None]) -> None:
        """Have the frame clock call `refresh` at most every `interval_s` (after the chart's tick): the one way
        a part of the window follows time and data; none keeps a timer of its own for it."""
        self.frame_schedule.add(interval_s, refresh)

    def _frame(self) -> None:
        """One tick of the frame clock: time passes once, the chart follows; the rest at their own rates."""
        self.view.tick()
        if self.model.time.notice:  # set by this tick only: shown now, or never
            self.statusBar().showMessage(self.model.time.notice, 6000)
        self.frame_schedule.run_due(time.monotonic())

    def _update_status(self) -> None:
        self.transport.update_labels()
        self.strip.refresh()
        self.docks.refresh()
        chart = self.model.chart
        if chart is not None and self._names.rowCount() != chart.node_count:
            self._names.setStringList(list(chart.node_names))
        timeless = self._show_time_controls()
        parts = []
        if chart is not None:
            shown = int(chart.node_visible.sum())
            window = "no time in this capture (a dependency list)" if timeless else f"last {chart.window_s:.0f} s"
            parts.append(f"{shown} nodes · {int(chart.edge_visible.sum())} edges · {window}")
        if self._status_text is not None:
            parts.append(self._status_text())
        self._status.setText("   |   ".join(parts))
