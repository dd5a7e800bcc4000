"""The timeline strip under the chart: the whole retained range, calls and failures, window band, cursor, marks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from flowviz.analysis.findings import Finding
from flowviz.analysis.health import FAILING, severity
from flowviz.analysis.live_findings import LiveDiagnosis
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import Theme
from flowviz.derive.consumer_lag import LagMark
from flowviz.model.time_control import SECOND_NS
from flowviz.ui.chart_painter import qcolor

TARGET_STEPS = 900  # bars across the strip
NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A named moment the user wants to come back to."""

    time_ns: int
    name: str


def step_for(span_ns: int) -> int:
    """A round step (1 s, 2 s, 5 s, ... 1 h) giving about `TARGET_STEPS` bars over `span_ns`."""
    wanted_s = span_ns / SECOND_NS / TARGET_STEPS
    return next((s for s in NICE_STEPS_S if s >= wanted_s), NICE_STEPS_S[-1]) * SECOND_NS


class _ScrubViewBox(pg.ViewBox):
    """Click or drag scrubs; Shift+drag brushes a loop range. No zooming or panning: the strip shows everything."""

    def __init__(self, strip: TimelineStrip) -> None:
        super().__init__(enableMouse=False, enableMenu=False)
        self._strip = strip

    def mouseClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._strip.scrub_to(self.mapSceneToView(event.scenePos()).x())
            event.accept()

    def mouseDragEvent(self, event, axis=None) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        event.accept()
        x = self.mapSceneToView(event.scenePos()).x()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            start = self.mapSceneToView(event.buttonDownScenePos()).x()
            self._strip.brush_loop(min(start, x), max(start, x), finished=event.isFinish())
        else:
            self._strip.scrub_to(x)


def _mark_tip(mark: Finding | LagMark) -> str:
    if isinstance(mark, Finding):
        return f"{mark.subject}: {mark.describe()}"
    return f"{mark.group}: {mark.text}"


