"""The service panel: one service's figures for the window, its history over the retained range, its neighbours."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import Theme
from flowviz.derive.observations import NodeKind
from flowviz.model.time_control import SECOND_NS
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.chart_painter import qcolor

SERIES_STEPS = 90  # window queries per series
SERIES_INTERVAL_S = 2.0  # live data: recompute the series at most this often
TABLE_COLUMNS = ("service", "rate/s", "failure %", "p95 ms", "share")


@dataclass(frozen=True, slots=True)
class NodeSeries:
    """One node's figures per step [start_ns[k], start_ns[k] + step_ns) over a range."""

    node: int
    step_ns: int
    start_ns: np.ndarray  # int64
    rate_per_s: np.ndarray
    failure_pct: np.ndarray  # NaN where there were no requests
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray

    @property
    def centers_s(self) -> np.ndarray:
        return (self.start_ns + self.step_ns / 2) / 1e9


@dataclass(frozen=True, slots=True)
class NeighbourRow:
    """One upstream or downstream edge of the selected node, as a table row."""

    node: int
    name: str
    rate_per_s: float
    failure_pct: float
    p95_ms: float
    share: float  # of the selected node's incoming (upstream) or outgoing (downstream) traffic


def series_step_ns(span_ns: int, steps: int = SERIES_STEPS) -> int:
    """Whole seconds per step giving at most about `steps` steps over `span_ns`."""
    return max(math.ceil(span_ns / steps / SECOND_NS), 1) * SECOND_NS


def node_series(store: RollingStore, node: int, start_ns: int, end_ns: int, *, steps: int = SERIES_STEPS) -> NodeSeries:
    """Query the store once per step (run it off the UI thread): rates as the chart counts them."""
    step_ns = series_step_ns(end_ns - start_ns, steps)
    starts = np.arange(start_ns, end_ns, step_ns, dtype=np.int64)
    ends = np.minimum(starts + step_ns, end_ns)  # the last step may be partial
    served, sent, errors = np.zeros(len(starts)), np.zeros(len(starts)), np.zeros(len(starts))
    p50, p95, p99 = (np.full(len(starts), np.nan) for _ in range(3))
    for k, (step_start, step_end) in enumerate(zip(starts, ends, strict=True)):
        frame = store.query(int(step_start), int(step_end))
        if node >= frame.node_count:
            continue
        served[k], sent[k] = frame.node_requests[node], frame.node_out_requests[node]
        errors[k] = frame.node_errors[node]
        p50[k], p95[k], p99[k] = frame.node_p50_ms[node], frame.node_p95_ms[node], frame.node_p99_ms[node]
    step_s = np.maximum(ends - starts, 1) / SECOND_NS
    with np.errstate(invalid="ignore", divide="ignore"):
        failure_pct = np.where(served > 0, 100.0 * errors / served, np.nan)
    rate = np.where(served > 0, served, sent) / step_s  # a pure source: what it sent, like the chart
    return NodeSeries(node, step_ns, starts, rate, failure_pct, p50, p95, p99)


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
                name=name,
                rate_per_s=rate,
                failure_pct=100.0 * float(chart.edge_error_ratio[edge]),
                p95_ms=float(chart.edge_p95_ms[edge]),
                share=rate / total if total > 0 else 0.0,
            )
        )
    return sorted(rows, key=lambda row: (-row.rate_per_s, row.name))


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


