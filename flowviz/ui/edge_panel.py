"""The edge panel: one edge's window figures and history, client- vs server-side latency, calls by status, traces."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import Theme
from flowviz.derive.observations import ConnectionType
from flowviz.store.edge_details import SideFigures, StatusFigures
from flowviz.store.exemplars import KINDS, Exemplar
from flowviz.ui.background import BackgroundJob
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.history_plots import HistoryPlots
from flowviz.ui.latency_histogram import LatencyHistogram
from flowviz.ui.service_panel import DETAILS_INTERVAL_S, EXEMPLAR_LIMIT, NO_DETAILS, panel_style_sheet
from flowviz.ui.tables import figure_table, fill_rows, ms_text
from flowviz.ui.trace_table import TraceTable

SIDE_COLUMNS = ("side", "calls", "p50 ms", "p95 ms", "p99 ms")
STATUS_COLUMNS = ("status", "calls", "failed", "share")


@dataclass(frozen=True, slots=True)
class EdgeDetailFigures:
    """What the panel shows of an edge's calls in a window (from the drill-down store)."""

    sides: dict[str, SideFigures]
    statuses: list[StatusFigures]
    exemplars: dict[str, list[Exemplar]]


def edge_detail_figures(details, source: str, target: str, start_ns: int, end_ns: int) -> EdgeDetailFigures:
    """Query the drill-down store for one edge (runs off the UI thread)."""
    return EdgeDetailFigures(
        sides=details.edges.sides(source, target, start_ns, end_ns),
        statuses=details.edges.statuses(source, target, start_ns, end_ns),
        exemplars={
            kind: details.exemplars.exemplars((source, target), start_ns, end_ns, kind=kind, limit=EXEMPLAR_LIMIT)
            for kind in KINDS
        },
    )


def side_gap_text(sides: dict[str, SideFigures]) -> str:
    """What the difference between the caller's and the callee's p95 says."""
    client, server = sides["client"], sides["server"]
    if not client.calls or not server.calls:
        only = "client" if client.calls else "server" if server.calls else None
        return f"Only the {only} side is measured on this edge." if only else "No latency measured in the window."
    gap = client.p95_ms - server.p95_ms
    if math.isnan(gap):
        return ""
    if gap > max(0.2 * server.p95_ms, 1.0):
        return (
            f"The caller waits {ms_text(gap)} ms longer at p95 than the callee works: "
            "network, queueing, connection pools or retries."
        )
    return "Client and server see about the same latency: the time is spent in the callee."


