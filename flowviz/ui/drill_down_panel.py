"""What the service and edge panels share: title, window figures, history, tabs, traces, and the details query."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from flowviz.analysis.partition_rows import PartitionTableModel
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import Selection
from flowviz.chart.themes import Theme
from flowviz.sources.metric_details import EXEMPLAR_REASON
from flowviz.store.exemplars import KINDS, Exemplar
from flowviz.ui.background import BackgroundJob
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.history_plots import HistoryPlots
from flowviz.ui.latency_histogram import LatencyHistogram
from flowviz.ui.partition_table import PartitionTable
from flowviz.ui.trace_table import TraceTable
from flowviz.ui.ui_scale import base_point_size

DETAILS_INTERVAL_S = 1.0  # live data: re-query the details at most this often
EXEMPLAR_LIMIT = 25
NO_DETAILS = "No span details for this source (they come with spans, not with dependency lists)."


def panel_style_sheet(theme: Theme) -> str:
    """The panels' colours (the chart's background and text, header and tab accents) and type size from the theme
    (a style sheet's widgets keep the font they were polished with: the window's scaled font never reaches them)."""
    background, text, dim = (qcolor(c).name() for c in (theme.background, theme.text, theme.text_dim))
    grid = qcolor(theme.grid).name()
    size_pt = base_point_size() * theme.ui_scale
    return (
        f"QWidget {{ background: {background}; color: {text}; font-size: {size_pt:.1f}pt; }}"
        f"QHeaderView::section {{ background: {grid}; color: {dim}; border: none; padding: 2px; }}"
        f"QTableWidget {{ gridline-color: {grid}; }}"
        f"QTabBar::tab {{ background: {background}; color: {dim}; padding: 4px 10px; border: none; }}"
        f"QTabBar::tab:selected {{ color: {text}; border-bottom: 2px solid {qcolor(theme.selection).name()}; }}"
        f"QTabWidget::pane {{ border: none; }}"
    )


def figures_html(cells: tuple[tuple[str, str], ...], window_s: float) -> str:
    """A row of named figures for the window, as the panels head them."""
    head = "".join(f"<td style='padding-right:12px'>{name}</td>" for name, _ in cells)
    values = "".join(f"<td style='padding-right:12px'><b>{value}</b></td>" for _, value in cells)
    return f"<table><tr>{head}</tr><tr>{values}</tr></table><small>last {window_s:.0f} s</small>"


class DrillDownPanel(QWidget):
    """A panel on one selected thing of the chart (a subclass says which and what to ask of the details).

    It reads what is selected from `selection` (the window's, shared with the chart and the trace view) and
    refreshes at once when the parts of it it shows (`FOLLOWS`) change.

    `details` is a drill-down store or the ingest worker's client (None: the source has no spans).
    The details of the current window are queried in a background job when the selection, the
    window or the data change (live: at most every `DETAILS_INTERVAL_S`); `refresh()` is cheap
    when nothing changed.
    """

    trace_chosen = Signal(str)  # hex trace id
    FOLLOWS: frozenset[str] = frozenset()  # the parts of the selection this panel shows

    def __init__(
        self, model: FlowChartModel, selection: Selection, details: object | None, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.selection = selection
        self.details = details
        self.figures_of: Any = None
        self.details_error = ""
        self._seen: tuple | None = None
        self._theme: Theme | None = None
        self._job = BackgroundJob(f"flowviz-{type(self).__name__}")
        self._key: tuple | None = None
        self._started_at = 0.0
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.figures = QLabel(self)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.history = HistoryPlots(model, self)
        self.tabs = QTabWidget(self)
        # consumer groups' partitions at the cursor: a tab shown while the selection has any
        self.partitions = PartitionTable(
            PartitionTableModel(model.store.consumer_lag, lambda: model.time.cursor_ns), model.theme, self
        )
        self._partitions_selected: tuple | None = None
        self._under_figures: tuple[QWidget, ...] = ()
        self.setMinimumWidth(420)
        selection.subscribe(self._selection_changed)

    def _selection_changed(self, changed: frozenset[str]) -> None:
        if changed & self.FOLLOWS:
            self.refresh()

    def _lay_out(self, *under_figures: QWidget) -> None:
        """Title, figures and notes at fixed heights (their texts change with the data: the charts and the
        tab bar under them must not move under the cursor), then the history and the tabs."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._under_figures = under_figures
        self._fit_heights()
        for widget in (self.title, self.figures, *under_figures):
            layout.addWidget(widget)
        layout.addWidget(self.history, 3)
        layout.addWidget(self.tabs, 4)
        self.tabs.setTabVisible(self.tabs.addTab(self.partitions, "Partitions"), False)

    def _fit_heights(self) -> None:
        """Fixed heights from the current type size (a theme's scale changes it)."""
        self.title.ensurePolished()  # the style sheet's type size, before it is first shown
        line_px = self.title.fontMetrics().lineSpacing()
        self.title.setFixedHeight(round(line_px * 1.9))
        self.figures.setFixedHeight(round(line_px * 3.4))
        for widget in self._under_figures:
            if isinstance(widget, QLabel):
                widget.setFixedHeight(round(line_px * 2.3))  # two wrapped lines

    def _traces_tab(self) -> QWidget:
        """The kept traces of the window, by kind; a click opens one (`trace_chosen`)."""
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
        self.traces_note = QLabel(page)
        self.traces_note.setWordWrap(True)
        layout.addWidget(self.traces_note)
        return page

    # -- what a subclass says ------------------------------------------------------------------------

    def _selection(self) -> object:
        """What is selected (None: nothing); a change shows new figures."""
        raise NotImplementedError

    def _follow_selection(self) -> None:
        """Take up what `selection` says now (a new thing chosen: what the panel knew of the last one goes)."""
        raise NotImplementedError

    def _target(self) -> object:
        """What the details are asked about (a name, a pair of names), None when nothing is selected."""
        raise NotImplementedError

    def _query(self, target: object, start_ns: int, end_ns: int, extra: object) -> object:
        """Ask `self.details` (runs off the UI thread)."""
        raise NotImplementedError

    def _query_extra(self) -> object:
        """More that the query depends on (a selected latency range)."""
        return None

    def _partition_selection(self) -> tuple[tuple[str, ...], tuple[str, str] | None]:
        """The names whose consumer-group partitions the Partitions tab shows, and an edge's (source, target)."""
        return (), None

    def _show_figures(self) -> None:
        raise NotImplementedError

    def _show_details(self, figures: object, window_ns: tuple[int, int]) -> None:
        raise NotImplementedError

    def _clear_details(self, text: str) -> None:
        raise NotImplementedError

    def _exemplars_of(self, kind: str) -> list[Exemplar]:
        return self.figures_of.exemplars.get(kind, []) if self.figures_of is not None else []

    # -- updates -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Cheap when nothing changed; the history's band and cursor are always re-placed."""
        self._follow_selection()
        theme = self.model.theme
        if theme is not self._theme:
            self._apply_theme(theme)
        key = (self.model.chart_version, self._selection(), theme.name)
        if key != self._seen:
            if self._seen is not None and self._seen[1] != key[1]:
                self._clear_selection_details()  # nothing of the previous selection may linger
            self._seen = key
            self._show_figures()
        self.history.refresh()
        self._refresh_partitions()
        self._start_details()
        self._take_details()

    def _refresh_partitions(self) -> None:
        selected = self._partition_selection()
        if selected != self._partitions_selected:
            self._partitions_selected = selected
            self.partitions.rows.select(selected[0], pair=selected[1])
        self.partitions.refresh()
        self.tabs.setTabVisible(self.tabs.indexOf(self.partitions), bool(self.partitions.rows.rows))

    def wait_for_details(self, timeout_s: float = 10.0) -> None:
        """Finish the pending background queries and show them (for tests and renders)."""
        self.history.wait(timeout_s)
        self._job.wait(timeout_s)
        self._take_details()

    def _forget_details(self) -> None:
        self.figures_of, self._key = None, None

    def _clear_selection_details(self) -> None:
        """Another selection (or none): empty the tables, histograms and notes until its details arrive."""
        self.details_error = ""
        self.exemplar_table.set_exemplars([])
        self.traces_note.setText("" if self._target() is None else "Looking for kept traces…")
        self._clear_details("")

    def _start_details(self) -> None:
        window, target = self.model.time.window_ns(), self._target()
        if target is None or window is None:
            return
        if self.details is None:
            self._unavailable(NO_DETAILS)
            return
        key = (target, window, self._query_extra(), self.model.store.data_version)
        same = self._key is not None and self._key[:3] == key[:3]
        if key == self._key or (same and time.monotonic() - self._started_at < DETAILS_INTERVAL_S):
            return
        if self._job.start(key, self._query, target, *window, key[2]):
            self._key, self._started_at = key, time.monotonic()

    def _take_details(self) -> None:
        done = self._job.take()
        if done is None:
            return
        key, figures, error = done
        if key[0] != self._target():
            return
        if error is not None:
            self._unavailable(f"Span details unavailable: {error}")
            return
        self.details_error = ""
        self.figures_of = figures
        self._show_details(figures, key[1])
        self._show_exemplars()

    def _unavailable(self, text: str) -> None:
        if text == self.details_error:
            return
        self.details_error = text
        self.figures_of = None
        self.exemplar_table.set_exemplars([])
        self.traces_note.setText(text)
        self._clear_details(text)

    def _show_exemplars(self) -> None:
        if self.figures_of is None:
            return
        kind = self.kind.currentText()
        exemplars = self._exemplars_of(kind)
        self.exemplar_table.set_exemplars(exemplars)
        skipped = int(getattr(self.figures_of, "skipped_spans", 0))
        sampled = f" · catching up, {skipped:,} spans were left out of the kept traces" if skipped else ""
        if any(EXEMPLAR_REASON in e.reasons for e in exemplars):  # a metrics source: ids, not traces
            self.traces_note.setText(
                f"{len(exemplars)} {kind} trace ids Prometheus keeps as exemplars in the window "
                "(their spans are in your tracing backend)"
            )
            return
        self.traces_note.setText(
            f"{len(exemplars)} {kind} traces kept for the window "
            f"(per minute: the slowest, latest failing and latest, and one per latency band){sampled}"
        )

    def _histograms(self) -> tuple[LatencyHistogram, ...]:
        return ()

    def _apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setStyleSheet(panel_style_sheet(theme))
        self._fit_heights()
        self.history.apply_theme(theme)
        self.partitions.set_theme(theme)
        for histogram in self._histograms():
            histogram.apply_theme(theme)
        for table in self.findChildren(TraceTable):
            table.failing_color = qcolor(theme.failing)
