"""The service panel: one service's window figures, history, neighbours, operations, latency histogram and traces."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.latency_bars import bins_text
from flowviz.chart.neighbours import NeighbourRow, neighbour_rows
from flowviz.chart.selection import LATENCY, NODE, Selection
from flowviz.model.graph_kinds import NodeKind
from flowviz.model.time_spec import format_latency_ms
from flowviz.store.detail_queries import ServiceDetails, ServiceQuery
from flowviz.ui.drill_down_panel import EXEMPLAR_LIMIT, DrillDownPanel, figures_html
from flowviz.ui.latency_histogram import LatencyHistogram
from flowviz.ui.tables import figure_table, fill_rows, ms_text
from flowviz.ui.trace_table import TraceTable

TABLE_COLUMNS = ("service", "rate/s", "failure %", "p95 ms", "share")
OPERATION_COLUMNS = ("operation", "rate/s", "failure %", "p50 ms", "p95 ms", "p99 ms")


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


class ServicePanel(DrillDownPanel):
    """The selected service: window figures and critical-path share, history, and tabs for its neighbours,
    operations, latency histogram (a range lists its traces) and kept traces."""

    service_clicked = Signal(int)  # a neighbour's node index
    edge_clicked = Signal(int)  # a neighbour row's edge index (double click)
    FOLLOWS = frozenset({NODE, LATENCY})

    def __init__(
        self,
        model: FlowChartModel,
        selection: Selection,
        details: object | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(model, selection, details, parent)
        self.node: int | None = None  # the node shown (the selection's, once refreshed)
        self.name: str | None = None
        self.selected_bins: tuple[int, int] | None = None  # the selection's latency range, shown
        self.bottleneck = QLabel(self)
        self.bottleneck.setWordWrap(True)
        self.tabs.addTab(self._build_neighbours(), "Neighbours")
        self.tabs.addTab(self._build_operations(), "Operations")
        self.tabs.addTab(self._build_latency(), "Latency")
        self.tabs.addTab(self._traces_tab(), "Traces")
        self._lay_out(self.bottleneck)
        self.refresh()

    # -- building ------------------------------------------------------------------------------------

    def _build_neighbours(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.upstream, self.downstream = _NeighbourTable(page), _NeighbourTable(page)
        self.upstream_label, self.downstream_label = QLabel("Upstream", page), QLabel("Downstream", page)
        # a click goes to the service once it is clear no second click follows (a double click opens the
        # edge of the row clicked, not of a row of the service the first click would have gone to)
        self._pending_row: NeighbourRow | None = None
        self._click_timer = QTimer(self)
        self._click_timer.setSingleShot(True)
        self._click_timer.setInterval(QApplication.doubleClickInterval())
        self._click_timer.timeout.connect(self._row_clicked)
        for label, table in ((self.upstream_label, self.upstream), (self.downstream_label, self.downstream)):
            table.table.cellClicked.connect(lambda r, _c, t=table: self._row_pressed(t.rows[r]))
            table.table.cellDoubleClicked.connect(lambda r, _c, t=table: self._row_double_clicked(t.rows[r]))
            table.table.setToolTip("Click: select that service · double-click: open the edge")
            layout.addWidget(label)
            layout.addWidget(table.table, 1)
        return page

    def _row_pressed(self, row: NeighbourRow) -> None:
        self._pending_row = row
        self._click_timer.start()

    def _row_clicked(self) -> None:
        row, self._pending_row = self._pending_row, None
        if row is not None:
            self.service_clicked.emit(row.node)

    def _row_double_clicked(self, row: NeighbourRow) -> None:
        self._click_timer.stop()
        self._pending_row = None
        self.edge_clicked.emit(row.edge)

    def _build_operations(self) -> QWidget:
        self.operations = figure_table(OPERATION_COLUMNS, self)
        self.operations.setToolTip("Entry spans of the service (SERVER/CONSUMER, or called from elsewhere)")
        return self.operations

    def _build_latency(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        self.histogram = LatencyHistogram(page)
        self.histogram.range_selected.connect(lambda first, last: self.selection.set_latency_range((first, last)))
        self.range_label = QLabel(page)
        self.range_label.setWordWrap(True)
        self.range_traces = TraceTable(page)
        self.range_traces.trace_chosen.connect(self.trace_chosen)
        layout.addWidget(self.histogram, 2)
        layout.addWidget(self.range_label)
        layout.addWidget(self.range_traces, 3)
        return page

    # -- selection -----------------------------------------------------------------------------------

    def _follow_selection(self) -> None:
        node = self.selection.node
        if node != self.node:
            self.node = node
            chart = self.model.chart
            self.name = chart.node_names[node] if chart is not None and node is not None else None
            self.selected_bins = None
            self._forget_details()
            self.histogram.clear_selection()
            self.history.track("node", self.model.store_node(node))
        bins = self.selection.latency_bins
        if bins != self.selected_bins:
            self.selected_bins = bins
            if bins is None:
                self.histogram.clear_selection()
            else:
                self.histogram.show_bins(*bins)
                self.range_label.setText(f"{bins_text(*bins)}: looking…")

    def _selection(self) -> object:
        return self.node

    def _target(self) -> object:
        return self.name

    def _query_extra(self) -> object:
        return self.selected_bins

    def _partition_selection(self) -> tuple[tuple[str, ...], tuple[str, str] | None]:
        return ((self.name,) if self.name else ()), None  # a consumer group, or a topic: all its groups

    def _query(self, target: object, start_ns: int, end_ns: int, extra: object) -> ServiceDetails:
        query = ServiceQuery(str(target), start_ns, end_ns, EXEMPLAR_LIMIT, latency_bins=extra)  # type: ignore[arg-type]
        return self.details.ask(query)

    def _histograms(self) -> tuple[LatencyHistogram, ...]:
        return (self.histogram,)

    # -- showing -------------------------------------------------------------------------------------

    def _show_figures(self) -> None:
        chart, node = self.model.chart, self.node
        if chart is None or node is None or node >= chart.node_count:
            self.title.setText("Select a service in the chart")
            self.figures.setText("")
            self.upstream.set_rows([])
            self.downstream.set_rows([])
            return
        kind = NodeKind(int(chart.node_kind[node])).name.lower()
        self.title.setText(f"<b style='font-size:13pt'>{chart.node_names[node]}</b>  {kind}")
        cells = (
            ("rate/s", f"{chart.node_rate_per_s[node]:.1f}"),
            ("failure", f"{100 * chart.node_error_ratio[node]:.1f} %"),
            ("p50", f"{format_latency_ms(float(chart.node_p50_ms[node]))}"),
            ("p95", f"{format_latency_ms(float(chart.node_p95_ms[node]))}"),
            ("p99", f"{format_latency_ms(float(chart.node_p99_ms[node]))}"),
        )
        self.figures.setText(figures_html(cells, chart.window_s))
        self.upstream.set_rows(neighbour_rows(chart, node, upstream=True))
        self.downstream.set_rows(neighbour_rows(chart, node, upstream=False))
        self.upstream_label.setText(f"Upstream ({len(self.upstream.rows)})")
        self.downstream_label.setText(f"Downstream ({len(self.downstream.rows)})")

    def _show_details(self, figures: object, window_ns: tuple[int, int]) -> None:
        assert isinstance(figures, ServiceDetails)
        window_s = max((window_ns[1] - window_ns[0]) / 1e9, 1e-9)
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
        share, split = figures.critical_path_share, figures.time_split
        self.bottleneck.setText(
            "Critical path: no kept traces in the window"
            if share is None
            else f"Critical path: <b>{100 * share:.0f} %</b> of the time of the window's kept traces through "
            f"{self.name} is spent here"
            + (
                ""
                if split is None
                else f"<br>Its own work: <b>{100 * split.self_share:.0f} %</b> of its time, waiting on what it "
                f"calls {100 - 100 * split.self_share:.0f} % (databases and third-party APIs count for themselves)"
            )
        )

    def _clear_details(self, text: str) -> None:
        fill_rows(self.operations, [])
        self.histogram.set_series([])
        self.range_traces.set_exemplars([])
        self.range_label.setText(text)
        self.bottleneck.setText("")

    def _show_range(self, figures: ServiceDetails) -> None:
        if self.selected_bins is None or figures.in_range is None:
            self.range_traces.set_exemplars([])
            self.range_label.setText("Click a bar of the histogram (or drag the range's edges) to list its traces.")
            return
        calls = int(figures.histogram[self.selected_bins[0] : self.selected_bins[1] + 1].sum())
        self.range_label.setText(
            f"{bins_text(*self.selected_bins)}: {calls:,} calls in the window, "
            f"{len(figures.in_range)} kept traces (fastest first)"
        )
        self.range_traces.set_exemplars(figures.in_range)
