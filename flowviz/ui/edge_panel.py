"""The edge panel: one edge's window figures and history, client- vs server-side latency, calls by status, traces."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flowviz.analysis.edge_sides import payload_text, side_gap_text
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import EDGE, Selection
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.time_spec import format_latency_ms
from flowviz.store.detail_queries import EdgeDetailFigures, EdgeQuery
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.drill_down_panel import EXEMPLAR_LIMIT, DrillDownPanel, figures_html
from flowviz.ui.latency_histogram import LatencyHistogram
from flowviz.ui.tables import figure_table, fill_rows, ms_text

SIDE_COLUMNS = ("side", "calls", "p50 ms", "p95 ms", "p99 ms")
STATUS_COLUMNS = ("status", "calls", "failed", "share")


class EdgePanel(DrillDownPanel):
    """The selected edge (chart/store edge index): window figures, history, client vs server latency, calls
    by status, kept traces. Clicking an end's name in the title selects that service."""

    service_clicked = Signal(int)
    FOLLOWS = frozenset({EDGE})

    def __init__(
        self,
        model: FlowChartModel,
        selection: Selection,
        details: object | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(model, selection, details, parent)
        self.edge: int | None = None  # the edge shown (the selection's, once refreshed)
        self.ends: tuple[str, str] | None = None
        self.title.linkActivated.connect(lambda link: self.service_clicked.emit(int(link)))
        self.tabs.addTab(self._build_sides(), "Client vs server")
        self.statuses = figure_table(STATUS_COLUMNS, self)
        self.tabs.addTab(self.statuses, "Statuses")
        self.tabs.addTab(self._traces_tab(), "Traces")
        self._lay_out()
        self.refresh()

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

    # -- selection -----------------------------------------------------------------------------------

    def _follow_selection(self) -> None:
        edge = self.selection.edge
        if edge != self.edge:
            chart = self.model.chart
            self.edge = edge
            self.ends = None
            if chart is not None and edge is not None and edge < chart.edge_count:
                names = chart.node_names
                self.ends = (names[int(chart.edge_source[edge])], names[int(chart.edge_target[edge])])
            self._forget_details()
            self.history.track("edge", self.model.store_edge(edge))

    def _selection(self) -> object:
        return self.edge

    def _target(self) -> object:
        return self.ends

    def _partition_selection(self) -> tuple[tuple[str, ...], tuple[str, str] | None]:
        chart, edge = self.model.chart, self.edge
        if self.ends is None or chart is None or edge is None or edge >= chart.edge_count:
            return (), None
        via = chart.edge_via[edge]  # a service → service call through a topic: that topic's groups
        return (*self.ends, via) if via else self.ends, self.ends

    def _query(self, target: object, start_ns: int, end_ns: int, extra: object) -> EdgeDetailFigures:
        source, target_name = target  # type: ignore[misc]
        return self.details.ask(EdgeQuery(source, target_name, start_ns, end_ns, EXEMPLAR_LIMIT))

    def _histograms(self) -> tuple[LatencyHistogram, ...]:
        return (self.histogram,)

    # -- showing -------------------------------------------------------------------------------------

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
            ("p50", f"{format_latency_ms(float(chart.edge_p50_ms[edge]))}"),
            ("p95", f"{format_latency_ms(float(chart.edge_p95_ms[edge]))}"),
            ("p99", f"{format_latency_ms(float(chart.edge_p99_ms[edge]))}"),
        )
        self.figures.setText(figures_html(cells, chart.window_s))

    def _show_details(self, figures: object, window_ns: tuple[int, int]) -> None:
        assert isinstance(figures, EdgeDetailFigures)
        theme = self.model.theme
        client, server = figures.sides["client"], figures.sides["server"]
        self.histogram.set_series(
            [
                ("client (caller)", client.histogram, theme.degraded),
                ("server (callee)", server.histogram, theme.healthy),
            ]
        )
        fill_rows(
            self.sides,
            [
                (name, f"{side.calls:,}", ms_text(side.p50_ms), ms_text(side.p95_ms), ms_text(side.p99_ms))
                for name, side in (("client (caller)", client), ("server (callee)", server))
            ],
        )
        self.gap.setText(" ".join(t for t in (payload_text(figures.payload), side_gap_text(figures.sides)) if t))
        total = sum(status.calls for status in figures.statuses)
        fill_rows(
            self.statuses,
            [
                (s.label, f"{s.calls:,}", f"{s.failures:,}", f"{100 * s.calls / total:.1f} %" if total else "–")
                for s in figures.statuses
            ],
        )

    def _clear_details(self, text: str) -> None:
        self.histogram.set_series([])
        fill_rows(self.sides, [])
        fill_rows(self.statuses, [])
        self.gap.setText(text)
