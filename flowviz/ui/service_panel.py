"""The service panel: one service's window figures, history, neighbours, operations, latency histogram and traces."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import Theme
from flowviz.derive.observations import NodeKind
from flowviz.store.exemplars import KINDS, Exemplar
from flowviz.store.latency_bins import BIN_COUNT, BIN_LOWER_NS
from flowviz.store.operation_stats import OperationFigures
from flowviz.ui.background import BackgroundJob
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.history_plots import HistoryPlots
from flowviz.ui.latency_histogram import LatencyHistogram
from flowviz.ui.tables import figure_table, fill_rows, ms_text
from flowviz.ui.trace_table import TraceTable

TABLE_COLUMNS = ("service", "rate/s", "failure %", "p95 ms", "share")
OPERATION_COLUMNS = ("operation", "rate/s", "failure %", "p50 ms", "p95 ms", "p99 ms")
DETAILS_INTERVAL_S = 1.0  # live data: re-query the details at most this often
EXEMPLAR_LIMIT = 25
NO_DETAILS = "No span details for this source (they come with spans, not with dependency lists)."


@dataclass(frozen=True, slots=True)
class NeighbourRow:
    """One upstream or downstream edge of the selected node, as a table row."""

    node: int
    edge: int
    name: str
    rate_per_s: float
    failure_pct: float
    p95_ms: float
    share: float  # of the selected node's incoming (upstream) or outgoing (downstream) traffic


@dataclass(frozen=True, slots=True)
class ServiceDetails:
    """What the panel shows of a service's spans in a window (from the drill-down store)."""

    operations: list[OperationFigures]
    histogram: np.ndarray
    critical_path_share: float | None
    exemplars: dict[str, list[Exemplar]]  # by kind
    in_range: list[Exemplar] | None  # the traces of the selected latency range
    skipped_spans: int  # spans left out of the exemplars while the worker was busy


def neighbour_rows(chart: ChartFrame, node: int, *, upstream: bool) -> list[NeighbourRow]:
    """Visible edges into (upstream) or out of (downstream) `node`, busiest first, with their traffic shares."""
    mine, other = (chart.edge_target, chart.edge_source) if upstream else (chart.edge_source, chart.edge_target)
    edges = np.flatnonzero((mine == node) & chart.edge_visible)
    total = float(chart.edge_rate_per_s[edges].sum())
    rows = []
    for edge in edges:
        peer, rate = int(other[edge]), float(chart.edge_rate_per_s[edge])
        name = chart.node_names[peer] + (f" via {chart.edge_via[edge]}" if chart.edge_via[edge] else "")
        rows.append(
            NeighbourRow(
                node=peer,
                edge=int(edge),
                name=name,
                rate_per_s=rate,
                failure_pct=100.0 * float(chart.edge_error_ratio[edge]),
                p95_ms=float(chart.edge_p95_ms[edge]),
                share=rate / total if total > 0 else 0.0,
            )
        )
    return sorted(rows, key=lambda row: (-row.rate_per_s, row.name))


def service_details(details, name: str, start_ns: int, end_ns: int, bins: tuple[int, int] | None) -> ServiceDetails:
    """Query the drill-down store (in-process or the worker's) for one service; runs off the UI thread."""
    exemplars = details.exemplars
    return ServiceDetails(
        operations=exemplars.operations(name, start_ns, end_ns),
        histogram=exemplars.latency_histogram(name, start_ns, end_ns),
        critical_path_share=exemplars.critical_path_share(name, start_ns, end_ns),
        exemplars={
            kind: exemplars.exemplars(name, start_ns, end_ns, kind=kind, limit=EXEMPLAR_LIMIT) for kind in KINDS
        },
        in_range=None if bins is None else exemplars.traces_in_latency_bins(name, start_ns, end_ns, *bins),
        skipped_spans=int(details.status()["skipped_spans"]),
    )


