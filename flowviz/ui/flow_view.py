"""The flow chart widget: animated particles over a cached static layer; zoom, pan, fit, hover, select, pin."""

from __future__ import annotations

import dataclasses
import time
from html import escape

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QToolTip, QWidget

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.emphasis import Emphasis, emphasis_of
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import Selection
from flowviz.chart.semantic_zoom import SemanticZoom
from flowviz.chart.themes import Theme
from flowviz.chart.viewport import Viewport
from flowviz.chart.window_worker import WindowQueryWorker, WindowRequest, WindowResult
from flowviz.model.time_spec import format_latency_ms
from flowviz.ui.chart_painter import ChartPainter, figure_line, qcolor

FRAME_INTERVAL_MS = 16
REFRESH_INTERVAL_S = 0.25
INTERACTION_SETTLE_S = 0.15
SCRUB_INTERVAL_S = 0.08  # the chart follows a scrubbed cursor within 100 ms
_DRAG_THRESHOLD_PX = 4


class FlowChartView(QWidget):
    """Draws `model` and lets the user explore it. The static layer (edges, nodes, labels) is painted
    into a cached pixmap when data, view or emphasis changes; every frame only moves particles.
    Window queries of a scrub and of the periodic refresh run on a worker thread (newest only); the
    UI thread applies the finished frame and repaints. What is selected, hovered and lit is `selection` (the
    window's, shared with its panels; a view of its own without one): clicks, hover and Escape change it, and
    the chart draws it (`emphasis`)."""

    frame_applied = Signal(object)  # the WindowRequest whose frame the chart now shows
    clicked = Signal()  # a click chose a node or an edge (also the one chosen already: its panel comes forward)
    _window_ready = Signal(object)  # a WindowResult, emitted on the worker thread

    def __init__(
        self, model: FlowChartModel, selection: Selection | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.selection = selection if selection is not None else Selection()
        self.selection.subscribe(lambda _changed: self.update())
        self._emphasis = Emphasis()
        self._emphasis_key: tuple | None = None
        self.viewport = Viewport()
        self.semantic_zoom = SemanticZoom()  # groups open as the user zooms into them, close as they zoom out
        self.painter = ChartPainter(model.theme)
        self._static: tuple[QPixmap, QPixmap] | None = None
        self._skeleton: QPixmap | None = None
        self._label_key: tuple | None = None
        self._scrubbed_until = 0.0
        self._skeleton_key: tuple | None = None
        self._static_viewport = (1.0, 0.0, 0.0)  # scale and offset the cached layers were painted at
        self._static_cost_s = 0.0
        self._refresh_cost_s = 0.0
        self._interacting_until = 0.0
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.timeout.connect(self.update)
        self._static_key: tuple | None = None
        self._fitted = False
        self._user_moved = False  # zoomed or panned since the last fit: then no automatic refits
        self._fitted_bounds: tuple | None = None
        self._press: QPointF | None = None
        self._dragging_node: int | None = None
        self._panning = False
        self._last_tick = time.monotonic()
        self._last_refresh = 0.0
        self._refreshed_window: tuple[int, int] | None = None
        self.frames_painted = 0
        self._window_worker = WindowQueryWorker(self._query_window, self._deliver_window)
        self._window_ready.connect(self._apply_window, Qt.ConnectionType.QueuedConnection)
        self._applied_sequence = 0  # the newest request whose frame was applied (or overtaken by a refresh)
        self._applied_at = 0.0
        # a result older than the newest request is still shown when the chart is this old (a long drag)
        self.follow_interval_s = SCRUB_INTERVAL_S
        self.stale_results = 0  # finished queries dropped: an older position than the one shown or asked for
        # drawn over edges and nodes, under the particles: an object with `paint(painter, viewport)` (a comparison)
        self.overlay = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 240)

    # -- animation ----------------------------------------------------------------------------

    def tick(self) -> None:
        """One animation step (the window's frame clock calls it): time passes, the model refreshes when due,
        particles move, repaint."""
        now = time.monotonic()
        dt = min(now - self._last_tick, 0.1)
        self._last_tick = now
        self.model.tick(dt)
        since = now - self._last_refresh
        moved = self.model.time.window_ns() != self._refreshed_window
        # data: 4 Hz (less often when repainting is expensive); a moved cursor: within 100 ms
        cost_s = self._static_cost_s + self._refresh_cost_s  # UI-thread time one data refresh takes
        due = since >= max(REFRESH_INTERVAL_S, 4 * cost_s) or (moved and since >= SCRUB_INTERVAL_S)
        if due and not self._interacting():
            self._last_refresh = now
            self.request_refresh()
        self.update()

    def refresh(self) -> None:
        """Query the window and rebuild the chart now, on this thread (results still under way are dropped)."""
        self._applied_sequence = self._window_worker.latest_sequence
        self._applied_at = time.monotonic()
        self._refreshed_window = self.model.time.window_ns()
        self._rebuild(None)

    def request_refresh(self) -> WindowRequest | None:
        """Have the window queried off the UI thread when the chart would change (the request, else
        None); the frame is applied when it arrives (`frame_applied`)."""
        window = self.model.pending_window()
        self._refreshed_window = self.model.time.window_ns()
        return None if window is None else self._window_worker.request(*window)

    @property
    def window_queries(self) -> WindowQueryWorker:
        """The worker running this view's window queries (its counts: `coalesced`, `completed`)."""
        return self._window_worker

    def _rebuild(self, store_frame) -> bool:
        started = time.perf_counter()
        changed = self.model.refresh(store_frame)
        if changed:
            self._refresh_cost_s = time.perf_counter() - started
        if changed and not self._user_moved and self.model.bounds() != self._fitted_bounds:
            self.fit()  # on open, and while the graph grows, until the user takes the view over
        return changed

    def _query_window(self, start_ns: int, end_ns: int):
        """On the worker thread: the store's frame of a window (the store's snapshots are immutable)."""
        return self.model.store.query(start_ns, end_ns)

    def _deliver_window(self, result: WindowResult) -> None:
        """On the worker thread: hand the result to the UI thread."""
        try:
            self._window_ready.emit(result)
        except RuntimeError:  # the widget is gone
            self._window_worker.close()

    def _apply_window(self, result: WindowResult) -> None:
        """On the UI thread: show a finished query unless it is stale. A result older than the one shown
        never replaces it; one older than the newest request waits for that one, unless the chart has not
        changed for `follow_interval_s` (a long drag keeps showing where it passes)."""
        request = result.request
        newest = request.sequence == self._window_worker.latest_sequence
        passing = time.monotonic() - self._applied_at >= self.follow_interval_s
        if request.sequence <= self._applied_sequence or not (newest or passing):
            self.stale_results += 1
            return
        self._applied_sequence = request.sequence
        self._applied_at = time.monotonic()
        if result.frame is None:  # the query failed there: run it here, where its error is reported as before
            self.refresh()
        else:
            self._rebuild(result.frame)
        self.update()
        self.frame_applied.emit(request)

    def set_theme(self, theme: Theme) -> None:
        self.model.theme = theme
        self.painter = ChartPainter(theme)
        self._static_key = None
        self.model.refresh()
        self.update()

    # -- view ----------------------------------------------------------------------------------

    def fit(self) -> None:
        """Show the whole chart; automatic refits (resize, docks, a growing graph) resume after this."""
        self._adopt_screen_shape()
        bounds = self.model.bounds()
        if bounds is None:
            return
        self.viewport.width, self.viewport.height = self.width(), self.height()
        self.viewport.fit(bounds, margin_px=self._fit_margin_px(), margin_x_px=self._side_margin_px())
        self._fitted = True
        self._user_moved = False
        self._fitted_bounds = bounds
        self.update()

    def _fit_margin_px(self) -> float:
        """Room around a fitted chart for the labels of its outermost nodes."""
        return float(min(60.0, max(20.0, 0.03 * min(self.width(), self.height()))))

    def _side_margin_px(self) -> float:
        """Room left and right of a fitted chart for half the name of its first and last columns' nodes."""
        chart = self.model.chart
        if chart is None or not chart.node_visible.any():
            return self._fit_margin_px()
        x = chart.node_xy[:, 0]
        shown = chart.node_visible
        span = max(float(x[shown].max() - x[shown].min()), 1.0)
        outer = shown & ((x <= x[shown].min() + 0.02 * span) | (x >= x[shown].max() - 0.02 * span))
        longest = max(len(chart.node_names[i]) for i in np.flatnonzero(outer).tolist())
        name_px = self.painter.theme.label_min_px
        return float(min(0.15 * self.width(), max(self._fit_margin_px(), longest * name_px * 0.6 / 2 + 8)))

    def _adopt_screen_shape(self) -> None:
        """Spread the layout to this widget's width:height (once the user has not moved the view)."""
        if self.width() > 0 and self.height() > 0:
            self.model.set_aspect(self.width() / self.height())

    def show_view(self, scale: float, offset_x: float, offset_y: float) -> None:
        """Put the view where the user had it (no automatic refits until the next fit)."""
        self.viewport.scale, self.viewport.offset_x, self.viewport.offset_y = scale, offset_x, offset_y
        self._user_moved = True
        self.update()

    @property
    def user_moved(self) -> bool:
        """Whether the user zoomed or panned since the last fit (automatic refits are off then)."""
        return self._user_moved

    def hold_view(self) -> None:
        """Keep the current zoom and pan as if the user had set them (no automatic refits): a restored view."""
        self._user_moved = True

    def _user_moves_view(self) -> None:
        self._user_moved = True
        self._note_interaction()

    @property
    def emphasis(self) -> Emphasis:
        """The selection as drawn on the chart shown (its rows, neighbours, lit path), resolved again when the
        selection or the chart changed."""
        key = (self.selection.version, self.model.chart_version)
        if key != self._emphasis_key:
            node = self.selection.node
            neighbours = self.model.neighbours(node) if node is not None else frozenset()
            self._emphasis, self._emphasis_key = emphasis_of(self.selection, self.model.chart, neighbours), key
        return self._emphasis

    def select(self, node: int | None, *, center: bool = False) -> None:
        """Select a node of the chart (None: none), centred in the view with `center`."""
        chart = self.model.chart
        if center and node is not None and chart is not None:
            self.viewport.center_on(*chart.node_xy[node])
        self.selection.select_node(node)
        self.update()

    def select_edge(self, edge: int | None) -> None:
        """Emphasise one edge (its two ends stay lit); None clears it."""
        self.selection.select_edge(edge)

    def select_name(self, text: str) -> bool:
        """Select the best match for a search text (opening the group it is in) and zoom to it and its
        neighbours; False when nothing matches."""
        hits = self.model.find(text)
        if not hits and self.model.scoped is not None:
            needle = text.lower()
            inside = sorted(
                (name for name in self.model.scoped.group_of if needle in name.lower()),
                key=lambda name: (name.lower() != needle, len(name)),
            )
            if inside and self.expand_group_named(self.model.scoped.group_of[inside[0]]):
                hits = [self.model.chart.node_names.index(inside[0])]
        if not hits:
            return False
        self.select(hits[0])
        self.zoom_to_nodes([hits[0], *self.emphasis.neighbours])
        return True

    def zoom_to_nodes(self, nodes: list[int]) -> None:
        """Centre the first node and zoom so that the others show around it (at most 1.5x the layout's
        size); the view is the user's from then on (no automatic refits)."""
        chart = self.model.chart
        if chart is None or not nodes:
            return
        centre = chart.node_xy[nodes[0]]
        reach = np.abs(chart.node_xy[nodes] - centre).max(axis=0) + float(chart.node_radius[nodes].max()) * 2.5
        low, high = centre - reach, centre + reach
        self.viewport.fit((low[0], low[1], high[0], high[1]), margin_px=self._fit_margin_px())
        self.viewport.zoom_at(min(1.0, 1.5 / self.viewport.scale), self.width() / 2, self.height() / 2)
        self.viewport.center_on(*centre)
        self._user_moved = True
        self.update()

    # -- groups ----------------------------------------------------------------------------------

    def expand_group(self, node: int) -> bool:
        """Open the group drawn as `node` (its members take its place); False when it is no group."""
        chart = self.model.chart
        if chart is None or not self.model.members(node):
            return False
        return self.expand_group_named(chart.node_names[node][1:-1])

    def expand_group_named(self, label: str) -> bool:
        scope = self.model.scope
        if label in scope.expanded:
            return False
        self.semantic_zoom.note_user(label)
        self.select(None)
        self.model.set_scope(dataclasses.replace(scope, expanded=scope.expanded | {label}))
        self.refresh()
        self.update()
        return True

    def collapse_group_of(self, node: int) -> bool:
        """Close the open group `node` belongs to; False when it belongs to none."""
        chart, scoped = self.model.chart, self.model.scoped
        if chart is None or scoped is None or node >= chart.node_count:
            return False
        label = scoped.group_of.get(chart.node_names[node])
        scope = self.model.scope
        if label is None or label not in scope.expanded:
            return False
        self.semantic_zoom.note_user(label)
        self.select(None)
        self.model.set_scope(dataclasses.replace(scope, expanded=scope.expanded - {label}))
        self.refresh()
        self.update()
        return True

    # -- hit testing (widget pixels) ---------------------------------------------------------------

    def node_at_point(self, position: QPointF) -> int | None:
        """The node (or group) under a widget position, if any."""
        world = self.viewport.to_world(position.x(), position.y())
        return self.model.node_at(*world, slop=4.0 / self.viewport.scale)

    def edge_at_point(self, position: QPointF) -> int | None:
        """The edge passing under a widget position, if any."""
        world = self.viewport.to_world(position.x(), position.y())
        return self.model.edge_at(*world, slop=6.0 / self.viewport.scale)

    def label_at_point(self, position: QPointF) -> int | None:
        """The node whose drawn label is under a widget position, if any."""
        for label in self.painter.labels:
            if label.x <= position.x() <= label.x + label.width and label.y <= position.y() <= label.y + label.height:
                return label.node
        return None

    # -- painting --------------------------------------------------------------------------------

    def _new_pixmap(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        return pixmap

    def _view_key(self) -> tuple:
        """What the cached layers depend on besides the data: the view, its size, selection, theme."""
        viewport = self.viewport
        return (
            viewport.scale,
            viewport.offset_x,
            viewport.offset_y,
            self.width(),
            self.height(),
            self.emphasis.key(),
            self.painter.theme.name,
        )

    def _skeleton_layer(self, chart: ChartFrame) -> QPixmap:
        """Background and thin edges: depends on positions and the view only, so scrubbing reuses it."""
        key = (chart.geometry_version, *self._view_key())
        if self._skeleton is None or key != self._skeleton_key:
            pixmap = self._new_pixmap()
            painter = QPainter(pixmap)
            self.painter.paint_skeleton(painter, chart, self.viewport, self.emphasis)
            painter.end()
            self._skeleton, self._skeleton_key = pixmap, key
        return self._skeleton

    def _static_layers(self) -> tuple[QPixmap, QPixmap]:
        """(under the particles: skeleton, coloured edges, nodes; over them: labels), repainted only
        when something changed."""
        chart = self.model.chart
        key = (self.model.chart_version, *self._view_key(), self.emphasis.hovered)
        if self._static is None or key != self._static_key:
            started = time.perf_counter()
            label_key = (*key[1:], chart.geometry_version if chart is not None else None)
            reuse_labels = self._scrubbing() and self._static is not None and label_key == self._label_key
            labels = self._static[1] if reuse_labels else self._new_pixmap()
            if not reuse_labels:
                labels.fill(Qt.GlobalColor.transparent)
            if chart is None:
                base = self._new_pixmap()
                painter = QPainter(base)
                painter.fillRect(QRectF(0, 0, self.width(), self.height()), self.palette().window())
                painter.end()
            else:
                base = self._skeleton_layer(chart).copy()
                painter = QPainter(base)
                self.painter.paint_static(painter, chart, self.viewport, self.emphasis)
                painter.end()
                if not reuse_labels:
                    painter = QPainter(labels)
                    self.painter.paint_labels(painter, chart, self.viewport, self.emphasis)
                    painter.end()
            self._static, self._static_key, self._label_key = (base, labels), key, label_key
            if reuse_labels:
                self._static_key = None  # labels are stale: repaint them once the scrub pauses
            self._static_viewport = (self.viewport.scale, self.viewport.offset_x, self.viewport.offset_y)
            self._static_cost_s = time.perf_counter() - started
        return self._static

    def scrub_to(self, time_ns: int) -> None:
        """Seek and show that moment now (a jump made by the program: the chart is current on return)."""
        self._note_scrub(time_ns)
        self.refresh()
        self.update()

    def follow_scrub(self, time_ns: int) -> WindowRequest | None:
        """Seek as the user drags the cursor: returns at once; the window is queried off the UI thread and
        shown when ready (the newest position only). While seeks follow each other, labels keep their last
        figures (positions do not change) and catch up when the scrub pauses."""
        self._note_scrub(time_ns)
        self._last_refresh = time.monotonic()
        return self.request_refresh()

    def _note_scrub(self, time_ns: int) -> None:
        self.model.time.seek(time_ns)
        self._scrubbed_until = time.monotonic() + INTERACTION_SETTLE_S
        self._settle_timer.start(int(INTERACTION_SETTLE_S * 1000) + 10)

    def _scrubbing(self) -> bool:
        return time.monotonic() < self._scrubbed_until

    def _interacting(self) -> bool:
        return time.monotonic() < self._interacting_until

    def _note_interaction(self) -> None:
        """While the user zooms or pans, cached layers are transformed instead of repainted; a full
        repaint follows when they pause."""
        self._interacting_until = time.monotonic() + INTERACTION_SETTLE_S
        self._settle_timer.start(int(INTERACTION_SETTLE_S * 1000) + 10)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.viewport.width, self.viewport.height = self.width(), self.height()
        painter = QPainter(self)
        if self._interacting() and self._static is not None:
            base, labels = self._static
            cached_scale, cached_x, cached_y = self._static_viewport
            factor = self.viewport.scale / cached_scale
            painter.fillRect(self.rect(), qcolor(self.painter.theme.background))
            painter.save()
            painter.translate(self.viewport.offset_x - cached_x * factor, self.viewport.offset_y - cached_y * factor)
            painter.scale(factor, factor)
            painter.drawPixmap(0, 0, base)
            painter.restore()
            transformed = True  # labels are left out until the repaint: scaled text is unreadable
        else:
            base, labels = self._static_layers()
            painter.drawPixmap(0, 0, base)
            if self.overlay is not None:
                self.overlay.paint(painter, self.viewport)
            transformed = False
        chart = self.model.chart
        if chart is not None and len(self.model.particles):
            xy = self.viewport.to_screen(self.model.particles.positions(chart.edge_curve))
            size_px = self.model.theme.particle_px * min(max(self.viewport.scale, 0.8), 1.6)
            self.painter.paint_particles(painter, xy, self.model.particles.failed, size_px=size_px)
        if not transformed:
            painter.drawPixmap(0, 0, labels)
        painter.end()
        self.frames_painted += 1

    def render_image(self) -> QImage:
        """The chart as it looks now, particles included (for screenshots and `flowviz render`)."""
        image = QImage(self.width(), self.height(), QImage.Format.Format_ARGB32_Premultiplied)
        self.render(image)
        return image

    # -- input -----------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A resized window or a dock opening or closing: refit, unless the user has moved the view
        (then the view keeps its centre)."""
        old_w, old_h = self.viewport.width, self.viewport.height
        self.viewport.width, self.viewport.height = self.width(), self.height()
        if self._fitted and not self._user_moved:
            self.fit()
        elif self._fitted:
            self.viewport.pan((self.width() - old_w) / 2, (self.height() - old_h) / 2)
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        position = event.position()
        self.viewport.zoom_at(1.15**steps, position.x(), position.y())
        self._user_moves_view()
        self.apply_semantic_zoom(at=(position.x(), position.y()))
        self.update()

    def apply_semantic_zoom(self, *, at: tuple[float, float] | None = None) -> bool:
        """Open the group this zoom (at widget point `at`) gives room to, close those the zoom opened and has
        left (see `chart.semantic_zoom`); the selection stays on its node where it is still shown. True when
        groups changed."""
        chart = self.model.chart
        if chart is None:
            return False
        opening, closing = self.semantic_zoom.decide(chart, self.viewport, member_room=self.model.member_room(), at=at)
        scope = self.model.scope
        expanded = (scope.expanded | opening) - closing
        if expanded == scope.expanded:
            return False
        selected = None if self.emphasis.selected is None else chart.node_names[self.emphasis.selected]
        self.select(None)
        self.model.set_scope(dataclasses.replace(scope, expanded=expanded))
        self.refresh()
        names = self.model.chart.node_names if self.model.chart is not None else ()
        if selected in names:
            self.select(names.index(selected))
        return True

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._press = event.position()
        self._dragging_node = self.node_at_point(event.position())
        self._panning = False

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            moved = position - self._press
            if self._panning or abs(moved.x()) + abs(moved.y()) > _DRAG_THRESHOLD_PX:
                if self._dragging_node is not None:
                    self.model.pin(self._dragging_node, *self.viewport.to_world(position.x(), position.y()))
                    self.model.refresh()
                else:
                    self._panning = True
                    self.viewport.pan(moved.x(), moved.y())
                    self._press = position
                    self._user_moves_view()
                self.update()
            return
        self._hover(position)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        moved = event.position() - self._press
        if not self._panning and abs(moved.x()) + abs(moved.y()) <= _DRAG_THRESHOLD_PX:
            edge = None if self._dragging_node is not None else self.edge_at_point(event.position())
            if edge is not None:
                self.selection.select_edge(edge)
            else:
                self.selection.select_edge(None)
                self.selection.select_node(self._dragging_node)
            if edge is not None or self._dragging_node is not None:
                self.clicked.emit()
        self._press, self._dragging_node, self._panning = None, None, False

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """On a group: open it; elsewhere: fit."""
        node = self.node_at_point(event.position())
        if node is None or not self.expand_group(node):
            self.fit()

    def _group_key_target(self, key: int) -> int | None:
        """The node `+` (open a group) or `-` (close the open group of a node) would act on: the hovered
        node, else the selected one; None when the key means nothing there."""
        for node in (self.emphasis.hovered, self.emphasis.selected):
            if node is None or self.model.chart is None or node >= self.model.chart.node_count:
                continue
            if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal) and self.model.members(node):
                return node
            scoped, name = self.model.scoped, self.model.chart.node_names[node]
            group = scoped.group_of.get(name) if scoped is not None else None
            if key == Qt.Key.Key_Minus and group in self.model.scope.expanded:
                return node
        return None

    def event(self, event: QEvent) -> bool:
        # `+` and `-` change the replay speed elsewhere; over a group they open and close it
        if event.type() == QEvent.Type.ShortcutOverride and self._group_key_target(event.key()) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        target = self._group_key_target(event.key())
        if target is not None:
            if event.key() == Qt.Key.Key_Minus:
                self.collapse_group_of(target)
            else:
                self.expand_group(target)
        elif event.key() == Qt.Key.Key_F:
            self.fit()
        elif event.key() == Qt.Key.Key_Escape:
            self.selection.clear()
        else:
            super().keyPressEvent(event)

    def _hover(self, position: QPointF) -> None:
        node = self.node_at_point(position)
        chart = self.model.chart
        edge = self.edge_at_point(position) if node is None and chart is not None else None
        self.selection.hover(node, edge)
        if chart is None or (node is None and edge is None):
            QToolTip.hideText()
            return
        if node is None:
            text = edge_tooltip(chart, edge)
        else:
            errors = chart.node_error_ratio[node] * 100
            members = self.model.members(node)
            inside = f"<br>{len(members)} services — double-click or + to open" if members else ""
            text = (
                f"<b>{chart.node_names[node]}</b>{inside}<br>{figure_line(chart, node)}"
                f"<br>p50 {format_latency_ms(float(chart.node_p50_ms[node]))} · "
                f"p99 {format_latency_ms(float(chart.node_p99_ms[node]))}"
                f"<br>failures {errors:.2f}% over the last {chart.window_s:.0f} s"
                + _reason_html(chart.node_reason, node)
            )
        QToolTip.showText(self.mapToGlobal(position.toPoint()), text, self)


def _reason_html(reasons: tuple[str, ...], index: int) -> str:
    """Why it has its colour (the analysis's sentence), as tooltip lines."""
    if index >= len(reasons) or not reasons[index]:
        return ""
    return "".join(f"<br><b>{escape(line)}</b>" for line in reasons[index].splitlines())


def edge_tooltip(chart, edge: int) -> str:
    """An edge's figures as Kiali shows them: rate, failure %, p50/p95/p99, and why it has its colour."""
    names = chart.node_names
    via = f" via {chart.edge_via[edge]}" if chart.edge_via[edge] else ""
    return (
        f"<b>{escape(names[chart.edge_source[edge]])} → {escape(names[chart.edge_target[edge]])}</b>{escape(via)}"
        f"<br>{chart.edge_rate_per_s[edge]:.2f}/s · failures {100 * chart.edge_error_ratio[edge]:.2f}%"
        f"<br>p50 {format_latency_ms(float(chart.edge_p50_ms[edge]))} · "
        f"p95 {format_latency_ms(float(chart.edge_p95_ms[edge]))} · "
        f"p99 {format_latency_ms(float(chart.edge_p99_ms[edge]))} over the last {chart.window_s:.0f} s"
        + _reason_html(chart.edge_reason, edge)
    )
