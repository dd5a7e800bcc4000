"""The drill-down docks of a window: service and edge panels on the right, the trace waterfall below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import EDGE, NODE, Selection
from flowviz.ui.edge_panel import EdgePanel
from flowviz.ui.flow_view import FlowChartView
from flowviz.ui.service_panel import ServicePanel
from flowviz.ui.trace_view import TraceView


class DrillDownDocks:
    """Builds the docks on `window` over the window's `selection`: choosing a service or an edge opens its panel,
    a trace chosen in a panel opens in the waterfall (which lights its path on the chart through the selection);
    closing a panel ends its selection, closing the waterfall puts its path out."""

    def __init__(
        self,
        window: QMainWindow,
        model: FlowChartModel,
        view: FlowChartView,
        selection: Selection,
        details: object | None,
    ) -> None:
        self.window, self.model, self.view, self.selection = window, model, view, selection
        # the panels on the right run the full height; the trace view spans only under the chart
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.service_panel = ServicePanel(model, selection, details, window)
        self.edge_panel = EdgePanel(model, selection, details, window)
        self.trace_view = TraceView(details, model, selection, window)
        self.service_dock = self._dock(
            "Service", "service_dock", self.service_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.edge_dock = self._dock("Edge", "edge_dock", self.edge_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        window.tabifyDockWidget(self.service_dock, self.edge_dock)
        self.trace_dock = self._dock("Trace", "trace_dock", self.trace_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.trace_dock.setToolTip(
            "Drag the edge above to resize; double-click the title to float it in a window of its own"
        )
        self.trace_dock.visibilityChanged.connect(self._trace_dock_toggled)
        # closing a panel (not tabbing away from it) ends its selection: the chart is no longer dimmed
        self.service_dock.visibilityChanged.connect(lambda _v: self._panel_closed(self.service_dock))
        self.edge_dock.visibilityChanged.connect(lambda _v: self._panel_closed(self.edge_dock))
        selection.subscribe(self._selection_changed)
        view.clicked.connect(lambda: self._selection_changed(frozenset({NODE, EDGE})))  # chosen again: its panel
        self.service_panel.service_clicked.connect(lambda node: view.select(node, center=True))
        self.service_panel.edge_clicked.connect(selection.select_edge)
        self.edge_panel.service_clicked.connect(lambda node: view.select(node, center=True))
        for panel in (self.service_panel, self.edge_panel):
            panel.trace_chosen.connect(self.show_trace)

    def _dock(self, title: str, name: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        dock.hide()
        return dock

    def _selection_changed(self, changed: frozenset[str]) -> None:
        """A node or an edge chosen: its panel opens (the panels follow the selection themselves)."""
        for part, chosen, dock in (
            (NODE, self.selection.node, self.service_dock),
            (EDGE, self.selection.edge, self.edge_dock),
        ):
            if part in changed and chosen is not None:
                dock.show()
                dock.raise_()

    def show_trace(self, trace_id: str) -> None:
        self.trace_view.show_trace(trace_id)
        if not self.trace_dock.isVisible():
            self.trace_dock.show()
            height = max(300, self.window.height() * 2 // 5)  # a waterfall needs room; the chart keeps the rest
            self.window.resizeDocks([self.trace_dock], [height], Qt.Orientation.Vertical)

    def refresh(self) -> None:
        """Called by the window's frame clock at the status rate: only visible panels do any work."""
        for dock, panel in ((self.service_dock, self.service_panel), (self.edge_dock, self.edge_panel)):
            if dock.isVisible():
                panel.refresh()
        if self.trace_dock.isVisible():
            self.trace_view.refresh()

    def set_theme(self, theme) -> None:
        self.trace_view.set_theme(theme)

    def _panel_closed(self, dock: QDockWidget) -> None:
        if not dock.isHidden():  # still open, behind the other panel's tab
            return
        if dock is self.service_dock:
            self.selection.select_node(None)
        elif dock is self.edge_dock:
            self.selection.select_edge(None)

    def _trace_dock_toggled(self, visible: bool) -> None:
        if not visible:
            self.selection.clear_path()
