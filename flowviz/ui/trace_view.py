"""One kept trace as a waterfall (as Jaeger draws it): service colours, critical path marked, span details on click."""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSplitter, QVBoxLayout, QWidget

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import NODE, Selection
from flowviz.chart.themes import Theme
from flowviz.chart.waterfall import Waterfall, has_children, visible_indices, waterfall
from flowviz.decoders.span_details import SpanDetail
from flowviz.model.span_batch import SpanKind, StatusCode
from flowviz.model.time_spec import format_latency_ms
from flowviz.store.detail_queries import TraceQuery
from flowviz.store.exemplars import TraceSpans
from flowviz.ui.background import BackgroundJob
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.drill_down_panel import panel_style_sheet

ROW_PX = 22
NAME_COLUMN_PX = 300
INDENT_PX = 12
SERVICE_PALETTE = (
    "#56b4e9", "#e69f00", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#8dd3c7",
    "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f",
)  # fmt: skip
"""Okabe–Ito, then ColorBrewer Set3: distinguishable on dark and light backgrounds."""


def _pairs_html(pairs, *, indent: bool = False) -> str:
    pad = "padding-left:12px;" if indent else ""
    cell = f"{pad}padding-right:10px;color:gray"
    return "".join(f"<tr><td style='{cell}'>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in pairs)


def span_details_html(fall: Waterfall, row: int, more: SpanDetail | None = None, why_not: str = "") -> str:
    """What the details pane says about span `row` (a row of the spans, not of the waterfall); `more` is what the
    source's raw input holds of it (attributes, events, status message, resource), `why_not` why it is missing."""
    spans = fall.spans
    kind = SpanKind(int(spans.kind[row])).name.lower()
    status = StatusCode(int(spans.status[row])).name.lower()
    http = int(spans.http_status[row])
    lines = [
        ("service", spans.strings[int(spans.service[row])]),
        ("operation", spans.strings[int(spans.name[row])]),
        ("kind", kind),
        ("status", status + (f" · HTTP {http}" if http else "")),
        ("peer", spans.strings[int(spans.peer[row])] or "–"),
        ("starts at", f"+{format_latency_ms((int(spans.start_ns[row]) - fall.start_ns) / 1e6)}"),
        ("duration", f"{format_latency_ms((int(spans.end_ns[row]) - int(spans.start_ns[row])) / 1e6)}"),
        (
            "critical path",
            f"{format_latency_ms(int(fall.path.self_ns[row]) / 1e6)} of its own time"
            if fall.path.critical[row]
            else "not on it",
        ),
        ("span id", f"{int(spans.span_id[row]):016x}"),
        ("parent id", f"{int(spans.parent_id[row]):016x}" if int(spans.parent_id[row]) else "– (root)"),
    ]
    body = "".join(f"<tr><td style='padding-right:10px'>{k}</td><td><b>{escape(v)}</b></td></tr>" for k, v in lines)
    if more is None:
        note = why_not or "Attributes and events: not available for this source."
        return f"<table>{body}</table><p style='color:gray'>{escape(note)}</p>"
    if more.status_message:
        body += f"<tr><td>status message</td><td><b>{escape(more.status_message)}</b></td></tr>"
    body += f"<tr><td colspan=2><br><b>Attributes</b> ({len(more.attributes)})</td></tr>" + _pairs_html(more.attributes)
    if more.events:
        body += f"<tr><td colspan=2><br><b>Events</b> ({len(more.events)})</td></tr>"
        start = int(spans.start_ns[row])
        for time_ns, name, attributes in more.events:
            offset = f"+{format_latency_ms((time_ns - start) / 1e6)}" if time_ns else ""
            body += f"<tr><td style='padding-right:10px'>{offset}</td><td><b>{escape(name)}</b></td></tr>"
            body += _pairs_html(attributes, indent=True)
    scope = f" · scope {escape(more.scope)}" if more.scope else ""
    body += f"<tr><td colspan=2><br><b>Resource</b>{scope}</td></tr>" + _pairs_html(more.resource)
    return f"<table>{body}</table>"


class WaterfallCanvas(QWidget):
    """Paints the rows; a click selects a span (`span_clicked` with its row in the spans), a click on a row's
    triangle folds or unfolds its subtree; rows matching the find field are marked, and the spans of
    `marked_service` (the service selected on the chart) carry a bar in the selection colour at their left."""

    span_clicked = Signal(int)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.fall: Waterfall | None = None
        self.selected: int | None = None
        self.colors: dict[str, QColor] = {}
        self.collapsed: set[int] = set()  # waterfall indices whose subtree is folded
        self.matches: set[int] = set()  # span rows the find field matches
        self.marked_service: str | None = None
        self.visible = np.zeros(0, np.int64)
        self._parents = np.zeros(0, bool)
        self._name_px = NAME_COLUMN_PX
        self._name_px_for: str | None = None
        self.setMouseTracking(False)

    def set_waterfall(self, fall: Waterfall | None) -> None:
        self.fall, self.selected = fall, None
        self.collapsed, self.matches = set(), set()
        services = fall.services() if fall is not None else []
        self.colors = {name: QColor(SERVICE_PALETTE[i % len(SERVICE_PALETTE)]) for i, name in enumerate(services)}
        self._parents = has_children(fall.depth) if fall is not None else np.zeros(0, bool)
        self._name_px_for = None  # measured again with the font the canvas paints with
        self._relayout()

    def _relayout(self) -> None:
        fall = self.fall
        self.visible = visible_indices(fall.depth, self.collapsed) if fall is not None else np.zeros(0, np.int64)
        self.setMinimumHeight(ROW_PX * (len(self.visible) + 1) + 8)
        self.update()

    def name_column_px(self) -> int:
        """The names' column: what the longest name needs, at most half the width (names elide beyond)."""
        fall, font_key = self.fall, self.font().toString()
        if fall is not None and len(fall.order) and self._name_px_for != font_key:
            metrics, spans = QFontMetrics(self.font()), fall.spans
            widths = [
                INDENT_PX * int(level)
                + 26
                + metrics.horizontalAdvance(
                    f"{spans.strings[int(spans.service[row])]}  {spans.strings[int(spans.name[row])]}"
                )
                for row, level in zip(fall.order.tolist(), fall.depth.tolist(), strict=True)
            ]
            self._name_px, self._name_px_for = max(NAME_COLUMN_PX, max(widths)), font_key
        return int(min(self._name_px, max(NAME_COLUMN_PX, self.width() // 2)))

    def toggle(self, index: int) -> None:
        """Fold or unfold the subtree under waterfall index `index`."""
        if index in self.collapsed:
            self.collapsed.discard(index)
        elif self._parents[index]:
            self.collapsed.add(index)
        self._relayout()

    def reveal(self, row: int) -> int:
        """Unfold what hides span `row` and select it; returns its y in pixels (to scroll to)."""
        fall = self.fall
        assert fall is not None
        index = int(np.flatnonzero(fall.order == row)[0])
        level = int(fall.depth[index])
        for above in range(index - 1, -1, -1):  # its ancestors: the nearest earlier rows of smaller depth
            if int(fall.depth[above]) < level:
                self.collapsed.discard(above)
                level = int(fall.depth[above])
        self.selected = row
        self._relayout()
        return ROW_PX * (int(np.flatnonzero(self.visible == index)[0]) + 1)

    def index_at(self, y: float) -> int | None:
        """The waterfall index of the row at `y` (None: the header or below the rows)."""
        position = int((y - ROW_PX) // ROW_PX)
        return int(self.visible[position]) if 0 <= position < len(self.visible) else None

    def row_at(self, y: float) -> int | None:
        index = self.index_at(y)
        return int(self.fall.order[index]) if index is not None and self.fall is not None else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().y())
        if index is None or self.fall is None:
            return
        indent = INDENT_PX * int(self.fall.depth[index])
        if self._parents[index] and indent <= event.position().x() < indent + 16:
            self.toggle(index)
            return
        self.selected = int(self.fall.order[index])
        self.span_clicked.emit(self.selected)
        self.update()

    def _triangle(self, painter: QPainter, x: float, y: float, *, open_: bool, color: QColor) -> None:
        """The fold marker, drawn (a font may lack ▸ and ▾)."""
        if open_:
            points = [QPointF(x, y + 8), QPointF(x + 8, y + 8), QPointF(x + 4, y + 13)]
        else:
            points = [QPointF(x + 1, y + 6), QPointF(x + 6, y + 10.5), QPointF(x + 1, y + 15)]
        path = QPainterPath()
        path.addPolygon(QPolygonF(points))
        painter.fillPath(path, color)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        theme = self.theme
        painter.fillRect(self.rect(), qcolor(theme.background))
        fall = self.fall
        if fall is None:
            return
        spans = fall.spans
        font = QFont(self.font())
        metrics = QFontMetrics(font)
        painter.setFont(font)
        left = self.name_column_px()
        width = max(self.width() - left - 70, 50)
        scale = width / fall.duration_ns
        text, dim, grid = qcolor(theme.text), qcolor(theme.text_dim), qcolor(theme.grid)
        painter.setPen(dim)
        ticks = max(1, min(4, width // 80))  # as many as have room for their labels
        for k in range(ticks + 1):  # time ticks
            x = left + width * k / ticks
            painter.drawLine(int(x), ROW_PX - 4, int(x), self.height())
            label = "0" if k == 0 else format_latency_ms(fall.duration_ns * k / ticks / 1e6)
            painter.drawText(int(x) + 3, ROW_PX - 8, label)
        top = event.rect().top() // ROW_PX - 1
        bottom = event.rect().bottom() // ROW_PX + 1
        critical = qcolor(theme.text)
        for position in range(max(top, 0), min(bottom, len(self.visible))):
            index = int(self.visible[position])
            row = int(fall.order[index])
            y = ROW_PX * (position + 1)
            if row == self.selected:
                painter.fillRect(QRectF(0, y, self.width(), ROW_PX), qcolor(theme.selection, 50))
            elif row in self.matches:
                painter.fillRect(QRectF(0, y, self.width(), ROW_PX), qcolor(theme.degraded, 60))
            elif position % 2:
                painter.fillRect(QRectF(0, y, self.width(), ROW_PX), qcolor(theme.grid, 60))
            service = spans.strings[int(spans.service[row])]
            if service == self.marked_service:
                painter.fillRect(QRectF(0, y + 2, 4, ROW_PX - 4), qcolor(theme.selection))
            color = self.colors.get(service, QColor("#888888"))
            indent = INDENT_PX * int(fall.depth[index])
            if self._parents[index]:
                self._triangle(painter, indent + 2, y, open_=index not in self.collapsed, color=dim)
            painter.fillRect(QRectF(indent + 13, y + 4, 4, ROW_PX - 8), color)
            name = f"{service}  {spans.strings[int(spans.name[row])]}"
            painter.setPen(text)
            painter.drawText(
                indent + 21, y + ROW_PX - 6, metrics.elidedText(name, Qt.TextElideMode.ElideRight, left - indent - 25)
            )
            start, end = int(spans.start_ns[row]), int(spans.end_ns[row])
            x0 = left + (start - fall.start_ns) * scale
            bar = QRectF(x0, y + 4, max((end - start) * scale, 2.0), ROW_PX - 8)
            painter.fillRect(bar, color)
            if spans.status[row] == StatusCode.ERROR:
                painter.fillRect(QRectF(bar.left(), bar.bottom() - 3, bar.width(), 3), qcolor(theme.failing))
            if fall.path.critical[row]:  # a bright line through the bar, as Jaeger marks the critical path
                painter.fillRect(QRectF(bar.left(), bar.center().y() - 1.5, bar.width(), 3), critical)
            painter.setPen(dim)
            painter.drawText(int(bar.right()) + 4, y + ROW_PX - 6, f"{format_latency_ms((end - start) / 1e6)}")
        painter.setPen(QPen(grid, 1))
        painter.drawLine(left - 4, 0, left - 4, self.height())
        painter.end()


class TraceView(QWidget):
    """Fetches a kept trace from `details` (off the UI thread) and shows it. It writes the trace's path (its services
    and calls, by name) into `selection` for the chart to light (cleared with the trace), and reads from it the
    service selected on the chart (`model`'s rows), whose spans it marks."""

    def __init__(
        self, details: object | None, model: FlowChartModel, selection: Selection, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.details = details
        self.model = model
        self.selection = selection
        self.trace_id: str | None = None
        self.fall: Waterfall | None = None
        self.span_info: dict[int, SpanDetail] | None = None  # attributes, events, ... by span id
        self.span_info_note = ""
        self._job = BackgroundJob("flowviz-trace")
        self.header = QLabel("Choose a trace in a panel's Traces or Latency tab", self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.canvas = WaterfallCanvas(model.theme, self)
        self.canvas.span_clicked.connect(self._show_span)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.canvas)
        self.scroll = scroll
        self.find_field = QLineEdit(self)
        self.find_field.setPlaceholderText("Find a span: service or operation (Enter: next)")
        self.find_field.setClearButtonEnabled(True)
        self.find_field.setMaximumWidth(360)
        self.find_field.textChanged.connect(self._find_changed)
        self.find_field.returnPressed.connect(self.find_next)
        self.find_count = QLabel(self)
        self._match_order: list[int] = []
        self._match_at = -1
        self.span_details = QLabel("Click a span for its details", self)
        self.span_details.setTextFormat(Qt.TextFormat.RichText)
        self.span_details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.span_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.span_details.setWordWrap(True)
        details_scroll = QScrollArea(self)  # attributes and events can run long
        details_scroll.setWidgetResizable(True)
        details_scroll.setWidget(self.span_details)
        details_scroll.setMinimumWidth(340)
        details_scroll.setMaximumWidth(520)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(scroll)
        splitter.addWidget(details_scroll)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 440])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.header)
        find_row = QHBoxLayout()
        find_row.addWidget(self.find_field)
        find_row.addWidget(self.find_count)
        find_row.addStretch(1)
        layout.addLayout(find_row)
        layout.addWidget(splitter, 1)
        self.set_theme(model.theme)
        selection.subscribe(self._selection_changed)
        self._selection_changed(frozenset({NODE}))

    def _selection_changed(self, changed: frozenset[str]) -> None:
        if NODE in changed:
            self.canvas.marked_service = self.selection.node_name(self.model.chart)
            self.canvas.update()

    def set_theme(self, theme: Theme) -> None:
        self.canvas.theme = theme
        self.setStyleSheet(panel_style_sheet(theme))
        self.canvas.update()

    def show_trace(self, trace_id: str) -> None:
        """Fetch and show a kept trace (the answer arrives on a later `refresh`)."""
        if self.details is None:
            self.header.setText("No span details for this source.")
            return
        self.trace_id = trace_id
        self.header.setText(f"Trace <b>{trace_id}</b>: loading…")
        self._job.wait(1.0)  # one at a time: a fetch takes milliseconds
        self._job.take()
        self._job.start(trace_id, self._fetch, trace_id)

    def _fetch(self, trace_id: str) -> tuple[TraceSpans | None, dict[int, SpanDetail] | None, str]:
        """The kept spans, and what the source's raw input still holds of them (runs off the UI thread)."""
        answer = self.details.ask(TraceQuery(trace_id))
        return answer.spans, answer.span_details, answer.note

    def refresh(self) -> None:
        done = self._job.take()
        if done is None:
            return
        trace_id, fetched, error = done
        if trace_id != self.trace_id:
            return
        spans, self.span_info, self.span_info_note = fetched if fetched is not None else (None, None, "")
        if error is not None or spans is None:
            self.header.setText(
                f"Trace <b>{trace_id}</b>: "
                f"{error or self.span_info_note or 'no longer kept (older than what the store retains)'}"
            )
            self.show_waterfall(None)
            return
        self.show_waterfall(waterfall(spans))

    def wait(self, timeout_s: float = 10.0) -> None:
        self._job.wait(timeout_s)
        self.refresh()

    def show_waterfall(self, fall: Waterfall | None) -> None:
        self.fall = fall
        self.canvas.set_waterfall(fall)
        self._find_changed(self.find_field.text())
        self.span_details.setText("Click a span for its details")
        if fall is None:
            self.selection.clear_path()
            return
        spans = fall.spans
        shares = sorted(fall.path.service_ns.items(), key=lambda item: -item[1])[:4]
        share_text = ", ".join(
            f"{spans.strings[service]} {100 * ns / max(fall.path.duration_ns, 1):.0f} %" for service, ns in shares
        )
        failed = int((spans.status == StatusCode.ERROR).sum())
        self.header.setText(
            f"Trace <b>{spans.trace_id}</b> · {format_latency_ms(fall.duration_ns / 1e6)} · {len(spans)} spans · "
            f"{len(fall.services())} services"
            + (f" · <b>{failed} failed spans</b>" if failed else "")
            + f"<br>critical path (the line through the bars): {share_text}"
            + (" · <i>truncated: only the earliest spans are kept</i>" if spans.truncated else "")
        )
        self.selection.show_path(*fall.path_on_chart())

    def _find_changed(self, text: str) -> None:
        """Mark the spans whose service or operation contains `text` (any case), in waterfall order."""
        fall, needle = self.fall, text.strip().lower()
        self._match_order, self._match_at = [], -1
        if fall is not None and needle:
            spans = fall.spans
            self._match_order = [
                row
                for row in fall.order.tolist()
                if needle in spans.strings[int(spans.service[row])].lower()
                or needle in spans.strings[int(spans.name[row])].lower()
            ]
        self.canvas.matches = set(self._match_order)
        self.find_count.setText(f"{len(self._match_order)} spans match" if needle else "")
        self.canvas.update()

    def find_next(self) -> None:
        """Select the next matching span: unfold what hides it, scroll to it, show its details."""
        if not self._match_order:
            return
        self._match_at = (self._match_at + 1) % len(self._match_order)
        row = self._match_order[self._match_at]
        y = self.canvas.reveal(row)
        self.scroll.ensureVisible(0, y + ROW_PX // 2, 0, ROW_PX * 2)
        self.find_count.setText(f"{self._match_at + 1} of {len(self._match_order)}")
        self._show_span(row)

    def _show_span(self, row: int) -> None:
        if self.fall is None:
            return
        more = None
        if self.span_info is not None:
            more = self.span_info.get(int(self.fall.spans.span_id[row]))
        self.span_details.setText(span_details_html(self.fall, row, more, self.span_info_note))
