"""Rate, failure % and latency percentiles of a node or an edge over the retained range, window and cursor drawn."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from flowviz.analysis.history import History, history
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import Theme
from flowviz.ui.background import BackgroundJob
from flowviz.ui.chart_painter import qcolor

HISTORY_INTERVAL_S = 2.0  # live data: recompute at most this often


class HistoryPlots(pg.GraphicsLayoutWidget):
    """Three linked plots for what `track` names; `refresh()` recomputes in the background when data changed."""

    def __init__(self, model: FlowChartModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.target: tuple[str, int] | None = None  # ("node" | "edge", store id)
        self.series: History | None = None
        self._job = BackgroundJob("flowviz-history")
        self._key: tuple | None = None
        self._started_at = 0.0
        self.setMinimumHeight(240)
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
        for plot, band, cursor in zip(self.all_plots, self.bands, self.cursors, strict=True):
            band.setZValue(-10)
            plot.addItem(band)
            plot.addItem(cursor)

    def _add_plot(self, row: int, label: str) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
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

    @property
    def all_plots(self) -> tuple[pg.PlotItem, pg.PlotItem, pg.PlotItem]:
        return self.rate_plot, self.failure_plot, self.latency_plot

    def track(self, kind: str, index: int | None) -> None:
        """Follow node or edge `index` (store id; None: nothing)."""
        target = None if index is None else (kind, index)
        if target != self.target:
            self.target, self.series, self._key = target, None, None
            for curve in (self.rate_curve, self.failure_curve, *self.latency_curves.values()):
                curve.setData([], [])

    def refresh(self) -> None:
        self._start()
        self._take()
        self._place_time()

    def wait(self, timeout_s: float = 10.0) -> None:
        """Finish the running computation and draw it (for tests and renders)."""
        self._job.wait(timeout_s)
        self._take()

    def _start(self) -> None:
        available = self.model.available()
        if self.target is None or available is None:
            return
        key = (self.model.store.data_version, self.target, available.start_ns, available.end_ns)
        same_target = self._key is not None and self._key[1] == self.target
        recent = time.monotonic() - self._started_at < HISTORY_INTERVAL_S
        if key == self._key or (same_target and recent):
            return
        kind, index = self.target
        query = {kind: index}
        if self._job.start(key, lambda: history(self.model.store, available.start_ns, available.end_ns, **query)):
            self._key, self._started_at = key, time.monotonic()

    def _take(self) -> None:
        done = self._job.take()
        if done is None:
            return
        key, series, _error = done
        if series is not None and key[1] == self.target:
            self.series = series
            self._draw()

    def _draw(self) -> None:
        series = self.series
        if series is None or not len(series.start_ns):
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

    def apply_theme(self, theme: Theme) -> None:
        dim = qcolor(theme.text_dim).name()
        self.setBackground(qcolor(theme.background))
        for plot in self.all_plots:
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