class EdgePanel(QWidget):
    """The selected edge (chart/store edge index); `details` as for the service panel."""

    trace_chosen = Signal(str)
    service_clicked = Signal(int)

    def __init__(self, model: FlowChartModel, details: object | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.details = details
        self.edge: int | None = None
        self.ends: tuple[str, str] | None = None
        self.figures_of: EdgeDetailFigures | None = None
        self.details_error = ""
        self._seen: tuple | None = None
        self._theme: Theme | None = None
        self._job = BackgroundJob("flowviz-edge-details")
        self._key: tuple | None = None
        self._started_at = 0.0
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.linkActivated.connect(lambda link: self.service_clicked.emit(int(link)))
        self.figures = QLabel(self)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.history = HistoryPlots(model, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_sides(), "Client vs server")
        self.statuses = figure_table(STATUS_COLUMNS, self)
        self.tabs.addTab(self.statuses, "Statuses")
        self.tabs.addTab(self._build_traces(), "Traces")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.figures)
        layout.addWidget(self.history, 3)
        layout.addWidget(self.tabs, 4)
        self.setMinimumWidth(420)
        self.show_edge(None)

    def _build_sides(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.histogram = LatencyHistogram(page, selectable=False)
        self.sides = figure_table(SIDE_COLUMNS, page)
        self.sides.setMaximumHeight(90)
        self.gap = QLabel(page)
        self.gap.setWordWrap(True)
        layout.addWidget(self.histogram, 3)
        layout.addWidget(self.sides)
        layout.addWidget(self.gap)
        return page

    def _build_traces(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Kept traces:", page))
        self.kind = QComboBox(page)
        self.kind.addItems(list(KINDS))
        self.kind.currentTextChanged.connect(lambda _text: self._show_exemplars())
        row.addWidget(self.kind)
        row.addStretch(1)
        layout.addLayout(row)
        self.exemplar_table = TraceTable(page)
        self.exemplar_table.trace_chosen.connect(self.trace_chosen)
        layout.addWidget(self.exemplar_table, 1)
        return page

    # -- selection and updates ----------------------------------------------------------------------

    def show_edge(self, edge: int | None) -> None:
        if edge != self.edge:
            chart = self.model.chart
            self.edge = edge
            self.ends = None
            if chart is not None and edge is not None and edge < chart.edge_count:
                names = chart.node_names
                self.ends = (names[int(chart.edge_source[edge])], names[int(chart.edge_target[edge])])
            self.figures_of, self._key = None, None
            self.history.track("edge", edge)
        self.refresh()

    def refresh(self) -> None:
        theme = self.model.theme
        if theme is not self._theme:
            self._apply_theme(theme)
        key = (self.model.chart_version, self.edge, theme.name)
        if key != self._seen:
            self._seen = key
            self._show_figures()
        self.history.refresh()
        self._start_details()
        self._take_details()

    def wait_for_details(self, timeout_s: float = 10.0) -> None:
        self.history.wait(timeout_s)
        self._job.wait(timeout_s)
        self._take_details()

    def _show_figures(self) -> None:
        chart, edge = self.model.chart, self.edge
        if chart is None or edge is None or self.ends is None:
            self.title.setText("Select an edge in the chart (click its line)")
            self.figures.setText("")
            return
        source, target = int(chart.edge_source[edge]), int(chart.edge_target[edge])
        via = f" via {chart.edge_via[edge]}" if chart.edge_via[edge] else ""
        kind = ConnectionType(int(chart.edge_connection_type[edge])).label or "request"
        link = f"color: {qcolor(self.model.theme.text).name()}; text-decoration: none"
        self.title.setText(
            f"<b style='font-size:13pt'><a style='{link}' href='{source}'>{self.ends[0]}</a> → "
            f"<a style='{link}' href='{target}'>{self.ends[1]}</a></b>{via}  {kind.replace('_', ' ')}"
        )
        cells = (
            ("rate/s", f"{chart.edge_rate_per_s[edge]:.1f}"),
            ("failure", f"{100 * chart.edge_error_ratio[edge]:.1f} %"),
            ("p50", f"{ms_text(float(chart.edge_p50_ms[edge]))} ms"),
            ("p95", f"{ms_text(float(chart.edge_p95_ms[edge]))} ms"),
            ("p99", f"{ms_text(float(chart.edge_p99_ms[edge]))} ms"),
        )
        head = "".join(f"<td style='padding-right:12px'>{name}</td>" for name, _ in cells)
        values = "".join(f"<td style='padding-right:12px'><b>{value}</b></td>" for _, value in cells)
        self.figures.setText(
            f"<table><tr>{head}</tr><tr>{values}</tr></table><small>last {chart.window_s:.0f} s</small>"
        )

    def _start_details(self) -> None:
        window = self.model.time.window_ns()
        if self.ends is None or window is None:
            return
        if self.details is None:
            self._show_unavailable(NO_DETAILS)
            return
        key = (self.ends, window, self.model.store.data_version)
        same = self._key is not None and self._key[:2] == key[:2]
        if key == self._key or (same and time.monotonic() - self._started_at < DETAILS_INTERVAL_S):
            return
        if self._job.start(key, edge_detail_figures, self.details, *self.ends, *window):
            self._key, self._started_at = key, time.monotonic()

    def _take_details(self) -> None:
        done = self._job.take()
        if done is None:
            return
        key, figures, error = done
        if key[0] != self.ends:
            return
        if error is not None:
            self._show_unavailable(f"Span details unavailable: {error}")
            return
        self.details_error = ""
        self.figures_of = figures
        theme = self.model.theme
        sides = figures.sides
        self.histogram.set_series(
            [
                ("client (caller)", sides["client"].histogram, theme.degraded),
                ("server (callee)", sides["server"].histogram, theme.healthy),
            ]
        )
        fill_rows(
            self.sides,
            [
                (name, f"{side.calls:,}", ms_text(side.p50_ms), ms_text(side.p95_ms), ms_text(side.p99_ms))
                for name, side in (("client (caller)", sides["client"]), ("server (callee)", sides["server"]))
            ],
        )
        self.gap.setText(side_gap_text(sides))
        total = sum(status.calls for status in figures.statuses)
        fill_rows(
            self.statuses,
            [
                (s.label, f"{s.calls:,}", f"{s.failures:,}", f"{100 * s.calls / total:.1f} %" if total else "–")
                for s in figures.statuses
            ],
        )
        self._show_exemplars()

    def _show_unavailable(self, text: str) -> None:
        if text == self.details_error:
            return
        self.details_error = text
        self.figures_of = None
        self.histogram.set_series([])
        fill_rows(self.sides, [])
        fill_rows(self.statuses, [])
        self.exemplar_table.set_exemplars([])
        self.gap.setText(text)

    def _show_exemplars(self) -> None:
        if self.figures_of is not None:
            self.exemplar_table.set_exemplars(self.figures_of.exemplars.get(self.kind.currentText(), []))

    def _apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setStyleSheet(panel_style_sheet(theme))
        self.history.apply_theme(theme)
        self.histogram.apply_theme(theme)
        self.exemplar_table.failing_color = qcolor(theme.failing)
