"""The partition table of a panel: a consumer group's partitions at the cursor (offset, end, lag in messages and
time, trend, state, owner), sortable by a header click, updated with each look, coloured by the theme."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from flowviz.analysis.partition_rows import COLUMNS, PartitionTableModel
from flowviz.chart.themes import Theme
from flowviz.ui.chart_painter import qcolor

STATE_COLUMN, PARTITION_COLUMN = COLUMNS.index("state"), COLUMNS.index("partition")
TEXT_COLUMNS = {COLUMNS.index("group"), COLUMNS.index("topic"), STATE_COLUMN, COLUMNS.index("owner")}
TOOLTIPS = {
    "offset": "the group's committed offset: the next message it will consume",
    "end": "the partition's end offset (high watermark)",
    "lag": "messages written and not yet consumed by the group",
    "lag time": "how old the oldest unconsumed message is",
    "trend": "lag change: ↑ growing (falling behind), ↓ shrinking (catching up)",
    "state": "Burrow's evaluation over the last looks: ok, warning, stalled, stopped, rewound, no consumers",
    "owner": "the group member that owns the partition (when the broker describes the group)",
}


def state_colors(theme: Theme) -> dict[str, QColor]:
    """Text colour of each consumer state: ok healthy, warning and rewound degraded, stalled and stopped failing."""
    return {
        "ok": qcolor(theme.healthy),
        "warning": qcolor(theme.degraded),
        "rewound": qcolor(theme.degraded),
        "no consumers": qcolor(theme.text_dim),
        "stalled": qcolor(theme.failing),
        "stopped": qcolor(theme.failing),
    }


class PartitionItemModel(QAbstractTableModel):
    """Qt's view of a `PartitionTableModel` (which keeps the rows and their order)."""

    def __init__(self, rows: PartitionTableModel, theme: Theme) -> None:
        super().__init__()
        self.rows = rows
        self.colors = state_colors(theme)
        self.hot_color = qcolor(theme.degraded)
        self._version = -1

    def set_theme(self, theme: Theme) -> None:
        self.colors, self.hot_color = state_colors(theme), qcolor(theme.degraded)
        self._reset()

    def refresh(self) -> bool:
        """Take the model's new rows (after a look, a scrub, a new selection); True when they changed."""
        self.rows.refresh()
        if self.rows.version == self._version:
            return False
        self._reset()
        return True

    def _reset(self) -> None:
        self.beginResetModel()
        self._version = self.rows.version
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TOOLTIPS.get(COLUMNS[section])
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows.rows):
            return None
        row, column = self.rows.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.texts()[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == STATE_COLUMN:
                return self.colors.get(row.state)
            if column == PARTITION_COLUMN and row.hot:
                return self.hot_color
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column not in TEXT_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == PARTITION_COLUMN and row.hot:
            return "hot: written much faster than the topic's other partitions"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self.rows.sort(column, descending=order == Qt.SortOrder.DescendingOrder)
        self._version = self.rows.version
        self.layoutChanged.emit()


class PartitionTable(QWidget):
    """A line saying how many partitions and what lag, over the table; sorting by a header click."""

    def __init__(self, rows: PartitionTableModel, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item_model = PartitionItemModel(rows, theme)
        self.summary = QLabel(self)
        self.table = QTableView(self)
        self.table.setModel(self.item_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)  # by group, topic, partition until a click
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.sectionClicked.connect(lambda _section: header.setSortIndicatorShown(True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    @property
    def rows(self) -> PartitionTableModel:
        return self.item_model.rows

    def refresh(self) -> None:
        if self.item_model.refresh():
            self.summary.setText(self.rows.summary() or "No consumer group partitions for this selection.")
            hidden = self.rows.constant_columns()
            for column in range(len(COLUMNS)):
                self.table.setColumnHidden(column, column in hidden)
            self.table.resizeRowsToContents()

    def set_theme(self, theme: Theme) -> None:
        self.item_model.set_theme(theme)