class TimelineStrip(QWidget):
    """Shows `model`'s store over its whole retained range and its time control's window and cursor."""

    scrubbed = Signal(object)  # the new cursor, ns
    finding_clicked = Signal(object)  # a `Finding` whose mark was clicked

    def __init__(self, model: FlowChartModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.bookmarks: list[Bookmark] = []
        self.marks: list[Finding] = []  # the findings marked on the strip (from the analysis)
        self.findings: Callable[[], LiveDiagnosis] | None = None
        self.group_marks: list[LagMark] = []
        self._marks_version: tuple[int, int] = (-1, -1)
        self._seen_version: tuple | None = None
        self._updating = False
        self._view_box = _ScrubViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self._view_box, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getAxis("left").setWidth(48)
        self.plot.setMinimumHeight(110)
        self.plot.setMaximumHeight(150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._calls = pg.PlotCurveItem(fillLevel=0)
        self._failures = pg.PlotCurveItem(fillLevel=0)
        self.plot.addItem(self._failures)  # total height, drawn under the ok part: the red on top is failures
        self.plot.addItem(self._calls)
        self.window_band = pg.LinearRegionItem(movable=True, swapMode="block")
        self.window_band.setZValue(10)
        self.window_band.sigRegionChanged.connect(self._band_moved)
        self.plot.addItem(self.window_band)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=True)
        self.cursor_line.setZValue(20)
        self.cursor_line.sigDragged.connect(lambda line: self.scrub_to(line.value()))
        self.plot.addItem(self.cursor_line)
        self.loop_band = pg.LinearRegionItem(movable=True)
        self.loop_band.setZValue(5)
        self.loop_band.sigRegionChangeFinished.connect(self._loop_moved)
        self.loop_band.hide()
        self.plot.addItem(self.loop_band)
        self._mark_items: list[pg.GraphicsObject] = []
        self._bookmark_items: list[pg.GraphicsObject] = []
        self.set_theme(model.theme)

    # -- appearance -------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        self.plot.setBackground(qcolor(theme.background))
        ok_color, failing = qcolor(theme.edge), qcolor(theme.failing)  # opaque: the red shows only above
        self._calls.setPen(pg.mkPen(ok_color))
        self._calls.setBrush(pg.mkBrush(ok_color))
        self._failures.setPen(pg.mkPen(failing))
        self._failures.setBrush(pg.mkBrush(failing))
        selection = theme.selection
        self.window_band.setBrush(pg.mkBrush(qcolor(selection, 55)))
        for line in self.window_band.lines:
            line.setPen(pg.mkPen(qcolor(selection, 160), width=1))
        self.cursor_line.setPen(pg.mkPen(qcolor(selection), width=2))
        self.loop_band.setBrush(pg.mkBrush(qcolor(theme.degraded, 45)))
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(qcolor(theme.text_dim))
            self.plot.getAxis(axis).setPen(qcolor(theme.text_dim))
        self._theme = theme
        self._seen_version = None
        if self._bookmark_items:
            self.set_bookmarks(self.bookmarks)  # their lines and names in the new theme's text colour

    # -- updates ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """New data: redraw the bars (and now and then the marks); always re-place band and cursor."""
        store, available = self.model.store, self.model.available()
        if available is None:
            return
        version = (store.data_version, available.start_ns, available.end_ns, self._theme.name)
        if version != self._seen_version:
            self._seen_version = version
            step_ns = step_for(available.end_ns - available.start_ns)
            first = available.start_ns // step_ns * step_ns
            timeline = store.timeline(first, available.end_ns + step_ns, step_ns=step_ns)
            if timeline.bucket_start_ns.size == 0:
                return
            edges = np.append(timeline.bucket_start_ns, timeline.bucket_start_ns[-1] + step_ns) / 1e9
            per_s = step_ns / SECOND_NS
            self._failures.setData(edges, timeline.requests / per_s, stepMode="center", fillLevel=0)
            self._calls.setData(edges, (timeline.requests - timeline.failures) / per_s, stepMode="center", fillLevel=0)
            self.plot.setXRange(available.start_ns / 1e9, available.end_ns / 1e9, padding=0.01)
            self.plot.setYRange(0, max(float(timeline.requests.max(initial=0)) / per_s, 1.0) * 1.1, padding=0)
        latest = self.findings() if self.findings is not None else None
        marks_version = (latest.version if latest is not None else -1, store.consumer_lag.version)
        if marks_version != self._marks_version:
            self._marks_version = marks_version
            self.marks = list(latest.diagnosis.findings) if latest is not None else []
            # rebalances and consumer groups changing state (Kafka events), as they were polled
            self.group_marks = store.consumer_lag.marks(available.start_ns, available.end_ns + SECOND_NS)
            self._draw_marks()
        self._place_time()

    def _place_time(self) -> None:
        window = self.model.time.window_ns()
        if window is None:
            return
        self._updating = True
        try:
            self.window_band.setRegion((window[0] / 1e9, window[1] / 1e9))
            self.cursor_line.setValue(window[1] / 1e9)
        finally:
            self._updating = False

    def _draw_marks(self) -> None:
        """Each finding as a bar along the top from onset to end, and a clickable marker at its onset (its tooltip
        names the node and the departure)."""
        for item in self._mark_items:
            self.plot.removeItem(item)
        self._mark_items = []
        if not self.marks and not self.group_marks:
            return
        top = self.plot.getViewBox().viewRange()[1][1]
        spots = []
        for mark in self.marks:
            color = self._theme.failing if severity(mark) >= FAILING else self._theme.degraded
            span = pg.PlotCurveItem(
                [mark.onset_ns / 1e9, max(mark.end_ns, mark.onset_ns + SECOND_NS) / 1e9],
                [top * 0.92, top * 0.92],
                pen=pg.mkPen(qcolor(color, 200), width=3),
            )
            span.setToolTip(f"{mark.subject}: {mark.describe()}")
            span.setZValue(25)
            self.plot.addItem(span)
            self._mark_items.append(span)
            spots.append({"pos": (mark.onset_ns / 1e9, top * 0.92), "brush": pg.mkBrush(qcolor(color)), "data": mark})
        for mark in self.group_marks:
            spots.append(
                {
                    "pos": (mark.time_ns / 1e9, top * 0.78),
                    "brush": pg.mkBrush(qcolor(self._theme.selection)),
                    "symbol": "d",
                    "data": mark,
                }
            )
        markers = pg.ScatterPlotItem(size=11, symbol="t", pen=pg.mkPen(qcolor(self._theme.background), width=1))
        markers.setData(spots, tip=lambda x, y, data: _mark_tip(data))
        markers.setZValue(30)
        markers.sigClicked.connect(self._mark_clicked)
        self.plot.addItem(markers)
        self._mark_items.append(markers)

    def _mark_clicked(self, _item, points, _event) -> None:
        value = points[0].data()
        if isinstance(value, Finding):
            self.finding_clicked.emit(value)
        else:  # a consumer group's mark: go there
            self.scrub_to(value.time_ns / 1e9 + 1)

    def set_bookmarks(self, bookmarks: list[Bookmark]) -> None:
        self.bookmarks = sorted(bookmarks, key=lambda b: b.time_ns)
        for item in self._bookmark_items:
            self.plot.removeItem(item)
        self._bookmark_items = []
        for bookmark in self.bookmarks:
            line = pg.InfiniteLine(
                pos=bookmark.time_ns / 1e9,
                angle=90,
                movable=False,
                pen=pg.mkPen(qcolor(self._theme.text), width=1, style=Qt.PenStyle.DashLine),
                label=bookmark.name,
                labelOpts={"position": 0.9, "color": qcolor(self._theme.text)},
            )
            line.setZValue(15)
            self.plot.addItem(line)
            self._bookmark_items.append(line)

    # -- user input ------------------------------------------------------------------------------

    def scrub_to(self, x_s: float) -> None:
        """Put the cursor (the window's end) at `x_s` seconds since the epoch."""
        if self._updating:
            return
        self.model.time.seek(int(x_s * SECOND_NS))
        self._place_time()
        self.scrubbed.emit(self.model.time.cursor_ns)

    def _band_moved(self) -> None:
        if self._updating:
            return
        start_s, end_s = self.window_band.getRegion()
        self.model.time.set_window(max(end_s - start_s, 1.0))
        self.scrub_to(end_s)

    def brush_loop(self, start_s: float, end_s: float, *, finished: bool) -> None:
        self.loop_band.setRegion((start_s, end_s))
        self.loop_band.show()
        if finished:
            self._loop_moved()

    def _loop_moved(self) -> None:
        start_s, end_s = self.loop_band.getRegion()
        if end_s - start_s < 1.0:
            self.clear_loop()
            return
        self.model.time.set_loop(int(start_s * SECOND_NS), int(end_s * SECOND_NS))

    def clear_loop(self) -> None:
        self.model.time.set_loop(None)
        self.loop_band.hide()

    def x_of(self, time_ns: int) -> QPointF:
        """Widget coordinates of a moment on the strip (for tests and overlays)."""
        scene = self._view_box.mapViewToScene(QPointF(time_ns / 1e9, 0))
        return self.plot.mapFromScene(scene)
