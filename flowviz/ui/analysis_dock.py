"""The window's analysis: live findings off the UI thread, chart health from them, timeline marks, "What's wrong"."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from flowviz.analysis.config import AnalysisConfig, ConfigError, load_config
from flowviz.analysis.findings import Finding
from flowviz.analysis.health import FindingsHealth
from flowviz.analysis.live_findings import FindingsService
from flowviz.analysis.root_cause import RootCause
from flowviz.chart.selection import NODE
from flowviz.ui.whats_wrong import REFRESH_INTERVAL_S, WhatsWrongPanel

SECOND_NS = 1_000_000_000
SHOW_AFTER_ONSET_NS = 30 * SECOND_NS
"""Choosing a finding puts the cursor this far past its onset, so the window holds the departure."""
FOCUS_WINDOW_S = 60.0


class AnalysisDock(QObject):
    """Owns the window's `FindingsService` (stopped when the window closes) and shows what it finds: the
    chart's health colours and root-cause marks, the timeline's marks, and the "What's wrong" dock."""

    def __init__(self, window: QMainWindow, config: AnalysisConfig | None = None) -> None:
        """`config` None: the settings file (`flowviz.analysis.config`), or the defaults if it cannot be used."""
        super().__init__(window)
        self.config_problem = ""
        if config is None:
            try:
                config = load_config()
            except ConfigError as error:
                config, self.config_problem = AnalysisConfig(), f"{error}; using the default settings"
        self.window = window
        self.model = window.model
        self.view = window.view
        self.selection = window.selection
        self.config = config
        self.service = FindingsService(self.model.store, config.findings)
        self.model.health_source = FindingsHealth(self.service.latest, config)
        window.strip.findings = self.service.latest
        window.strip.finding_clicked.connect(self.show_finding)
        self.panel = WhatsWrongPanel(self.service.latest, window)
        self.panel.cause_chosen.connect(self.show_cause)
        self.panel.finding_chosen.connect(self.show_finding)
        self.dock = QDockWidget("What's wrong", window)
        self.dock.setObjectName("whats_wrong_dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        # hidden while all is calm; it opens by itself once, when the first finding comes (View menu: any time)
        self.dock.hide()
        self._opened_once = False
        window.on_frame(REFRESH_INTERVAL_S, self.refresh)  # the window's frame clock
        self.selection.subscribe(self._selection_changed)
        window.installEventFilter(self)
        if self.config_problem:
            self.panel.summary.setToolTip(self.config_problem)
            window.statusBar().showMessage(f"flowviz settings: {self.config_problem}", 15_000)

    def refresh(self) -> None:
        """On the frame clock: the panel shows what is new; the dock opens by itself on the first finding."""
        self.panel.refresh()
        if not self._opened_once and self.service.latest().diagnosis.findings:
            if not self.dock.isVisible():
                self.dock.show()
            self._opened_once = True

    def set_config(self, config: AnalysisConfig) -> None:
        """New settings (the Preferences dialog): judge everything again with them."""
        self.config = config
        self.model.health_source = FindingsHealth(self.service.latest, config)
        self.service.set_settings(config.findings)

    def loaded(self) -> None:
        """A capture finished loading: judge it whole (its parts may have come out of time order)."""
        self.service.restart(to_end=True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.service.stop()
        return False

    # -- choosing ---------------------------------------------------------------------------------

    def _scrub_to_onset(self, onset_ns: int) -> None:
        if self.model.time.window_s > FOCUS_WINDOW_S:  # the whole capture at once would blur the incident
            self.model.time.set_window(FOCUS_WINDOW_S)
        available = self.model.available()
        target = onset_ns + SHOW_AFTER_ONSET_NS
        if available is not None:
            target = min(max(target, available.start_ns), available.end_ns)
        self.view.scrub_to(target)

    def _index(self, name: str) -> int | None:
        chart = self.model.chart
        if chart is None or name not in chart.node_names:
            return None
        return chart.node_names.index(name)

    def show_cause(self, cause: RootCause) -> None:
        """Scrub to the culprit's onset, select it and light its blast radius, numbered in onset order."""
        self._scrub_to_onset(cause.onset_ns)
        chart = self.model.chart
        if chart is None:
            return
        order = [name for name in (cause.node, *cause.explains) if name in chart.node_names]
        members = set(order)
        names = chart.node_names
        calls = {
            (names[source], names[target])
            for source, target in zip(chart.edge_source.tolist(), chart.edge_target.tolist(), strict=True)
            if names[source] in members and names[target] in members
        }
        culprit = self._index(cause.node)
        if culprit is not None:
            self.selection.select_node(culprit)
        self.selection.show_path(order, calls, badges=[(name, str(number)) for number, name in enumerate(order, 1)])

    def show_finding(self, finding: Finding) -> None:
        """Scrub to a finding's onset and select its node (or edge)."""
        self._scrub_to_onset(finding.onset_ns)
        self._clear_radius()
        chart = self.model.chart
        if chart is None:
            return
        if finding.node is not None:
            index = self._index(finding.node)
            if index is not None:
                self.selection.select_node(index)
        elif finding.edge is not None:
            source, target = self._index(finding.edge[0]), self._index(finding.edge[1])
            for edge in range(chart.edge_count):
                if chart.edge_source[edge] == source and chart.edge_target[edge] == target:
                    self.selection.select_edge(edge)
                    break

    def _clear_radius(self) -> None:
        if self.selection.badges:
            self.selection.clear_path()

    def _selection_changed(self, changed: frozenset[str]) -> None:
        """Another node chosen, outside the blast radius lit: the radius goes out."""
        if NODE in changed and self.selection.node_name(self.model.chart) not in self.selection.path_names:
            self._clear_radius()