class _NeighbourTable:
    """Upstream or downstream services; `rows` says what each table row stands for."""

    def __init__(self, parent: QWidget) -> None:
        self.table = figure_table(TABLE_COLUMNS, parent)
        self.rows: list[NeighbourRow] = []

    def set_rows(self, rows: list[NeighbourRow]) -> None:
        self.rows = rows
        texts = [
            (r.name, f"{r.rate_per_s:.1f}", f"{r.failure_pct:.1f}", ms_text(r.p95_ms), f"{100 * r.share:.0f} %")
            for r in rows
        ]
        fill_rows(self.table, texts, data=[r.node for r in rows])


class ServicePanel(QWidget):
    """The selected service. `details` (a drill-down store, or the worker's client; None: none) feeds the
    operations, the latency histogram and the traces; the rest comes from the chart and the store."""

    service_clicked = Signal(int)  # a neighbour's node index
    edge_clicked = Signal(int)  # a neighbour row's edge index (double click)
    trace_chosen = Signal(str)  # hex trace id

    def __init__(self, model: FlowChartModel, details: object | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.details = details
        self.node: int | None = None
        self.name: str | None = None
        self.figures_of: ServiceDetails | None = None
        self.selected_bins: tuple[int, int] | None = None
        self.details_error = ""
        self._seen: tuple | None = None
        self._theme: Theme | None = None
        self._details_job = BackgroundJob("flowviz-service-details")
        self._details_key: tuple | None = None
        self._details_at = 0.0
        self.title = QLabel(self)
        self.figures = QLabel(self)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.bottleneck = QLabel(self)
        self.bottleneck.setWordWrap(True)
        self.history = HistoryPlots(model, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_neighbours(), "Neighbours")
        self.tabs.addTab(self._build_operations(), "Operations")
        self.tabs.addTab(self._build_latency(), "Latency")
        self.tabs.addTab(self._build_traces(), "Traces")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (self.title, self.figures, self.bottleneck):
            layout.addWidget(widget)
        layout.addWidget(self.history, 3)
        layout.addWidget(self.tabs, 4)
        self.setMinimumWidth(420)
        self.show_node(None)

    # -- building ------------------------------------------------------------------------------------

    def _build_neighbours(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.upstream, self.downstream = _NeighbourTable(page), _NeighbourTable(page)
        self.upstream_label, self.downstream_label = QLabel("Upstream", page), QLabel("Downstream", page)
        for label, table in ((self.upstream_label, self.upstream), (self.downstream_label, self.downstream)):
            table.table.cellClicked.connect(lambda r, _c, t=table: self.service_clicked.emit(t.rows[r].node))
            table.table.cellDoubleClicked.connect(lambda r, _c, t=table: self.edge_clicked.emit(t.rows[r].edge))
            table.table.setToolTip("Click: select that service · double-click: open the edge")
            layout.addWidget(label)
            layout.addWidget(table.table, 1)
        return page

    def _build_operations(self) -> QWidget:
        self.operations = figure_table(OPERATION_COLUMNS, self)
        self.operations.setToolTip("Entry spans of the service (SERVER/CONSUMER, or called from elsewhere)")
        return self.operations

    def _build_latency(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.histogram = LatencyHistogram(page)
        self.histogram.range_selected.connect(self._range_selected)
        self.range_label = QLabel(page)
        self.range_label.setWordWrap(True)
        self.range_traces = TraceTable(page)
        self.range_traces.trace_chosen.connect(self.trace_chosen)
        layout.addWidget(self.histogram, 2)
        layout.addWidget(self.range_label)
        layout.addWidget(self.range_traces, 3)
        return page

    def _build_traces(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Kept traces:", page))
        self.kind = QComboBox(page)
        self.kind.addItems(["slowest", "failing", "recent"])
        self.kind.currentTextChanged.connect(lambda _text: self._show_exemplars())
        row.addWidget(self.kind)
        row.addStretch(1)
        layout.addLayout(row)
        self.exemplar_table = TraceTable(page)
        self.exemplar_table.trace_chosen.connect(self.trace_chosen)
        layout.addWidget(self.exemplar_table, 1)
        self.traces_note = QLabel(page)
        self.traces_note.setWordWrap(True)
        layout.addWidget(self.traces_note)
        return page

    # -- selection and updates ----------------------------------------------------------------------

    def show_node(self, node: int | None) -> None:
        """Show `node` (None: nothing selected) and refresh at once."""
        if node != self.node:
            self.node = node
            chart = self.model.chart
            self.name = chart.node_names[node] if chart is not None and node is not None else None
            self.figures_of, self.selected_bins, self._details_key = None, None, None
            self.histogram.clear_selection()
            self.history.track("node", node)
        self.refresh()

    def refresh(self) -> None:
        """Cheap when nothing changed; band and cursor are always re-placed."""
        theme = self.model.theme
        if theme is not self._theme:
            self._apply_theme(theme)
        key = (self.model.chart_version, self.node, theme.name)
        if key != self._seen:
            self._seen = key
            self._show_figures()
        self.history.refresh()
        self._start_details()
        self._take_details()

    def wait_for_series(self, timeout_s: float = 10.0) -> None:
        """Finish the pending background queries and show them (for tests and renders)."""
        self.history.wait(timeout_s)
        self._details_job.wait(timeout_s)
        self._take_details()

    def _show_figures(self) -> None:
        chart, node = self.model.chart, self.node
        if chart is None or node is None or node >= chart.node_count:
            self.title.setText("Select a service in the chart")
            self.figures.setText("")
            self.upstream.set_rows([])
            self.downstream.set_rows([])
            return
        self.title.setText(f"<b style='font-size:13pt'>{chart.node_names[node]}</b>  {self._kind(chart, node)}")
        self.figures.setText(self._figures_html(chart, node))
        self.upstream.set_rows(neighbour_rows(chart, node, upstream=True))
        self.downstream.set_rows(neighbour_rows(chart, node, upstream=False))
        self.upstream_label.setText(f"Upstream ({len(self.upstream.rows)})")
        self.downstream_label.setText(f"Downstream ({len(self.downstream.rows)})")

    @staticmethod
    def _kind(chart: ChartFrame, node: int) -> str:
        return NodeKind(int(chart.node_kind[node])).name.lower()

    @staticmethod
    def _figures_html(chart: ChartFrame, node: int) -> str:
        cells = (
            ("rate/s", f"{chart.node_rate_per_s[node]:.1f}"),
            ("failure", f"{100 * chart.node_error_ratio[node]:.1f} %"),
            ("p50", f"{ms_text(float(chart.node_p50_ms[node]))} ms"),
            ("p95", f"{ms_text(float(chart.node_p95_ms[node]))} ms"),
            ("p99", f"{ms_text(float(chart.node_p99_ms[node]))} ms"),
        )
        head = "".join(f"<td style='padding-right:12px'>{name}</td>" for name, _ in cells)
        values = "".join(f"<td style='padding-right:12px'><b>{value}</b></td>" for _, value in cells)
        return f"<table><tr>{head}</tr><tr>{values}</tr></table><small>last {chart.window_s:.0f} s</small>"

    # -- details from the drill-down store (a background job) ----------------------------------------

    def _start_details(self) -> None:
        window = self.model.time.window_ns()
        if self.name is None or window is None:
            return
        if self.details is None:
            self._show_unavailable(NO_DETAILS)
            return
        key = (self.name, window, self.selected_bins, self.model.store.data_version)
        same = self._details_key is not None and self._details_key[:3] == key[:3]
        recent = time.monotonic() - self._details_at < DETAILS_INTERVAL_S
        if key == self._details_key or (same and recent):
            return
        if self._details_job.start(key, service_details, self.details, self.name, *window, self.selected_bins):
            self._details_key, self._details_at = key, time.monotonic()

    def _take_details(self) -> None:
        done = self._details_job.take()
        if done is None:
            return
        key, figures, error = done
        if key[0] != self.name:
            return
        if error is not None:
            self._show_unavailable(f"Span details unavailable: {error}")
            return
        self.details_error = ""
        self.figures_of = figures
        window_s = max((key[1][1] - key[1][0]) / 1e9, 1e-9)
        fill_rows(
            self.operations,
            [
                (
                    op.name,
                    f"{op.requests / window_s:.1f}",
                    f"{100 * op.errors / op.requests:.1f}",
                    ms_text(op.p50_ms),
                    ms_text(op.p95_ms),
                    ms_text(op.p99_ms),
                )
                for op in figures.operations
            ],
        )
        self.histogram.set_series([("calls", figures.histogram, self.model.theme.healthy)])
        self._show_range(figures)
        self._show_exemplars()
        share = figures.critical_path_share
        self.bottleneck.setText(
            "Critical path: no kept traces in the window"
            if share is None
            else f"Critical path: <b>{100 * share:.0f} %</b> of the time of the window's kept traces through "
            f"{self.name} is spent here"
        )

    def _show_unavailable(self, text: str) -> None:
        if text == self.details_error:
            return
        self.details_error = text
        self.figures_of = None
        fill_rows(self.operations, [])
        self.histogram.set_series([])
        self.range_traces.set_exemplars([])
        self.exemplar_table.set_exemplars([])
        self.range_label.setText(text)
        self.traces_note.setText(text)
        self.bottleneck.setText("")

    def _range_selected(self, first_bin: int, last_bin: int) -> None:
        self.selected_bins = (first_bin, last_bin)
        self.range_label.setText(f"{_bins_text(first_bin, last_bin)}: looking…")
        self._start_details()

    def _show_range(self, figures: ServiceDetails) -> None:
        if self.selected_bins is None or figures.in_range is None:
            self.range_traces.set_exemplars([])
            self.range_label.setText("Click a bar of the histogram (or drag the range's edges) to list its traces.")
            return
        calls = int(figures.histogram[self.selected_bins[0] : self.selected_bins[1] + 1].sum())
        self.range_label.setText(
            f"{_bins_text(*self.selected_bins)}: {calls:,} calls in the window, "
            f"{len(figures.in_range)} kept traces (fastest first)"
        )
        self.range_traces.set_exemplars(figures.in_range)

    def _show_exemplars(self) -> None:
        figures = self.figures_of
        if figures is None:
            return
        kind = self.kind.currentText()
        self.exemplar_table.set_exemplars(figures.exemplars.get(kind, []))
        sampled = (
            f" · catching up, {figures.skipped_spans:,} spans were left out of the kept traces"
            if figures.skipped_spans
            else ""
        )
        self.traces_note.setText(
            f"{len(figures.exemplars.get(kind, []))} {kind} traces kept for the window "
            f"(per minute: the slowest, latest failing and latest, and one per latency band){sampled}"
        )

    # -- appearance ----------------------------------------------------------------------------------

    def _apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setStyleSheet(panel_style_sheet(theme))
        self.history.apply_theme(theme)
        self.histogram.apply_theme(theme)
        for table in (self.range_traces, self.exemplar_table):
            table.failing_color = qcolor(theme.failing)


def panel_style_sheet(theme: Theme) -> str:
    background, text, dim = (qcolor(c).name() for c in (theme.background, theme.text, theme.text_dim))
    grid = qcolor(theme.grid).name()
    return (
        f"QWidget {{ background: {background}; color: {text}; }}"
        f"QHeaderView::section {{ background: {grid}; color: {dim}; border: none; padding: 2px; }}"
        f"QTableWidget {{ gridline-color: {grid}; }}"
        f"QTabBar::tab {{ background: {background}; color: {dim}; padding: 4px 10px; border: none; }}"
        f"QTabBar::tab:selected {{ color: {text}; border-bottom: 2px solid {qcolor(theme.selection).name()}; }}"
        f"QTabWidget::pane {{ border: none; }}"
    )


def _bins_text(first_bin: int, last_bin: int) -> str:
    low_ms = BIN_LOWER_NS[first_bin] / 1e6
    if last_bin + 1 >= BIN_COUNT:
        return f"≥ {ms_text(low_ms)} ms"
    return f"{ms_text(low_ms)}–{ms_text(BIN_LOWER_NS[last_bin + 1] / 1e6)} ms"