class _NeighbourTable(QTableWidget):
    """Upstream or downstream services; a click on a row asks to select that service."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(0, len(TABLE_COLUMNS), parent)
        self.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(TABLE_COLUMNS)):
            self.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.rows: list[NeighbourRow] = []

    def set_rows(self, rows: list[NeighbourRow]) -> None:
        self.rows = rows
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            texts = (
                row.name,
                f"{row.rate_per_s:.1f}",
                f"{row.failure_pct:.1f}",
                _ms(row.p95_ms),
                f"{100 * row.share:.0f} %",
            )
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(Qt.ItemDataRole.UserRole, row.node)
                self.setItem(r, column, item)


class ServicePanel(QWidget):
    """The selected service: window figures, history (rate, failures, latency) and its neighbours."""

    service_clicked = Signal(int)  # a neighbour's node index

    def __init__(self, model: FlowChartModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.node: int | None = None
        self.series: NodeSeries | None = None
        self._seen: tuple | None = None
        self._series_key: tuple | None = None
        self._series_at = 0.0
        self._worker: threading.Thread | None = None
        self._new_series: tuple[tuple, NodeSeries] | None = None
        self._theme: Theme | None = None
        self.title = QLabel(self)
        self.figures = QLabel(self)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.plots = pg.GraphicsLayoutWidget(self)
        self.plots.setMinimumHeight(330)
        self.upstream = _NeighbourTable(self)
        self.downstream = _NeighbourTable(self)
        for table in (self.upstream, self.downstream):
            table.cellClicked.connect(lambda r, _c, t=table: self.service_clicked.emit(t.rows[r].node))
        self._build_plots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (self.title, self.figures):
            layout.addWidget(widget)
        layout.addWidget(self.plots, 3)
        self.upstream_label, self.downstream_label = QLabel("Upstream", self), QLabel("Downstream", self)
        for label, table in ((self.upstream_label, self.upstream), (self.downstream_label, self.downstream)):
            layout.addWidget(label)
            layout.addWidget(table, 1)
        self.setMinimumWidth(380)
        self.show_node(None)

    def _build_plots(self) -> None:
        self.rate_plot = self._add_plot(0, "requests/s")
        self.failure_plot = self._add_plot(1, "failure %")
        self.latency_plot = self._add_plot(2, "latency ms")
        self.rate_curve = self.rate_plot.plot()
        self.failure_curve = self.failure_plot.plot()
        self.latency_curves = {name: self.latency_plot.plot(name=name) for name in ("p50", "p95", "p99")}
        self.latency_plot.addLegend(offset=(-4, 4), labelTextSize="7pt", colCount=3)
        for name, curve in self.latency_curves.items():
            self.latency_plot.legend.addItem(curve, name)
        self.bands = [pg.LinearRegionItem(movable=False) for _ in range(3)]
        self.cursors = [pg.InfiniteLine(angle=90, movable=False) for _ in range(3)]
        for plot, band, cursor in zip(self._all_plots(), self.bands, self.cursors, strict=True):
            band.setZValue(-10)
            plot.addItem(band)
            plot.addItem(cursor)

    def _add_plot(self, row: int, label: str) -> pg.PlotItem:
        plot = self.plots.addPlot(row=row, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.getAxis("left").setWidth(44)
        plot.setTitle(label, size="8pt", justify="left")
        if row:
            plot.setXLink(self.rate_plot)
        if row < 2:
            plot.getAxis("bottom").setStyle(showValues=False)
        return plot

    def _all_plots(self) -> tuple[pg.PlotItem, pg.PlotItem, pg.PlotItem]:
        return self.rate_plot, self.failure_plot, self.latency_plot

    # -- selection and updates ----------------------------------------------------------------------

    def show_node(self, node: int | None) -> None:
        """Show `node` (None: nothing selected) and refresh at once."""
        if node != self.node:
            self.node = node
            self.series = None
            self._series_key = None
            for curve in (self.rate_curve, self.failure_curve, *self.latency_curves.values()):
                curve.setData([], [])
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
        self._start_series()
        self._take_series()
        self._place_time()

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
        self.upstream_label.setText(f"Upstream ({self.upstream.rowCount()})")
        self.downstream_label.setText(f"Downstream ({self.downstream.rowCount()})")

    @staticmethod
    def _kind(chart: ChartFrame, node: int) -> str:
        return NodeKind(int(chart.node_kind[node])).name.lower()

    @staticmethod
    def _figures_html(chart: ChartFrame, node: int) -> str:
        cells = (
            ("rate/s", f"{chart.node_rate_per_s[node]:.1f}"),
            ("failure", f"{100 * chart.node_error_ratio[node]:.1f} %"),
            ("p50", f"{_ms(float(chart.node_p50_ms[node]))} ms"),
            ("p95", f"{_ms(float(chart.node_p95_ms[node]))} ms"),
            ("p99", f"{_ms(float(chart.node_p99_ms[node]))} ms"),
        )
        head = "".join(f"<td style='padding-right:12px'>{name}</td>" for name, _ in cells)
        values = "".join(f"<td style='padding-right:12px'><b>{value}</b></td>" for _, value in cells)
        return f"<table><tr>{head}</tr><tr>{values}</tr></table><small>last {chart.window_s:.0f} s</small>"

    # -- the series (computed in a worker thread) ---------------------------------------------------

    def _start_series(self) -> None:
        available = self.model.available()
        if self.node is None or available is None:
            return
        key = (self.model.store.data_version, self.node, available.start_ns, available.end_ns)
        busy = self._worker is not None and self._worker.is_alive()
        same_node = self._series_key is not None and self._series_key[1] == self.node
        recent = time.monotonic() - self._series_at < SERIES_INTERVAL_S
        if key == self._series_key or busy or (same_node and recent):
            return
        self._series_key, self._series_at = key, time.monotonic()
        args = (key, self.node, available.start_ns, available.end_ns)
        self._worker = threading.Thread(target=self._compute_series, args=args, daemon=True)
        self._worker.start()

    def _compute_series(self, key: tuple, node: int, start_ns: int, end_ns: int) -> None:
        """Runs in a worker thread (store queries read an immutable snapshot); the UI draws the result."""
        self._new_series = (key, node_series(self.model.store, node, start_ns, end_ns))

    def _take_series(self) -> None:
        if self._new_series is None:
            return
        (_, node, *_), series = self._new_series
        self._new_series = None
        if node == self.node:
            self.series = series
            self._draw_series()

    def wait_for_series(self, timeout_s: float = 10.0) -> None:
        """Finish the pending series computation and draw it (for tests and renders)."""
        if self._worker is not None:
            self._worker.join(timeout_s)
        self._take_series()

    def _draw_series(self) -> None:
        series = self.series
        if series is None:
            return
        x = series.centers_s
        self.rate_curve.setData(x, series.rate_per_s)
        self.failure_curve.setData(x, np.nan_to_num(series.failure_pct, nan=0.0))
        for name, values in (("p50", series.p50_ms), ("p95", series.p95_ms), ("p99", series.p99_ms)):
            self.latency_curves[name].setData(x, values, connect="finite")
        self.rate_plot.setXRange(series.start_ns[0] / 1e9, (series.start_ns[-1] + series.step_ns) / 1e9, padding=0)
        self.rate_plot.setYRange(0, max(float(np.nanmax(series.rate_per_s, initial=0)), 1.0) * 1.1, padding=0)
        self.failure_plot.setYRange(0, max(float(np.nanmax(series.failure_pct, initial=0)), 1.0) * 1.1, padding=0)
        top = np.nanmax(series.p99_ms, initial=0) if np.isfinite(series.p99_ms).any() else 1.0
        self.latency_plot.setYRange(0, max(float(top), 1.0) * 1.1, padding=0)

    def _place_time(self) -> None:
        window = self.model.time.window_ns()
        if window is None:
            return
        for band, cursor in zip(self.bands, self.cursors, strict=True):
            band.setRegion((window[0] / 1e9, window[1] / 1e9))
            cursor.setValue(window[1] / 1e9)

    # -- appearance ----------------------------------------------------------------------------------

    def _apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        background, text, dim = (qcolor(c).name() for c in (theme.background, theme.text, theme.text_dim))
        grid = qcolor(theme.grid).name()
        self.setStyleSheet(
            f"QWidget {{ background: {background}; color: {text}; }}"
            f"QHeaderView::section {{ background: {grid}; color: {dim}; border: none; padding: 2px; }}"
            f"QTableWidget {{ gridline-color: {grid}; }}"
        )
        self.plots.setBackground(qcolor(theme.background))
        for plot in self._all_plots():
            plot.titleLabel.setAttr("color", dim)
            plot.titleLabel.setText(plot.titleLabel.text, color=dim)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(qcolor(theme.text_dim))
                plot.getAxis(axis).setPen(qcolor(theme.text_dim))
        self.rate_curve.setPen(pg.mkPen(qcolor(theme.healthy), width=1.5))
        self.failure_curve.setPen(pg.mkPen(qcolor(theme.failing), width=1.5))
        for name, color in (("p50", theme.healthy), ("p95", theme.degraded), ("p99", theme.failing)):
            self.latency_curves[name].setPen(pg.mkPen(qcolor(color), width=1.5))
        for band, cursor in zip(self.bands, self.cursors, strict=True):
            band.setBrush(pg.mkBrush(qcolor(theme.selection, 45)))
            for line in band.lines:
                line.setPen(pg.mkPen(qcolor(theme.selection, 120), width=1))
            cursor.setPen(pg.mkPen(qcolor(theme.selection), width=2))
        self.latency_plot.legend.setLabelTextColor(qcolor(theme.text_dim))
