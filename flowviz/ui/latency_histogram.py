"""A latency histogram on a log axis (one or more series: client vs server) with a range to list the traces in."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from flowviz.chart.latency_bars import BAR_COUNT, BAR_EDGES_LOG_MS, bar_counts, bars_of_bins, bins_of_bars, tick_label
from flowviz.chart.themes import RGBA, Theme
from flowviz.ui.chart_painter import qcolor


class LatencyHistogram(pg.PlotWidget):
    """Bars per latency band; with `selectable`, a range (snapped to bars) emits `range_selected(first, last bin)`."""

    range_selected = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, *, selectable: bool = True) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.getAxis("left").setWidth(44)
        plot.getAxis("bottom").setTicks([[(float(d), tick_label(d)) for d in range(-3, 6)]])
        self.legend = plot.addLegend(offset=(-4, 4), labelTextSize="7pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.counts: dict[str, np.ndarray] = {}
        self.selected_bars: tuple[int, int] | None = None
        self.region: pg.LinearRegionItem | None = None
        if selectable:
            self.region = pg.LinearRegionItem(movable=True)
            self.region.setZValue(10)
            self.region.hide()
            plot.addItem(self.region)
            self.region.sigRegionChangeFinished.connect(self._region_moved)
            self.scene().sigMouseClicked.connect(self._clicked)

    def set_series(self, series: list[tuple[str, np.ndarray, RGBA]]) -> None:
        """(label, `latency_bins` histogram, colour) per series; the x range covers the occupied bars."""
        for label in set(self.curves) - {s[0] for s in series}:
            self.removeItem(self.curves.pop(label))
            self.counts.pop(label)
        occupied = np.zeros(BAR_COUNT, bool)
        for label, histogram, color in series:
            counts = bar_counts(histogram)
            self.counts[label] = counts
            occupied |= counts > 0
            curve = self.curves.get(label)
            if curve is None:
                curve = self.curves[label] = self.plot(name=label, stepMode="center", fillLevel=0)
            curve.setData(BAR_EDGES_LOG_MS, counts)
            curve.setPen(pg.mkPen(qcolor(color), width=1.5))
            curve.setBrush(pg.mkBrush(qcolor(color, 90)))
        self.legend.setVisible(len(series) > 1)
        if occupied.any():
            bars = np.flatnonzero(occupied)
            low, high = max(int(bars[0]) - 2, 0), min(int(bars[-1]) + 3, BAR_COUNT)
            self.setXRange(BAR_EDGES_LOG_MS[low], BAR_EDGES_LOG_MS[high], padding=0)
            top = max(float(max(c.max() for c in self.counts.values())), 1.0)
            self.setYRange(0, top * 1.1, padding=0)

    def select_bars(self, first_bar: int, last_bar: int) -> None:
        """Select bars first_bar..last_bar (inclusive) and emit the bins they cover."""
        first_bar, last_bar = self._show_bars(first_bar, last_bar)
        self.range_selected.emit(*bins_of_bars(first_bar, last_bar))

    def show_bins(self, first_bin: int, last_bin: int) -> None:
        """Show the range of the bars that hold bins first_bin..last_bin (a range chosen elsewhere: no signal)."""
        self._show_bars(*bars_of_bins(first_bin, last_bin))

    def _show_bars(self, first_bar: int, last_bar: int) -> tuple[int, int]:
        first_bar, last_bar = sorted(
            (int(np.clip(first_bar, 0, BAR_COUNT - 1)), int(np.clip(last_bar, 0, BAR_COUNT - 1)))
        )
        self.selected_bars = (first_bar, last_bar)
        if self.region is not None:
            self.region.blockSignals(True)
            self.region.setRegion((BAR_EDGES_LOG_MS[first_bar], BAR_EDGES_LOG_MS[last_bar + 1]))
            self.region.blockSignals(False)
            self.region.show()
        return first_bar, last_bar

    def clear_selection(self) -> None:
        self.selected_bars = None
        if self.region is not None:
            self.region.hide()

    def _region_moved(self) -> None:
        low, high = self.region.getRegion()
        first = int(np.searchsorted(BAR_EDGES_LOG_MS, low + 1e-9, side="right")) - 1
        last = int(np.searchsorted(BAR_EDGES_LOG_MS, high - 1e-9, side="left")) - 1
        self.select_bars(first, max(last, first))

    def _clicked(self, event) -> None:
        """A click selects the bar under it (drag the range's edges to widen it)."""
        if self.region is None or (self.region.isVisible() and self.region.mouseHovering):
            return
        x = self.getPlotItem().vb.mapSceneToView(event.scenePos()).x()
        bar = int(np.searchsorted(BAR_EDGES_LOG_MS, x, side="right")) - 1
        if 0 <= bar < BAR_COUNT:
            self.select_bars(bar, bar)

    def apply_theme(self, theme: Theme) -> None:
        self.setBackground(qcolor(theme.background))
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(qcolor(theme.text_dim))
            plot.getAxis(axis).setPen(qcolor(theme.text_dim))
        self.legend.setLabelTextColor(qcolor(theme.text_dim))
        if self.region is not None:
            self.region.setBrush(pg.mkBrush(qcolor(theme.selection, 60)))
            for line in self.region.lines:
                line.setPen(pg.mkPen(qcolor(theme.selection), width=2))
