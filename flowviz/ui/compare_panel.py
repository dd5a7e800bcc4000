"""Compare menu, the baseline band on the timeline, and the Changes panel: the window compared with a baseline
window that stays put while the cursor scrubs or plays; the biggest changes ranked, a click selects."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
)

from flowviz.analysis.compare import Change, Comparison, change_rows, compare_windows, node_change_rows
from flowviz.chart.caption import range_text
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.compare_overlay import ComparisonOverlay, chart_row

SECOND_NS = 1_000_000_000
FOLLOW_INTERVAL_S = 0.15  # the window's frame clock has the comparison follow a moving cursor this often
TABLE_INTERVAL_S = 1.0  # the table is refilled at most this often while the window moves
TABLE_ROWS = 200
_COLUMNS = ("score", "change", "what", "rate /s", "failed %", "p95 ms")


def _pair(values, scale: float = 1.0, digits: int = 3) -> str:
    before, after = (None if v != v else v * scale for v in values)  # NaN -> None
    return " → ".join("–" if v is None else f"{v:.{digits}g}" for v in (before, after))


class _Item(QTableWidgetItem):
    """A table cell that sorts by a number when it has one."""

    def __init__(self, text: str, key: float | None = None) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _Item) and self.key is not None and other.key is not None:
            return self.key < other.key
        return super().__lt__(other)


class CompareController(QObject):
    """Owns the baseline of one window: `set_baseline(start_ns, end_ns)` starts comparing, `clear()` stops."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.model, self.view = window.model, window.view
        self.baseline: tuple[int, int] | None = None
        self.comparison: Comparison | None = None
        self.overlay = ComparisonOverlay(self.model)
        self._seen: tuple | None = None
        self._table_at = 0.0
        self._table_of: Comparison | None = None  # the comparison the table shows
        self._build_band()
        self._build_dock()
        self._build_menu()
        window.on_frame(FOLLOW_INTERVAL_S, self.refresh)  # cheap while not comparing or nothing moved

    # -- pieces ----------------------------------------------------------------------------------

    def _build_band(self) -> None:
        theme = self.model.theme
        self.band = pg.LinearRegionItem(movable=True, brush=pg.mkBrush(qcolor(theme.healthy, 45)))
        for line in self.band.lines:
            line.setPen(pg.mkPen(qcolor(theme.healthy, 200), width=1))
        self.band.setZValue(4)
        self.band.setToolTip("Baseline: drag it or its edges; the chart compares the window with it")
        self.band.sigRegionChangeFinished.connect(self._band_moved)
        self.band.hide()
        self.window.strip.plot.addItem(self.band)

    def _build_dock(self) -> None:
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)
        self.table.cellClicked.connect(self._row_clicked)
        self.dock = QDockWidget("Changes vs baseline", self.window)
        self.dock.setObjectName("changes_dock")
        self.dock.setWidget(self.table)
        self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()

    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = QMenu("&Compare", self.window)
        bar.insertMenu(help_menu, menu) if help_menu is not None else bar.addMenu(menu)  # Help stays last
        before = QAction("Baseline: the &minutes before the window…", self.window)
        before.setShortcut(QKeySequence("Ctrl+B"))
        before.triggered.connect(self._ask_minutes_before)
        loop = QAction("Baseline: the &loop range (Shift+drag on the timeline)", self.window)
        loop.triggered.connect(self._use_loop)
        stop = QAction("&Stop comparing", self.window)
        stop.triggered.connect(self.clear)
        for action in (before, loop, stop):
            menu.addAction(action)
        self.menu, self.stop_action = menu, stop
        stop.setEnabled(False)

    # -- commands ----------------------------------------------------------------------------------

    def baseline_before(self, minutes: float) -> None:
        """Compare with the `minutes` before the current window's start (it stays there as the cursor moves)."""
        window = self.model.time.window_ns()
        if window is not None:
            self.set_baseline(window[0] - round(minutes * 60 * SECOND_NS), window[0])

    def set_baseline(self, start_ns: int, end_ns: int) -> None:
        if end_ns <= start_ns:
            return
        self.baseline = (int(start_ns), int(end_ns))
        self.band.blockSignals(True)
        self.band.setRegion((start_ns / SECOND_NS, end_ns / SECOND_NS))
        self.band.blockSignals(False)
        self.band.show()
        self.view.overlay = self.overlay
        self.dock.setWindowTitle(f"Changes vs baseline {range_text(*self.baseline)}")
        self.dock.show()
        self.stop_action.setEnabled(True)
        self._seen = None
        self._table_at = 0.0
        self.refresh()

    def clear(self) -> None:
        self.baseline = self.comparison = None
        self.overlay.comparison = None
        self.view.overlay = None
        self.band.hide()
        self.dock.hide()
        self.stop_action.setEnabled(False)
        self.view.update()

    def refresh(self) -> None:
        """On the frame clock: compare again when the window, the data or the baseline changed (the baseline stays
        put); the table follows at most every `TABLE_INTERVAL_S`, and catches up once the window rests."""
        window = self.model.time.window_ns()
        if self.baseline is None or window is None:
            return
        key = (self.model.store.data_version, window, self.baseline)
        if key != self._seen:
            self._seen = key
            self.comparison = compare_windows(self.model.store, self.baseline, window)
            self.overlay.comparison = self.comparison
            self.view.update()
        now = time.monotonic()
        if self._table_of is not self.comparison and now - self._table_at >= TABLE_INTERVAL_S:
            self._table_at, self._table_of = now, self.comparison
            self._fill_table(self.comparison)

    # -- table -------------------------------------------------------------------------------------

    def rows(self, comparison: Comparison) -> list[tuple[str, int, float]]:
        """(kind, index, score) of the biggest changes, edges and nodes together, highest score first."""
        rows = [("edge", int(e), float(comparison.edges.score[e])) for e in comparison.edges.ranked()]
        rows += [("node", int(n), float(comparison.nodes.score[n])) for n in comparison.nodes.ranked()]
        return sorted(rows, key=lambda r: -r[2])[:TABLE_ROWS]

    def _fill_table(self, comparison: Comparison) -> None:
        names = comparison.node_names
        selected = self._selected_key()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        rows = self.rows(comparison)
        self.table.setRowCount(len(rows))
        for row, (kind, index, score) in enumerate(rows):
            changes = comparison.edges if kind == "edge" else comparison.nodes
            if kind == "edge":
                what = f"{names[int(comparison.edge_source[index])]} → {names[int(comparison.edge_target[index])]}"
            else:
                what = names[index]
            before, after = changes.before, changes.after
            cells = (
                _Item(f"{score:.1f}", score),
                _Item(Change(int(changes.change[index])).label),
                _Item(what),
                _Item(_pair((before.rate_per_s[index], after.rate_per_s[index])), after.rate_per_s[index]),
                _Item(_pair((before.error_ratio[index], after.error_ratio[index]), 100.0)),
                _Item(_pair((before.p95_ms[index], after.p95_ms[index]))),
            )
            cells[0].setData(Qt.ItemDataRole.UserRole, (kind, index))
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
            if (kind, index) == selected:
                self.table.selectRow(row)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.DescendingOrder)
        self.table.resizeColumnsToContents()

    def _selected_key(self) -> tuple[str, int] | None:
        items = self.table.selectedItems()
        row = items[0].row() if items else None
        return self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) if row is not None else None

    def _row_clicked(self, row: int, _column: int) -> None:
        kind, index = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        shown = chart_row(self.model, index, edges=kind == "edge")  # grouped or filtered away: None
        if shown is None:
            self.window.statusBar().showMessage("Not shown on its own in the chart (grouped or filtered)", 4000)
        elif kind == "edge":
            self.view.select_edge(shown)
        else:
            self.view.select(shown, center=True)

    # -- menu handlers ---------------------------------------------------------------------------

    def _ask_minutes_before(self) -> None:
        window = self.model.time.window_ns()
        if window is None:
            return
        default = max(1, round((window[1] - window[0]) / SECOND_NS / 60))
        minutes, accepted = QInputDialog.getInt(
            self.window, "Compare", "Baseline: how many minutes before the window?", default, 1, 24 * 60
        )
        if accepted:
            self.baseline_before(minutes)

    def _use_loop(self) -> None:
        loop = self.model.time.loop
        if loop is None:
            QMessageBox.information(
                self.window, "Compare", "Brush a range on the timeline first: Shift+drag marks the loop range."
            )
            return
        self.set_baseline(loop.start_ns, loop.end_ns)

    def _band_moved(self) -> None:
        start_s, end_s = self.band.getRegion()
        self.set_baseline(round(start_s * SECOND_NS), round(end_s * SECOND_NS))

    def export_tables(self) -> dict[str, object]:
        """`changes` and `node_changes` for File ▸ Export ▸ Tables, when comparing."""
        if self.comparison is None:
            return {}
        return {"changes": change_rows(self.comparison), "node_changes": node_change_rows(self.comparison)}
